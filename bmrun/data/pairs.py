"""Text pairs for sequence to sequence (``data=csv data.source=<col> data.target_text=<col>``).

A CSV file with a header names its two text columns; ``data.format=tsv`` reads the headerless
two-column files that Tatoeba and Anki ship (source first, target second; a third column, such
as Anki's attribution, is refused with the command that drops it). Rows are kept as strings
here: :mod:`bmrun.data.tokens` fits the vocabulary on the training split only and encodes every
split, so nothing from the validation or test rows reaches the vocabulary.

Every problem is one :class:`~bmrun.errors.DataError` naming the file and line: a missing
column, an empty source or target, bytes that are not UTF-8 (a file mixing encodings), a row
with the wrong number of fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bmrun.data import csv_reader as reader
from bmrun.data.arrays import RawData
from bmrun.errors import ConfigError, DataError
from bmrun.rules import at_least, choice
from bmrun.specs import SEQ2SEQ, TOKEN_PAIRS, InputSpec, TaskSpec


def check_pair_keys(cfg: Any) -> None:
    """The text-pair keys of ``data=csv`` (checked on every csv config: their choices are fixed)."""
    choice("format", cfg.format, ("csv", "tsv"))
    choice("tokens", cfg.tokens, ("char", "word"))
    choice("on_long", cfg.on_long, ("truncate", "error"))
    at_least("max_length", cfg.max_length, 1)
    if cfg.format == "tsv" and not cfg.target_text:
        raise ConfigError("format", "data.format=tsv reads text pairs: add data.target_text=<name of the target "
                                    "side> (e.g. data.target_text=fr)")
    if cfg.target_text and cfg.target:
        raise ConfigError("target_text", f"data.target={cfg.target} predicts a column's label or value, "
                                         f"data.target_text={cfg.target_text} writes text: give one of them")
    if cfg.target_text and cfg.text:
        raise ConfigError("text", f"data.text={cfg.text} classifies one text column; text pairs read data.source "
                                  f"and data.target_text: drop data.text")


def pair_specs(cfg: Any) -> tuple[TaskSpec, InputSpec]:
    """The task and input specs of a pairs config, known without reading the file.

    The vocabulary is fitted later on the training split (:func:`bmrun.data.tokens.encode_splits`),
    which fills in the class count (the target vocabulary) and the input's vocabulary size.
    """
    return TaskSpec(SEQ2SEQ), InputSpec(TOKEN_PAIRS, (int(cfg.max_length) + 1,))


def load_pairs(cfg: Any) -> RawData:
    """Read ``data.path`` (and ``data.test_path``) into source and target strings.

    Returns:
        RawData whose ``x`` are source strings and ``y`` target strings (object arrays), with
        ``columns`` saying how to tokenize them (fitted in ``prepare()``).
    """
    sources, targets = read_pairs(Path(cfg.path), cfg)
    if cfg.test_path:
        test_sources, test_targets = read_pairs(Path(cfg.test_path), cfg)
        x_train, y_train, x_test, y_test = sources, targets, test_sources, test_targets
    else:
        order = np.random.default_rng(cfg.split_seed).permutation(len(sources))
        n_test = int(round(len(sources) * cfg.test_fraction))
        if n_test == 0 or n_test == len(sources):
            raise DataError(f"{cfg.path}: {len(sources)} pairs cannot be split into train and test with "
                            f"data.test_fraction={cfg.test_fraction}; give more pairs or data.test_path.")
        test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
        x_train, y_train, x_test, y_test = sources[train], targets[train], sources[test], targets[test]
    layout = {"source": cfg.source or "source", "target_text": cfg.target_text, "tokens": cfg.tokens,
              "max_length": int(cfg.max_length), "on_long": cfg.on_long, "vocab_size": int(cfg.vocab_size)}
    return RawData(x_train, y_train, x_test, y_test, columns=layout,
                   notes=f"{len(x_train)} train / {len(x_test)} test pairs, {cfg.tokens} tokens")


def read_pairs(path: Path, cfg: Any) -> tuple[np.ndarray, np.ndarray]:
    """One file's source and target strings (object arrays), every row checked."""
    if cfg.format == "tsv":
        rows, lines = _read_tsv(path)
        where = "column 1", "column 2"
    else:
        table = reader.read_table(path, cfg.delimiter)
        if not cfg.source:
            raise DataError(f"{path}: data.target_text={cfg.target_text} makes a sequence-to-sequence task, which "
                            f"also needs data.source=<column> (the text to translate); the header has: "
                            f"{', '.join(table.names)}.")
        rows = list(zip(table.require(cfg.source, "source"), table.require(cfg.target_text, "target_text")))
        lines = table.lines
        where = f"the source {cfg.source!r}", f"the target {cfg.target_text!r}"
    if not rows:
        raise DataError(f"{path}: no pairs in the file.")
    for (source, target), line in zip(rows, lines):
        for side, text in ((where[0], source), (where[1], target)):
            if not text.strip():
                raise DataError(f"{path}, line {line}: {side} is empty; every pair needs both texts (remove the "
                                f"line, or fill it in).")
    return (np.array([s for s, _ in rows], dtype=object), np.array([t for _, t in rows], dtype=object))


def _read_tsv(path: Path) -> tuple[list[tuple[str, str]], list[int]]:
    """A headerless two-column tab-separated file, line by line (the line of any bad bytes)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file (data.path names a local TSV of pairs).")
    rows, lines = [], []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}, line {number}: bytes that are not UTF-8 ({raw[error.start:error.end]!r}); "
                                f"the file is in another encoding (such as Latin-1) or mixes encodings. Convert it, e.g. "
                                f"`iconv -f latin1 -t utf-8`, or fix that line.") from None
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            fields = text.split("\t")
            if len(fields) != 2:
                hint = " (Anki/Tatoeba files add an attribution: keep two with `cut -f1,2 file.tsv`)" \
                    if len(fields) > 2 else ""
                raise DataError(f"{path}, line {number}: {len(fields)} tab-separated columns; data.format=tsv reads "
                                f"exactly two, source then target{hint}.")
            rows.append((fields[0].strip(), fields[1].strip()))
            lines.append(number)
    return rows, lines
