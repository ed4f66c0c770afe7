"""Attributions of a forecast model (``data=timeseries``) by lag and by column.

A forecast model reads raw windows ``(window, columns)`` (the targets first, then the
covariates) and gives ``horizon`` values of each target. What is explained is each window's
mean forecast over every step and target, each target divided by its training spread first
(:class:`bmrun.tasks.series.LastValueAnchor`'s ``std``), so a target in large units does not
drown the others. Integrated gradients run over the whole window from the mean window of the
explained examples (every step and column at its average): an attribution then says how much a
value's distance from the usual window moved the forecast.

Each window's attributions ``[steps, columns]`` are summed over the steps for a column's
importance and over the columns for a lag's; the importance is the mean absolute sum over the
windows. Summing before taking the absolute value keeps a lag whose columns pull in opposite
directions from looking important.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from bmrun.explain import attributions
from bmrun.outputs import REGRESSION


class MeanForecast:
    """The model's forecasts, each divided by its target's spread, averaged into one value per window.

    Args:
        model: The forecast model (raw windows in, ``horizon * targets`` forecasts out).
        scale: Per output, the divisor (1 where unknown).
    """

    def __init__(self, model, scale: Sequence[float]):
        self.model = model
        self.scale = tf.constant(np.asarray(scale, np.float32))

    def __call__(self, x, training: bool = False):
        outputs = tf.cast(self.model(x, training=training), tf.float32) / self.scale
        return tf.reduce_mean(outputs, axis=1, keepdims=True)


def output_scale(model, width: int) -> list[float]:
    """Per output, the training offsets' standard deviation (all ones if the model has none)."""
    names = {layer.name for layer in model.layers}
    if "target_scale" in names:
        std = list(getattr(model.get_layer("target_scale"), "std", []))
        if len(std) == width:
            return [s if s > 0 else 1.0 for s in std]
    return [1.0] * width


def lag_names(window: int) -> list[str]:
    """``t`` (the origin, the window's last row), ``t-1``, ... back to the window's first row."""
    return ["t" if k == 0 else f"t-{k}" for k in range(window)]


def series_attributions(model, x: np.ndarray, *, steps: int = 50) -> tuple[np.ndarray, float]:
    """Integrated gradients of each window's mean scaled forecast.

    Args:
        model: The forecast model.
        x: ``[windows, steps, columns]`` raw windows.
        steps: Integration steps.

    Returns:
        ``(attributions [windows, steps, columns], completeness_error)``: the error is the largest
        relative gap between a window's summed attributions and f(x) - f(baseline).
    """
    x = np.asarray(x, np.float32)
    width = int(model.outputs[0].shape[-1])
    target = MeanForecast(model, output_scale(model, width))
    baseline = x.mean(axis=0, keepdims=True)
    maps = attributions.integrated_gradients(target, x, REGRESSION, baseline=baseline, steps=steps)
    gap = (np.asarray(target(tf.constant(x)))[:, 0]
           - np.asarray(target(tf.constant(np.broadcast_to(baseline, x.shape))))[:, 0])
    sums = maps.reshape(len(x), -1).sum(axis=1)
    error = float(np.max(np.abs(sums - gap) / np.maximum(np.abs(gap), 1e-6))) if len(x) else 0.0
    return maps, error


def lag_and_column_importance(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(per lag, per column)`` mean absolute attribution; lags from ``t`` backwards.

    Args:
        maps: ``[windows, steps, columns]`` attributions, the window's last row last.
    """
    per_lag = np.abs(maps.sum(axis=2)).mean(axis=0)[::-1]  # the last row is lag t
    per_column = np.abs(maps.sum(axis=1)).mean(axis=0)
    return per_lag, per_column
