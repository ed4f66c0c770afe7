"""``data.transcripts=<csv>``: clips and what is said in them, for speech to text (no TensorFlow).

The CSV has a ``file`` column (a WAV path, relative to ``data.path`` unless absolute) and a
``text`` column. Rows are split into train and test by a fixed seeded draw of
``data.test_fraction`` (the test set never moves between runs), or, when the CSV has a ``split``
column, by its ``train`` and ``test`` values (as an audio folder's ``train/`` and ``test/``): a
user who must score speakers the model never heard puts theirs under ``test``. The alphabet is every character
of the training transcripts, sorted; label ``i`` is ``alphabet[i - 1]`` and 0 is CTC's blank
(and the padding of shorter transcripts). A row whose file is missing, or a test transcript
with characters the training ones lack, stops the run with one paragraph, unless
``data.on_bad_file=skip`` (then such rows are left out and counted).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bmrun.errors import DataError

TEST_SPLIT_SEED = 20240601  # as for image and audio folders: the test set never moves


@dataclass
class TranscriptLayout:
    """The clips of a transcripts file.

    Attributes:
        root: The folder files are relative to.
        alphabet: The training transcripts' characters, sorted.
        splits: ``{"train"|"test": (paths, texts)}``.
        skipped: Rows left out under ``data.on_bad_file=skip``, with why.
    """

    root: Path
    alphabet: tuple[str, ...]
    splits: dict
    skipped: list = field(default_factory=list)

    def class_names(self) -> tuple[str, ...]:
        return ("",) + self.alphabet


def read_transcripts(root: str, transcripts: str, test_fraction: float, on_bad_file: str) -> TranscriptLayout:
    """Read and check ``transcripts`` (see the module docstring).

    Raises:
        DataError: No such file, missing columns, no rows, a missing clip, or test characters
            outside the training alphabet (unless skipped).
    """
    base = Path(root).expanduser()
    table = Path(transcripts).expanduser()
    table = table if table.is_absolute() else base / table
    if not table.is_file():
        raise DataError(f"data.transcripts={transcripts}: no such file (looked for {table}). It is a CSV with "
                        f"the columns file and text, one row per clip.")
    with open(table, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "text"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{table}: needs the columns file and text; it lacks {', '.join(sorted(missing))} "
                            f"(its header: {', '.join(reader.fieldnames or ()) or 'empty'}).")
        given = "split" in (reader.fieldnames or ())
        rows = [(row["file"] or "", row["text"] or "", (row["split"] or "").strip() if given else "")
                for row in reader]
    skipped = []
    kept, splits = [], []
    for number, (name, text, split) in enumerate(rows, start=2):
        if given and split not in ("train", "test"):
            raise DataError(f"{table}, line {number}: the split column says {split!r}; it must be train or test "
                            f"(or drop the column for a seeded data.test_fraction split).")
        path = Path(name).expanduser()
        path = path if path.is_absolute() else base / path
        if not name or not path.is_file():
            _bad(f"{table}, line {number}: the clip {name or '(empty)'} does not exist (looked for {path})",
                 on_bad_file, skipped)
            continue
        kept.append((str(path), text))
        splits.append(split)
    if len(kept) < 2:
        raise DataError(f"{table} lists {len(kept)} readable clips; speech to text needs a train and a test split.")
    if given:
        train = [i for i, s in enumerate(splits) if s == "train"]
        test = [i for i, s in enumerate(splits) if s == "test"]
        if not train or not test:
            raise DataError(f"{table}: its split column puts {len(train)} readable clips in train and {len(test)} in "
                            f"test; both need at least one.")
    else:
        order = np.random.default_rng(TEST_SPLIT_SEED).permutation(len(kept))
        n_test = max(1, int(round(len(kept) * test_fraction)))
        test, train = sorted(order[:n_test]), sorted(order[n_test:])
    alphabet = tuple(sorted({c for i in train for c in kept[i][1]}))
    known = set(alphabet)
    test_rows = []
    for i in test:
        outside = sorted(set(kept[i][1]) - known)
        if outside:
            _bad(f"{table}: the test transcript of {kept[i][0]} has characters no training transcript has "
                 f"({' '.join(repr(c) for c in outside)}), which the model cannot write", on_bad_file, skipped)
            continue
        test_rows.append(i)
    if not test_rows:
        raise DataError(f"{table}: no test transcript is left to score.")
    splits = {name: (np.array([kept[i][0] for i in idx]), [kept[i][1] for i in idx])
              for name, idx in (("train", train), ("test", test_rows))}
    return TranscriptLayout(base, alphabet, splits, skipped)


def _bad(message: str, on_bad_file: str, skipped: list) -> None:
    if on_bad_file == "error":
        raise DataError(f"{message}. Fix the row, or pass data.on_bad_file=skip to leave such rows out.")
    skipped.append(message)


def encode(texts, alphabet: tuple[str, ...]) -> np.ndarray:
    """Transcripts as ``(n, longest)`` int32 label ids (1-based), right-padded with 0."""
    index = {c: i + 1 for i, c in enumerate(alphabet)}
    longest = max((len(t) for t in texts), default=1) or 1
    labels = np.zeros((len(texts), longest), np.int32)
    for row, text in enumerate(texts):
        labels[row, :len(text)] = [index[c] for c in text]
    return labels
