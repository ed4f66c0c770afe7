"""A CSV table's target column: its task kind, one label per row, and the stratified test split.

The rule that decides the kind is the one every table follows: numbers that are not a few whole
values are a regression target; two distinct values are binary, more are multiclass
(``data.task`` overrides it). A test file's labels must be classes of the training file.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from bmrun.data import csv_reader as reader
from bmrun.data.splits import share, stratified_pick
from bmrun.errors import DataError
from bmrun.specs import BINARY, MULTICLASS, REGRESSION, TaskSpec


def target_labels(table: reader.Table, cfg: Any, train_task: Optional[TaskSpec] = None
            ) -> tuple[TaskSpec, np.ndarray, np.ndarray]:
    """The task, one label per row (class id or value) and which rows have a target value.

    Args:
        train_task: The training file's task, for a test file (which must not add classes).
    """
    values = table.columns[cfg.target]
    keep = np.array([not reader.is_missing(v) for v in values])
    present = [v for v, k in zip(values, keep) if k]
    numbers = [reader.as_number(v) for v in present]
    all_numbers = all(n is not None for n in numbers)
    if train_task is not None:
        regression = train_task.kind == REGRESSION
    else:
        few = all_numbers and all(n.is_integer() for n in numbers) and len(set(numbers)) <= reader.FEW_CLASSES
        regression = cfg.task == REGRESSION or (cfg.task == "auto" and all_numbers and not few)
    if regression:
        labels = np.zeros(len(values), np.float32)
        for i, (value, k) in enumerate(zip(values, keep)):
            if k and reader.as_number(value) is None:
                raise DataError(f"{table.path}, line {table.lines[i]}: the target {cfg.target!r} holds {value!r}, "
                                f"but a regression target must be numbers (or use data.task=multiclass).")
            labels[i] = reader.as_number(value) if k else 0.0
        return TaskSpec(REGRESSION), labels, keep
    if train_task is None:
        distinct = sorted(set(present), key=lambda v: (float(v), v) if all_numbers else (0.0, v))
        if len(distinct) < 2:
            only = f"{distinct[0]!r} in every row with a value" if distinct else "no values at all"
            raise DataError(f"{table.path}: the target {cfg.target!r} has one class ({only}); a classifier needs "
                            f"at least two.")
        if cfg.task == BINARY and len(distinct) > 2:
            raise DataError(f"{table.path}: data.task=binary, but the target {cfg.target!r} has {len(distinct)} "
                            f"classes ({', '.join(distinct[:10])}); use data.task=multiclass or auto.")
        kind = BINARY if len(distinct) == 2 and cfg.task != MULTICLASS else MULTICLASS
        train_task = TaskSpec(kind, len(distinct), tuple(distinct))
    index = {name: i for i, name in enumerate(train_task.class_names)}
    labels = np.zeros(len(values), np.int64)
    for i, (value, k) in enumerate(zip(values, keep)):
        if k:
            if value not in index:
                raise DataError(f"{table.path}, line {table.lines[i]}: the target {cfg.target!r} holds the class "
                                f"{value!r}, which the training file does not have "
                                f"({', '.join(train_task.class_names[:10])}).")
            labels[i] = index[value]
    return train_task, labels, keep


def stratified_split(y: np.ndarray, task: TaskSpec, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Test and train row indices: ``fraction`` of every class (of all rows for regression)."""
    test_idx = stratified_pick(None if task.kind == REGRESSION else y, np.random.default_rng(seed), share(fraction),
                               size=len(y))
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    if len(test_idx) == 0 or len(train_idx) == 0:
        raise DataError(f"{len(y)} rows cannot be split into train and test with data.test_fraction={fraction}; "
                        f"give more rows or data.test_path.")
    return test_idx, train_idx
