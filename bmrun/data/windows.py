"""A series cut into forecast examples, and the statistics fitted on the training ones (NumPy).

An origin ``t`` is one example: the input is the window of rows ``t - window + 1 … t`` (every
column), the truth the targets of rows ``t + 1 … t + horizon``. Each label row also carries the
naive forecast (row ``t``'s targets at every step) and the seasonal-naive one (the last observed
value one season back from each step), laid out like the outputs: index ``h * targets + j`` is
step ``h + 1`` of target ``j`` (see :mod:`bmrun.tasks.forecast`).

The split is chronological: :func:`blocks` gives each split the origins whose targets all fall
inside its block of rows; an input window may reach back into the block before, a target never
leaves its block.
"""

from __future__ import annotations

import numpy as np


def blocks(rows: int, test_fraction: float, val_fraction: float) -> tuple[int, int]:
    """The first row of the validation block and of the test block (the last rows of the series)."""
    test_start = rows - max(int(round(rows * test_fraction)), 1)
    val_start = test_start - (int(round(rows * val_fraction)) if val_fraction > 0 else 0)
    return val_start, test_start


def origins(first: int, stop: int, horizon: int, earliest: int) -> np.ndarray:
    """Origins whose targets lie in rows ``first … stop - 1`` and whose window starts at row >= 0.

    Args:
        earliest: The first origin with a full window and seasonal-naive history.
    """
    return np.arange(max(first - 1, earliest), stop - horizon, dtype=np.int64)


def windows(values: np.ndarray, at: np.ndarray, window: int) -> np.ndarray:
    """``(len(at), window, columns)`` float32 inputs ending at each origin (inclusive)."""
    index = at[:, None] + np.arange(-window + 1, 1)[None, :]
    return values[index].astype(np.float32)


def labels(values: np.ndarray, at: np.ndarray, targets: int, horizon: int, season: int) -> np.ndarray:
    """``(len(at), 3 * horizon * targets)`` float32: the truth, the naive and the seasonal-naive forecasts."""
    steps = np.arange(1, horizon + 1)
    truth = values[at[:, None] + steps[None, :], :targets]
    naive = np.repeat(values[at, None, :targets], horizon, axis=1)
    back = season * np.ceil(steps / season).astype(np.int64)  # the same phase, at or before the origin
    seasonal = values[at[:, None] + (steps - back)[None, :], :targets]
    flat = [block.reshape(len(at), horizon * targets) for block in (truth, naive, seasonal)]
    return np.concatenate(flat, axis=1).astype(np.float32)


def mase_scale(values: np.ndarray, stop: int, targets: int, season: int) -> tuple[float, ...]:
    """Per target, the mean absolute seasonal-naive error of rows before ``stop`` (MASE's denominator)."""
    block = values[:stop, :targets]
    if len(block) <= season:
        return tuple(float("nan") for _ in range(targets))
    return tuple(float(v) for v in np.abs(block[season:] - block[:-season]).mean(axis=0))


def offsets(x: np.ndarray, targets: int) -> np.ndarray:
    """Windows with their target columns relative to the last observed value (what the model
    reads; :class:`bmrun.tasks.series.LastValueOffset` does the same in the graph)."""
    x = np.array(x, np.float64)
    x[:, :, :targets] -= x[:, -1:, :targets]
    return x


def fit(x: np.ndarray, y: np.ndarray, targets: int, width: int, *, normalize: bool) -> dict:
    """Training statistics: the offset windows' per-column mean and variance, and per output the
    mean and standard deviation of the truth minus the last observed value.

    Args:
        x, y: The training windows and labels.
        targets: Target columns.
        width: Outputs per example (``horizon * targets``).
        normalize: Fit input statistics (else None: the model reads unscaled offsets).
    """
    relative = offsets(x, targets)
    change = y[:, :width].astype(np.float64) - y[:, width:2 * width]  # truth minus the naive forecast
    std = change.std(axis=0)
    stats = {"target_mean": [float(v) for v in change.mean(axis=0)],
             "target_std": [float(v) if v > 0 else 1.0 for v in std],
             "input_mean": None, "input_variance": None}
    if normalize:
        stats["input_mean"] = relative.mean(axis=(0, 1)).astype(np.float32)
        stats["input_variance"] = np.maximum(relative.var(axis=(0, 1)), 1e-12).astype(np.float32)
    return stats
