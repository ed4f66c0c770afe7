"""Plain-NumPy dataset handling: the arrays every loader returns and how they are split.

Everything here is deterministic given the seed, so a resumed run sees the same split and
the same example order as the run it continues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from bmrun.data.catalog import IMAGE, MULTICLASS, REGRESSION, TABLE, TEXT, InputSpec, TaskSpec
from bmrun.data.splits import Split, take  # noqa: F401 (the splits of PreparedData)
from bmrun.errors import DataError
from bmrun.specs import AUDIO, FORECAST, MULTIMODAL, SEGMENTATION, SEQ2SEQ, SERIES, TOKEN_PAIRS


@dataclass
class RawData:
    """What a loader returns: official train and test splits as NumPy arrays.

    Attributes:
        x_val, y_val: A validation split of the dataset's own (plugins); else ``prepare()``
            carves one from the training split.
        notes: What was inferred rather than declared (plugins), for the run's description.
        columns: ``table``/``text`` inputs (data=csv): which columns are numeric/categorical,
            or the text column and its vocabulary size; ``prepare()`` fits their encoding.
        groups_train, groups_test: ``data.sensitive`` (data=csv): each sensitive column's
            group per row, beside the features (see :mod:`bmrun.fairness.groups`).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: Optional[np.ndarray] = None
    y_val: Optional[np.ndarray] = None
    notes: str = ""
    columns: Optional[dict] = None
    groups_train: Optional[dict] = None
    groups_test: Optional[dict] = None


@dataclass
class PreparedData:
    """Train/val/test splits plus the statistics the model's input and output layers need.

    Attributes:
        input_mean, input_variance: Training-split statistics; the model normalises its own
            inputs with them so a saved model takes raw examples.
        target_mean, target_std: Regression targets' training statistics (None otherwise).
        notes: Facts inferred from a plugin's arrays (task, input kind), printed with the run.
    """

    task: TaskSpec
    inputs: InputSpec
    train: Split
    val: Split
    test: Split
    input_mean: Optional[np.ndarray] = None
    input_variance: Optional[np.ndarray] = None
    target_mean: Optional[float] = None
    target_std: Optional[float] = None
    notes: str = ""
    columns: Optional[dict] = None  # table/text encoding fitted on the training split (data.columns)
    # data.label_fraction < 1: the training examples whose labels are withheld (their labels are
    # kept for monitoring pseudo-labels only); None when every training label is kept.
    unlabeled: Optional[Split] = None

    def label_counts(self) -> dict:
        """metrics.json's ``labels``: how many training examples keep their label, how many do not."""
        return {"labeled": len(self.train), "unlabeled": len(self.unlabeled) if self.unlabeled is not None else 0}


def fixed_test_split(x: np.ndarray, y: np.ndarray, fraction: float = 0.2) -> RawData:
    """Split a dataset that ships without a test split; fixed seed so the test set never moves."""
    order = np.random.default_rng(20240601).permutation(len(x))
    n_test = int(round(len(x) * fraction))
    test, train = order[:n_test], order[n_test:]
    return RawData(x[train], y[train], x[test], y[test])


def check_pairs(raw: RawData, source: str) -> None:
    """Refuse arrays whose examples and labels do not line up."""
    for name, x, y in (("train", raw.x_train, raw.y_train), ("test", raw.x_test, raw.y_test)):
        if len(x) != len(y) or len(x) == 0:
            raise DataError(f"{source}: {name} split has {len(x)} examples but {len(y)} labels; the file is corrupt.")


def filter_classes(raw: RawData, classes: Sequence[int]) -> RawData:
    """Keep only ``classes`` and relabel them 0..k-1 in the order given."""
    mapping = np.full(int(max(raw.y_train.max(), raw.y_test.max())) + 1, -1, dtype=np.int64)
    mapping[np.asarray(classes)] = np.arange(len(classes))
    keep_train = mapping[raw.y_train] >= 0
    keep_test = mapping[raw.y_test] >= 0
    filtered = RawData(take(raw.x_train, keep_train), mapping[raw.y_train[keep_train]],
                       take(raw.x_test, keep_test), mapping[raw.y_test[keep_test]], notes=raw.notes,
                       columns=raw.columns,
                       groups_train=raw.groups_train and take(raw.groups_train, keep_train),
                       groups_test=raw.groups_test and take(raw.groups_test, keep_test))
    if raw.x_val is not None:
        keep_val = mapping[raw.y_val] >= 0
        filtered.x_val, filtered.y_val = take(raw.x_val, keep_val), mapping[raw.y_val[keep_val]]
    return filtered


