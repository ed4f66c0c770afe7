"""``bmrun-predict <run> --text "..."`` for a text-pair run: each source decoded to its output text.

The texts are split into tokens and ids with the run's own vocabulary (saved in the model's
``columns``: :mod:`bmrun.data.tokens`), cut to the model's source width (as training cut them),
and decoded greedily or with a beam search of ``--beam-width`` beams
(:mod:`bmrun.tasks.decoding`), each output cut at its end token.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from bmrun.errors import DataError

log = logging.getLogger("bmrun")


def read_lines(paths: Sequence[str]) -> list[str]:
    """The non-empty lines of each ``--file`` (UTF-8 text, one source per line).

    Raises:
        DataError: A file is missing or is not UTF-8 text.
    """
    lines = []
    for name in paths:
        path = Path(name).expanduser()
        if not path.is_file():
            raise DataError(f"{name}: no such file (--file reads one text per line).")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            raise DataError(f"{name}: bytes that are not UTF-8 at offset {error.start}; --file reads UTF-8 text, "
                            f"one text per line (convert it, e.g. `iconv -f latin1 -t utf-8`).") from None
        lines += [line.strip() for line in text.splitlines() if line.strip()]
    return lines


def translate(run, texts: Sequence[str], beam_width: int = 1) -> list[dict[str, Any]]:
    """``{"input": source, "output": decoded text}`` for each of ``texts``.

    Raises:
        DataError: No texts, or an empty one.
    """
    # TensorFlow-side: only when sources are decoded, never at --help
    from bmrun.data.tokens import encode
    from bmrun.tasks.seq2seq import Seq2Seq
    from bmrun.tasks.vocabulary import split_tokens

    if not texts:
        raise DataError("this run writes text from text: give the sources with --text \"...\" (repeatable) or "
                        "--file lines.txt (one per line).")
    if any(not t.strip() for t in texts):
        raise DataError("an empty --text: every source needs at least one character.")
    columns = run.model.columns
    width = int(run.model.example_shape[0]) - 1  # the source's ids, then its end token
    ids, cut = encode(list(texts), columns["vocabulary"], columns["tokens"], width, start=False)
    if cut:
        log.warning("%d text(s) longer than the model's %d source %s tokens were cut", cut, width, columns["tokens"])
    vocabulary = set(columns["vocabulary"])
    outputs = Seq2Seq.decode(run.model, ids, columns, beam_size=beam_width)
    records = []
    for text, output in zip(texts, outputs):
        unknown = sorted({t for t in split_tokens(text, columns["tokens"]) if t not in vocabulary})
        record = {"input": text, "output": output}
        if unknown:  # read as <unk>: the output may be wrong for a reason the user can see
            record["unknown tokens"] = " ".join(unknown)
        records.append(record)
    return records
