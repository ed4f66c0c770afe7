"""A plain callable as a dataset: ``load(seed, **kwargs) -> dict`` of NumPy arrays.

The dict holds ``x_train, y_train, x_test, y_test`` and optionally ``x_val, y_val``, ``task``
(multiclass, binary or regression), ``class_names``, ``input_kind`` (image, tokens, sequence,
tabular) and ``vocab_size``. What it does not say is inferred -- the task from the labels, the
input kind from the shape -- and stated in :attr:`RawData.notes`, which the run prints. The
keyword arguments are its ``data.*`` keys; one named like a common key (``path``, ``limit``,
``batch_size``, ...) receives that key's value and sets its default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from bmrun.data.arrays import RawData
from bmrun.data.catalog import (BINARY, IMAGE, MULTICLASS, REGRESSION, SEQUENCE, TABULAR, TOKENS, InputSpec,
                                TaskSpec)
from bmrun.data.dataset import DataConfig
from bmrun.errors import DataError
from bmrun.plugins import call_user, config_from_signature

_SPLITS = ("x_train", "y_train", "x_test", "y_test")
_KINDS_BY_RANK = {1: TABULAR, 2: TABULAR, 3: SEQUENCE, 4: IMAGE}


class CallableDataset:
    """A dataset declared as a plain ``load`` callable (see the module docstring).

    The arrays are loaded once per set of arguments and kept (the latest only): validation
    needs the specs, which only the arrays can tell, and training then reuses them.
    """

    builtin = False

    def __init__(self, name: str, fn: Callable, target: str, package: str, *, keys: Any = None,
                 config: type = None):
        self.name, self.fn, self.target, self.package = name, fn, target, package
        if config is None:
            config, keys = config_from_signature(fn, DataConfig, name, group="data", skip=1)
        self.config, self.keys = config, tuple(keys or ())
        self.summary = f"{target} (package {package})"
        self._cached: tuple = (None, None, None)  # (arguments key, seed, loaded)

    def kwargs(self, cfg: Any) -> dict:
        return {key: getattr(cfg, key) for key in self.keys}

    def cache_key(self, cfg: Any) -> str:
        return repr(self.kwargs(cfg))

    def what(self, cfg: Any) -> str:
        return f"data={self.name} ({self.target} from the package {self.package})"

    def specs(self, cfg: Any) -> tuple[TaskSpec, InputSpec]:
        key, seed, loaded = self._cached
        if loaded is None or key != self.cache_key(cfg):
            loaded = self._load(cfg, 0)  # the specs must not depend on the seed; 0 stands for any
        return loaded[1], loaded[2]

    def load(self, cfg: Any, seed: int) -> RawData:
        return self._load(cfg, seed)[0]

    def _load(self, cfg: Any, seed: int) -> tuple:
        kwargs, key = self.kwargs(cfg), self.cache_key(cfg)
        if self._cached[:2] == (key, seed):
            return self._cached[2]
        what = self.what(cfg)
        result = call_user(self.fn, what, "data", DataError, seed, **kwargs)
        loaded = from_arrays(result, what)
        self._cached = (key, seed, loaded)
        return loaded


def from_arrays(result: Any, what: str) -> tuple[RawData, TaskSpec, InputSpec]:
    """Check a loader's dict and infer what it leaves out.

    Raises:
        DataError: Not a dict, a split missing, examples and labels that do not line up, or a
            declared task/input kind that the arrays contradict.
    """
    if not isinstance(result, Mapping):
        raise DataError(f"{what} returned a {type(result).__name__}; it must return a dict with the NumPy "
                        f"arrays {', '.join(_SPLITS)} (and optionally x_val, y_val, task, class_names, input_kind)")
    missing = [key for key in _SPLITS if key not in result]
    if missing:
        raise DataError(f"{what} returned a dict without {', '.join(missing)}; it needs {', '.join(_SPLITS)}")
    if ("x_val" in result) != ("y_val" in result):
        raise DataError(f"{what} returned only one of x_val and y_val; give both or neither")
    arrays = {key: np.asarray(result[key]) for key in _SPLITS + ("x_val", "y_val") if key in result}
    for split in ("train", "val", "test"):
        if f"x_{split}" in arrays:
            x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
            if len(x) == 0 or len(x) != len(y) or y.ndim != 1:
                raise DataError(f"{what}: the {split} split has {len(x)} examples and labels of shape {y.shape}; "
                                f"it needs as many labels as examples, one per example, and at least one")
    notes: list[str] = []
    task = _task(result, arrays, what, notes)
    inputs = _inputs(result, arrays, what, notes)
    x_dtype = np.int32 if inputs.kind == TOKENS else np.float32
    y_dtype = np.float32 if task.kind == REGRESSION else np.int64
    if inputs.kind == IMAGE and arrays["x_train"].ndim == 3:  # one channel, left implicit
        arrays.update({k: v[..., None] for k, v in arrays.items() if k.startswith("x_")})
    if arrays["x_train"].ndim == 1:
        arrays.update({k: v[:, None] for k, v in arrays.items() if k.startswith("x_")})
    cast = {k: v.astype(x_dtype if k.startswith("x_") else y_dtype) for k, v in arrays.items()}
    raw = RawData(cast["x_train"], cast["y_train"], cast["x_test"], cast["y_test"], cast.get("x_val"),
                  cast.get("y_val"), notes="; ".join(notes))
    return raw, task, inputs


def _task(result: Mapping, arrays: dict, what: str, notes: list) -> TaskSpec:
    labels = np.concatenate([arrays[k].reshape(-1) for k in ("y_train", "y_test", "y_val") if k in arrays])
    names = tuple(str(n) for n in result["class_names"]) if result.get("class_names") is not None else None
    kind = result.get("task")
    integral = labels.dtype.kind in "iub" or bool(np.all(np.mod(labels, 1) == 0))
    if kind is None:
        distinct = np.unique(labels)
        if not integral:
            kind, why = REGRESSION, "non-integer labels"
        elif len(distinct) <= 2 and set(distinct.tolist()) <= {0, 1}:
            kind, why = BINARY, "labels 0/1"
        else:
            kind, why = MULTICLASS, f"integer labels {int(labels.min())}..{int(labels.max())}"
        notes.append(f"task {kind} inferred from the {why}")
    if kind not in (MULTICLASS, BINARY, REGRESSION):
        raise DataError(f"{what}: task={kind!r} is not one of multiclass, binary, regression")
    if kind == REGRESSION:
        return TaskSpec(REGRESSION)
    if not integral or labels.min() < 0:
        raise DataError(f"{what}: {kind} labels must be integers >= 0 (class ids)")
    if kind == BINARY:
        if labels.max() > 1:
            raise DataError(f"{what}: binary labels must be 0 or 1, found {int(labels.max())}")
        return TaskSpec(BINARY, 2, names)
    return TaskSpec(MULTICLASS, max(int(labels.max()) + 1, len(names or ())), names)


def _inputs(result: Mapping, arrays: dict, what: str, notes: list) -> InputSpec:
    x = arrays["x_train"]
    kind = result.get("input_kind")
    if kind is None:
        if x.ndim not in _KINDS_BY_RANK:
            raise DataError(f"{what}: x_train has shape {x.shape}; give input_kind for {x.ndim - 1}-D examples")
        kind = _KINDS_BY_RANK[x.ndim]
        notes.append(f"inputs {kind} {tuple(x.shape[1:]) or (1,)} inferred from the shape")
    shape = tuple(int(d) for d in x.shape[1:]) or (1,)
    if kind == IMAGE and len(shape) == 2:
        shape += (1,)
    expected = {IMAGE: 3, TOKENS: 1, SEQUENCE: 2, TABULAR: 1}
    if kind not in expected:
        raise DataError(f"{what}: input_kind={kind!r} is not one of {', '.join(expected)}")
    if len(shape) != expected[kind]:
        raise DataError(f"{what}: input_kind={kind} needs examples of {expected[kind]} axes, x_train has {shape}")
    for key in ("x_val", "x_test"):
        if key in arrays and tuple(arrays[key].shape[1:]) != tuple(x.shape[1:]):
            raise DataError(f"{what}: {key} has examples of shape {arrays[key].shape[1:]}, x_train {x.shape[1:]}")
    vocab = None
    if kind == TOKENS:
        vocab = int(result.get("vocab_size") or max(int(arrays[k].max()) for k in arrays if k.startswith("x_")) + 1)
    return InputSpec(kind, shape, vocab)
