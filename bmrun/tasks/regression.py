"""Regression: one value per example, in the target's own units."""

from __future__ import annotations

import tensorflow as tf

from bmrun.outputs import regression_metrics
from bmrun.specs import REGRESSION
from bmrun.tasks.base import Task


class Regression(Task):
    """MSE, RMSE, MAE and R² from sums of errors and targets."""

    kind = REGRESSION

    def zero_sums(self) -> dict:
        zero = tf.constant(0.0, tf.float64)
        return {**super().zero_sums(), **{k: zero for k in ("sse", "sae", "sum_y", "sum_y2")}}

    def eval_sums(self, y, outputs, per_example_loss) -> dict:
        pred = tf.cast(tf.squeeze(outputs, -1), tf.float64)
        true = tf.cast(y, tf.float64)
        return {**super().eval_sums(y, outputs, per_example_loss), "sse": tf.reduce_sum(tf.square(true - pred)),
                "sae": tf.reduce_sum(tf.abs(true - pred)), "sum_y": tf.reduce_sum(true),
                "sum_y2": tf.reduce_sum(tf.square(true))}

    def metrics(self, sums) -> dict[str, float]:
        return {**super().metrics(sums), **regression_metrics(float(sums["sse"]), float(sums["sae"]),
                                                              float(sums["sum_y"]), float(sums["sum_y2"]),
                                                              float(sums["count"]))}