def prepare(raw: RawData, task: TaskSpec, inputs: InputSpec, *, val_fraction: float,
            limit: Optional[int], normalize: bool, seed: int,
            classes: Optional[Sequence[int]] = None, label_fraction: float = 1.0) -> PreparedData:
    """Filter, limit, carve the validation split and fit normalisation on the training part.

    Args:
        raw: The loader's arrays.
        task, inputs: Specs of the dataset (after the class filter).
        val_fraction: Share of the (limited) training split held out for validation (unless
            the loader gave its own validation split).
        limit: Keep this many training examples (taken after a seeded shuffle), or all.
        normalize: Fit input statistics (else the model sees raw values).
        seed: Seed of the shuffle that picks the limited subset and the validation split.
        classes: Label filter, relabelled to 0..k-1.
        label_fraction: Keep the labels of this stratified share of the training split; the
            rest becomes ``unlabeled`` (see :mod:`bmrun.data.label_fraction`). Normalisation
            statistics are fitted on every training image, labeled or not.
    """
    if classes:
        raw = filter_classes(raw, classes)
    if task.kind == MULTICLASS:
        given = (("val", raw.y_val),) if raw.y_val is not None else ()
        for name, labels in (("train", raw.y_train), ("test", raw.y_test)) + given:
            if labels.min() < 0 or labels.max() >= task.num_classes:
                raise DataError(f"{name} labels lie outside 0..{task.num_classes - 1}; the data file is corrupt.")
    order = np.random.default_rng(seed).permutation(len(raw.y_train))
    if limit is not None:
        order = order[:limit]
    own_val = raw.x_val is not None
    n_val = 0 if own_val else int(round(len(order) * val_fraction))
    if val_fraction > 0 and n_val == 0 and not own_val:
        n_val = 1
    if len(order) - n_val < 1:
        raise DataError(f"only {len(order)} training examples left after data.limit and data.val_fraction.")
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    groups = raw.groups_train
    if len(train_idx) == len(raw.y_train) and isinstance(raw.x_train, np.ndarray):  # all, in order: no copy
        train_idx = slice(None)
    val = Split(raw.x_val, _labels(raw.y_val, task)) if own_val else \
        Split(take(raw.x_train, val_idx), _labels(raw.y_train[val_idx], task), groups and take(groups, val_idx))
    if task.kind == SEGMENTATION and not isinstance(train_idx, slice):
        # The loader's image and mask arrays are this run's own (masks.load): the training rows move
        # to their front in place instead of into a copy, which would hold both at the peak
        # (streamed images are files: only their masks move).
        x = _compact(raw.x_train, train_idx) if isinstance(raw.x_train, np.ndarray) else take(raw.x_train, train_idx)
        train = Split(x, _compact(raw.y_train, train_idx))
    else:
        train = Split(take(raw.x_train, train_idx), _labels(raw.y_train[train_idx], task),
                      groups and take(groups, train_idx))
    test = Split(raw.x_test, _labels(raw.y_test, task), raw.groups_test)
    prepared = PreparedData(task, inputs, train, val, test, notes=raw.notes)
    if inputs.kind == TOKEN_PAIRS:  # strings to ids, the vocabulary fitted on the training split
        # here, not at the top: bmrun.data.tokens imports this module
        from bmrun.data.tokens import encode_splits

        return encode_splits(prepared, raw.columns)
    if inputs.kind == MULTIMODAL:  # each modality's encoding (bmrun.data.modal_fit)
        # here, not at the top: bmrun.data.modal_fit imports this module
        from bmrun.data.modal_fit import fit_modalities

        prepared.columns = fit_modalities(train.x, raw.columns, normalize=normalize)
        prepared.columns["class_names"] = list(task.class_names or ())
    elif inputs.kind in (TABLE, TEXT):  # the model encodes raw columns with what is fitted here
        # here, not at the top: bmrun.data.columns imports this module
        from bmrun.data.columns import fit_columns

        prepared.columns = fit_columns(train.x, raw.columns, normalize=normalize)
        # Saved with the model, so bmrun-predict names the classes without re-reading the CSV.
        prepared.columns["class_names"] = list(task.class_names or ())
    elif inputs.kind == SERIES:  # forecasting: statistics of the windows relative to their last value
        # here, not at the top: bmrun.data.windows imports this module
        from bmrun.data.windows import fit

        stats = fit(train.x, train.y, len(task.forecast.targets), task.num_outputs, normalize=normalize)
        prepared.input_mean, prepared.input_variance = stats["input_mean"], stats["input_variance"]
        prepared.target_mean, prepared.target_std = stats["target_mean"], stats["target_std"]
        prepared.columns = raw.columns  # the series' layout, recorded with the model
    elif inputs.kind == AUDIO:  # the model's own front end (rate, frames, mel bands); it normalises itself
        prepared.columns = dict(raw.columns or {}, class_names=list(task.class_names or ()))
    elif normalize and inputs.kind != "tokens":
        prepared.input_mean, prepared.input_variance = _input_stats(train.x, inputs)
    elif inputs.kind == IMAGE:  # unnormalised images still get the usual [0, 1] scaling
        prepared.input_mean, prepared.input_variance = np.float32(0.0), np.float32(255.0**2)
    if task.kind == REGRESSION:
        prepared.target_mean = float(train.y.mean())
        prepared.target_std = float(train.y.std()) or 1.0
    if label_fraction < 1.0:
        # here, not at the top: bmrun.data.label_fraction imports this module
        from bmrun.data.label_fraction import split_labels

        prepared.train, prepared.unlabeled = split_labels(train, label_fraction, seed, task)
    return prepared


