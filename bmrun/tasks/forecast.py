"""Forecasting: ``horizon`` values of each target per example, scored beside two baselines.

The outputs of one example are laid out step by step: index ``h * targets + t`` is step ``h + 1``
of target ``t``, in the target's own units. The labels (see :mod:`bmrun.data.timeseries`) carry
three such blocks: the truth, then the naive forecast (the last observed value) and the
seasonal-naive forecast of the same origin. The baselines travel with the labels so that the one
evaluation pass scores them on exactly the model's origins, and ``bmrun-eval`` gives them back
without re-reading the series; the loss reads the first block only.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bmrun.specs import FORECAST
from bmrun.tasks.base import Task
from bmrun.tasks.series import LastValueAnchor

_VECTORS = ("sae", "sse", "smape", "naive_sae", "naive_sse", "snaive_sae", "snaive_sse")


class Forecast(Task):
    """MAE, RMSE, sMAPE and MASE overall and per horizon step, direction accuracy, baselines."""

    kind = FORECAST

    @property
    def horizon(self) -> int:
        return self.spec.forecast.horizon

    @property
    def num_targets(self) -> int:
        return len(self.spec.forecast.targets)

    @staticmethod
    def scale_outputs(outputs, inputs, target_mean, target_std, columns=None):
        """Forecasts: the last observed target values plus the head's rescaled offsets."""

        targets = len(columns["series"]["targets"])
        return LastValueAnchor(targets, target_mean, target_std, name="target_scale")(outputs, inputs)

    # ------------------------------------------------------------------ in-graph sums
    def zero_sums(self) -> dict:
        width = self.num_outputs
        zero = tf.constant(0.0, tf.float64)
        return {**super().zero_sums(), **{k: tf.zeros([width], tf.float64) for k in _VECTORS},
                "direction_hits": zero, "direction_count": zero}

    def eval_sums(self, y, outputs, per_example_loss) -> dict:
        width = self.num_outputs
        y = tf.cast(y, tf.float64)
        pred = tf.cast(outputs, tf.float64)
        truth, naive, snaive = y[:, :width], y[:, width:2 * width], y[:, 2 * width:3 * width]
        error = truth - pred
        denominator = tf.abs(truth) + tf.abs(pred)
        smape = tf.math.divide_no_nan(2.0 * tf.abs(error), denominator)
        # Direction: did the forecast move the way the series did from the last observed value?
        # Steps where the series did not move have no direction and are left out.
        moved = tf.not_equal(truth, naive)
        hits = tf.logical_and(moved, tf.equal(tf.sign(pred - naive), tf.sign(truth - naive)))
        return {**super().eval_sums(y, outputs, per_example_loss),
                "sae": tf.reduce_sum(tf.abs(error), 0), "sse": tf.reduce_sum(tf.square(error), 0),
                "smape": tf.reduce_sum(smape, 0),
                "naive_sae": tf.reduce_sum(tf.abs(truth - naive), 0),
                "naive_sse": tf.reduce_sum(tf.square(truth - naive), 0),
                "snaive_sae": tf.reduce_sum(tf.abs(truth - snaive), 0),
                "snaive_sse": tf.reduce_sum(tf.square(truth - snaive), 0),
                "direction_hits": tf.reduce_sum(tf.cast(hits, tf.float64)),
                "direction_count": tf.reduce_sum(tf.cast(moved, tf.float64))}

    # ------------------------------------------------------------------ metrics
    def metrics(self, sums) -> dict[str, float]:
        """Overall and per-step errors in the targets' units (steps averaged over targets)."""
        count = max(float(sums["count"]), 1.0)
        result = super().metrics(sums)
        result.update(self._errors(sums, "", count))
        result["smape"] = float(100.0 * np.sum(sums["smape"]) / (count * self.num_outputs))
        result["direction_accuracy"] = float(sums["direction_hits"]) / max(float(sums["direction_count"]), 1.0)
        sae = self._grid(sums["sae"]) / count
        sse = self._grid(sums["sse"]) / count
        for step in range(self.horizon):
            result[f"mae_h{step + 1}"] = float(sae[step].mean())
            result[f"rmse_h{step + 1}"] = float(np.sqrt(sse[step].mean()))
        return result

    def test_metrics(self, sums) -> dict:
        """The naive and seasonal-naive forecasts of the same origins, for the final test."""
        count = max(float(sums["count"]), 1.0)
        return {"baselines": {"naive": self._errors(sums, "naive_", count),
                              "seasonal_naive": self._errors(sums, "snaive_", count)}}

    def _errors(self, sums, prefix: str, count: float) -> dict[str, float]:
        """``mae``, ``rmse`` and ``mase`` of the sums named ``<prefix>sae`` / ``<prefix>sse``."""
        sae, sse = np.asarray(sums[f"{prefix}sae"], np.float64), np.asarray(sums[f"{prefix}sse"], np.float64)
        cells = count * self.num_outputs
        per_target = self._grid(sae).sum(axis=0) / (count * self.horizon)
        scale = np.asarray(self.spec.forecast.mase_scale or [np.nan] * self.num_targets, np.float64)
        mase = np.divide(per_target, scale, out=np.full_like(per_target, np.nan), where=scale > 0)
        return {"mae": float(sae.sum() / cells), "rmse": float(np.sqrt(sse.sum() / cells)),
                "mase": float(np.mean(mase))}

    def _grid(self, values) -> np.ndarray:
        """A vector of the outputs' layout as (horizon, targets)."""
        return np.asarray(values, np.float64).reshape(self.horizon, self.num_targets)

