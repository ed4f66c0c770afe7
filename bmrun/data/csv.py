"""``data=csv data.path=<file> data.target=<column>``: your own table, or one text column.

The file is parsed by :mod:`bmrun.data.csv_reader` (column kinds inferred or declared); this
module turns it into a dataset: the task from the target column (strings or few integers are
classes, other numbers regression; ``data.task`` overrides), a test split (``data.test_path``,
else a stratified ``data.test_fraction`` of the rows, fixed by ``data.split_seed``) and raw
columns for the model. Nothing is scaled or encoded here: ``prepare()`` fits the statistics and
vocabularies on the training split (:mod:`bmrun.data.columns`) and the model applies them in
its own layers, so a saved model takes raw column values.

``data.text=<column>`` makes a text dataset instead: that column's strings are the input (a
vocabulary of ``data.vocab_size`` words, ``data.max_len`` tokens), the other columns but the
target are ignored.

``data.images=[photo]`` (image paths) or a list ``data.text=[title, ...]`` makes one table of
several modalities: images, texts and the other columns side by side, for ``model=multimodal``
(:mod:`bmrun.data.csv_modalities`).
``data.target_text=<column>`` (with ``data.source=<column>``, or ``data.format=tsv``) makes a
sequence-to-sequence dataset of text pairs: :mod:`bmrun.data.pairs` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

import numpy as np

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.data import csv_modalities as modal, csv_reader as reader
from bmrun.data.arrays import RawData
from bmrun.data.csv_target import stratified_split, target_labels
from bmrun.data.catalog import BINARY, MULTICLASS, REGRESSION, TABLE, TEXT, InputSpec, TaskSpec
from bmrun.data.columns import column_keys
from bmrun.data.dataset import DataConfig
from bmrun.data.pairs import check_pair_keys, load_pairs, pair_specs
from bmrun.errors import ConfigError, DataError
from bmrun.specs import MULTIMODAL
from bmrun.fairness.groups import check_sensitive, group_values


@dataclass
class CsvConfig(DataConfig):
    """``data=csv``.

    Attributes:
        target: The column to predict.
        test_path: A CSV file with the same columns to test on; else ``test_fraction`` of the rows.
        test_fraction: Share of the rows held out for testing (stratified by class).
        split_seed: Seed of that split (fixed, so runs with different seeds share a test set).
        task: ``auto`` (from the target's values), ``binary``, ``multiclass`` or ``regression``.
        categorical, numeric: Columns whose inferred kind you override.
        drop: Columns to leave out of the model's inputs (a ``data.sensitive`` column listed here
            is still read for the fairness metrics).
        text: One free-text column to model alone (a text dataset), or a list of text columns
            beside the table's other columns (several modalities).
        images: Columns of image paths, relative to the CSV's folder (several modalities).
        image_size: ``[height, width]`` images are resized to (default: the first image's size).
        memory_budget: Largest decoded size of the image columns held in memory; above it they are
            streamed (decoded from their files every epoch).
        on_bad_file: A missing or unreadable image file: ``missing`` (the row has no image) or ``error``.
        drop_modality: ``none``, or ``image``, ``text``, ``table``: train without that modality.
        vocab_size: Words in the text vocabulary (with padding and out-of-vocabulary ids).
        max_len: Tokens per text (cut or padded).
        delimiter: Field separator; where a file's header holds none, ``;``, tab or ``|`` is
            taken instead (with a note).
        source, target_text: Text pairs (sequence to sequence): the column to read and the one
            to write (see :mod:`bmrun.data.pairs`).
        format: ``csv`` (a header names the columns) or ``tsv`` (two headerless columns, source
            then target, as Tatoeba/Anki ship them).
        tokens: Text pairs: ``char`` or ``word`` tokens.
        max_length: Text pairs: tokens per text, both sides (longer texts are cut and counted).
        on_long: Text pairs: ``truncate`` texts longer than ``max_length``, or ``error``.
    """

    batch_size: int = 0  # 0 (auto): 64 for a table, 128 for text pairs
    target: str = ""
    test_path: Optional[str] = None
    test_fraction: float = 0.2
    split_seed: int = 0
    task: str = "auto"
    categorical: List[str] = field(default_factory=list)
    numeric: List[str] = field(default_factory=list)
    drop: List[str] = field(default_factory=list)
    text: Any = None  # a column, or a list of columns beside the table's (several modalities)
    images: List[str] = field(default_factory=list)
    image_size: Optional[List[int]] = None
    memory_budget: str = "512MiB"
    on_bad_file: str = "missing"  # missing | error (image columns)
    drop_modality: str = "none"  # none | image | text | table
    vocab_size: int = 20000
    max_len: int = 200
    delimiter: str = ","
    source: Optional[str] = None
    target_text: Optional[str] = None
    format: str = "csv"
    tokens: str = "char"
    max_length: int = 50
    on_long: str = "truncate"

    def __post_init__(self) -> None:
        if self.batch_size == 0:  # text pairs learn from more, shorter examples per step (BENCHMARKS.md)
            self.batch_size = 128 if self.target_text else 64
        super().__post_init__()
        if not self.path:
            raise ConfigError("path", "data=csv needs data.path=<file.csv> (a CSV file with a header row)")
        check_pair_keys(self)
        if not self.target and not self.target_text:
            raise ConfigError("target", "data=csv needs data.target=<column>, the column to predict (or, "
                                          "for text to text, data.source=<column> data.target_text=<column>)")
        choice("task", self.task, ("auto", BINARY, MULTICLASS, REGRESSION))
        in_unit_interval("test_fraction", self.test_fraction)
        at_least("vocab_size", self.vocab_size, 3)  # padding, out of vocabulary, one word
        at_least("max_len", self.max_len, 1)
        if len(self.delimiter) != 1:
            raise ConfigError("delimiter", f"must be one character, got {self.delimiter!r}")
        if self.test_path is None and self.test_fraction <= 0:
            raise ConfigError("test_fraction", "must be > 0 without data.test_path (the run needs a test split)")
        modal.check_keys(self)


@dataclass
class Parsed:
    raw: RawData
    task: TaskSpec
    inputs: InputSpec


class CsvDataset:
    """The ``csv`` option. The file is read once per config and kept (the latest only): config
    validation needs its task and columns, and training then reuses the arrays."""

    name = "csv"
    config = CsvConfig
    summary = "your own CSV file: a table (data.target=...) or a text column (data.text=...)"
    package = "bmrun"
    builtin = True

    def __init__(self):
        self._cached: tuple = (None, None)

    def specs(self, cfg: Any) -> tuple[TaskSpec, InputSpec]:
        if cfg.target_text:  # text pairs: the vocabulary (and so the specs' sizes) comes from training rows

            return pair_specs(cfg)
        parsed = self._parse(cfg)
        return parsed.task, parsed.inputs

    def load(self, cfg: Any, seed: int) -> RawData:
        if cfg.target_text:
            return load_pairs(cfg)
        return modal.decoded(self._parse(cfg).raw, cfg)  # image columns: paths to pixels

    def _parse(self, cfg: Any) -> Parsed:
        key = _cache_key(cfg)
        if self._cached[0] != key:
            self._cached = (key, parse(cfg))
        return self._cached[1]


def _cache_key(cfg: Any) -> tuple:
    files = []
    for name in (cfg.path, cfg.test_path):
        path = Path(name).expanduser() if name else None
        stat = path.stat() if path is not None and path.is_file() else None
        files.append((str(path), stat and (stat.st_mtime_ns, stat.st_size)))
    keys = ("target", "test_fraction", "split_seed", "task", "categorical", "numeric", "drop", "text",
            "vocab_size", "max_len", "delimiter", "sensitive", "images", "image_size", "drop_modality")
    return (tuple(files),) + tuple(repr(getattr(cfg, k)) for k in keys)


def parse(cfg: Any) -> Parsed:
    """Read ``data.path`` (and ``data.test_path``) into raw train/test columns and specs.

    Raises:
        DataError: Anything wrong with the files (see :mod:`bmrun.data.csv_reader`), a target
            with one class, no feature column left, test classes unseen in training.
    """
    table = reader.read_table(Path(cfg.path), cfg.delimiter)
    table.require(cfg.target, "target")
    several = modal.columns_of(table, cfg) if modal.is_multimodal(cfg) else None
    if several is not None:
        kinds, notes = several.kinds, several.notes
    elif cfg.text:
        table.require(cfg.text, "text")
        if cfg.text == cfg.target:
            raise DataError(f"{table.path}: data.text and data.target are both {cfg.target!r}; pick different columns.")
        kinds, notes = {}, []
    else:
        kinds, notes = reader.column_kinds(table, target=cfg.target, text=None, categorical=cfg.categorical,
                                           numeric=cfg.numeric, drop=cfg.drop)
        if not kinds:
            raise DataError(f"{table.path}: no feature column left besides the target {cfg.target!r}; the file "
                            f"needs at least one numeric or categorical column.")
    if table.delimiter != cfg.delimiter:
        notes.insert(0, f"read as {table.delimiter!r}-separated")
    keys = column_keys(table.names)  # the training file's names decide; a test file follows them
    task, labels, keep = target_labels(table, cfg)
    groups = _groups(table, cfg, keep, check=True)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} rows without a {cfg.target} value left out")
    x = modal.features(table, several, keys) if several else _features(table, cfg, kinds, keys)
    x, y = _rows(x, keep), labels[keep]
    if cfg.test_path:
        test = reader.read_table(Path(cfg.test_path), cfg.delimiter)
        for name in [cfg.target] + modal.text_columns(cfg) + list(cfg.images) + list(kinds):
            if name:
                test.require(name, "test_path")
        _, test_labels, test_keep = target_labels(test, cfg, task)
        x_test = modal.features(test, several, keys) if several else _features(test, cfg, kinds, keys)
        x_test, y_test = _rows(x_test, test_keep), test_labels[test_keep]
        x_train, y_train, groups_train = x, y, groups
        groups_test = _groups(test, cfg, test_keep, check=False)
    else:
        test_idx, train_idx = stratified_split(y, task, cfg.test_fraction, cfg.split_seed)
        x_train, y_train, x_test, y_test = _rows(x, train_idx), y[train_idx], _rows(x, test_idx), y[test_idx]
        groups_train, groups_test = _rows(groups, train_idx), _rows(groups, test_idx)
    if several:
        layout = modal.layout(several, keys, cfg)
        notes.append(modal.describe_layout(layout))
        inputs = InputSpec(MULTIMODAL, (len(layout["keys"]),))
    elif cfg.text:
        layout = {"text": cfg.text, "key": keys[cfg.text], "vocab_size": int(cfg.vocab_size),
                  "max_len": int(cfg.max_len)}
        inputs = InputSpec(TEXT, (int(cfg.max_len),), vocab_size=int(cfg.vocab_size))
    else:
        layout = {kind: [n for n, k in kinds.items() if k == kind] for kind in (reader.NUMERIC, reader.CATEGORICAL)}
        notes.append(", ".join(f"{len(v)} {k}" for k, v in layout.items()) + " columns")
        layout["keys"] = {name: keys[name] for name in kinds}
        inputs = InputSpec(TABLE, (len(kinds),))
    raw = RawData(x_train, y_train, x_test, y_test, notes="; ".join(notes), columns=layout,
                  groups_train=groups_train or None, groups_test=groups_test or None)
    return Parsed(raw, task, inputs)


def _groups(table: reader.Table, cfg: Any, keep: np.ndarray, *, check: bool) -> dict[str, np.ndarray]:
    """``data.sensitive``: each column's group per kept row (read even when ``data.drop`` lists it).

    Args:
        check: Refuse columns that cannot define groups (the training file's values decide).
    """

    groups = {}
    for name in cfg.sensitive:
        table.require(name, "sensitive")
        if name == cfg.target:
            raise DataError(f"{table.path}: data.sensitive names the target {name!r}; fairness compares groups of "
                            f"another column (e.g. data.sensitive=[sex]).")
        values = group_values(reader.string_values(table, name))[keep]
        if check:
            check_sensitive(name, values, str(table.path))
        groups[name] = values
    return groups


def _features(table: reader.Table, cfg: Any, kinds: dict[str, str], keys: dict[str, str]):
    """The text column, or the feature columns keyed by their safe names (the model's input keys)."""
    if cfg.text:
        return reader.string_values(table, cfg.text)
    return {keys[name]: reader.numeric_values(table, name) if kind == reader.NUMERIC
            else reader.string_values(table, name) for name, kind in kinds.items()}


def _rows(x, index):
    if isinstance(x, dict):
        return {name: values[index] for name, values in x.items()}
    return x[index]


DATASET = CsvDataset()