def _compact(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` for sorted ``rows``, written over ``x``'s first rows (a view, no full copy).

    Safe in place: ``rows[j] >= j``, so each chunk reads rows that no earlier chunk overwrote.
    """
    for start in range(0, len(rows), 256):
        chunk = rows[start:start + 256]
        x[start:start + len(chunk)] = x[chunk]
    return x[:len(rows)]


def _labels(y: np.ndarray, task: TaskSpec) -> np.ndarray:
    if task.kind == SEQ2SEQ:  # target strings: bmrun.data.tokens encodes them
        return y
    if task.kind == SEGMENTATION:  # masks stay uint8: int32 would quadruple the largest array
        return y.astype(np.uint8, copy=False)
    return y.astype(np.float32) if task.kind in (REGRESSION, FORECAST) else y.astype(np.int32)


def _input_stats(x: np.ndarray, inputs: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """Images: one mean/variance over all pixels. Tabular and sequences: per feature."""
    if getattr(x, "streamed", False):  # image files (data=image_folder): sums taken while checking them
        return x.pixel_stats()
    if inputs.kind == IMAGE and x.dtype == np.uint8:
        # Exact statistics from the histogram of pixel values, chunk by chunk: twice as fast
        # as float sums and no large temporary. Chunks are sized in pixels, not images:
        # np.bincount casts its input to int64 (8 bytes a pixel), so 4096 images of 256x256
        # would be a 2 GiB temporary.
        counts = np.zeros(256, np.int64)
        rows = _rows_per_chunk(x)
        for start in range(0, len(x), rows):
            counts += np.bincount(x[start:start + rows].reshape(-1), minlength=256)
        values = np.arange(256, dtype=np.float64)
        mean = (counts * values).sum() / x.size
        variance = (counts * values * values).sum() / x.size - mean ** 2
        return np.array(mean, np.float32), np.array(max(variance, 1e-12), np.float32)
    if inputs.kind == IMAGE:
        # Chunked sums: a float64 copy of 60k images would add ~700 MB to the peak memory.
        total, squares, count = 0.0, 0.0, x.size
        rows = _rows_per_chunk(x)
        for start in range(0, len(x), rows):
            chunk = x[start:start + rows].astype(np.float64)
            total += chunk.sum()
            squares += np.square(chunk).sum()
        mean = total / count
        return np.array(mean, np.float32), np.array(max(squares / count - mean ** 2, 1e-12), np.float32)
    axes = tuple(range(x.ndim - 1))
    mean = x.astype(np.float64).mean(axis=axes)
    variance = np.maximum(x.astype(np.float64).var(axis=axes), 1e-12)
    return mean.astype(np.float32), variance.astype(np.float32)


CHUNK_PIXELS = 2**22  # statistics' temporaries: 32 MiB as int64 or float64


def _rows_per_chunk(x: np.ndarray) -> int:
    """How many images of ``x`` make about :data:`CHUNK_PIXELS` values (at least one image)."""
    return max(1, CHUNK_PIXELS // max(1, int(np.prod(x.shape[1:]))))
