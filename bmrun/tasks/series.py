"""The two layers that make a model forecast from the last observed value (``series`` inputs).

A window's target columns are read relative to their last observed value
(:class:`LastValueOffset`, before the input normalisation), and the head's standardised outputs
become forecasts by adding that value back (:class:`LastValueAnchor`). A level the training block
never reached (a trending series, a price) then looks like any other window, and a model whose
head outputs zero is the naive forecast. Both are fixed, serializable layers, so a saved model
takes raw windows.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bmrun")
class LastValueOffset(keras.layers.Layer):
    """``(batch, steps, columns)`` windows with the first ``targets`` columns minus their last value.

    Args:
        targets: How many leading columns are targets (the covariates are left as they are).
    """

    def __init__(self, targets: int, **kwargs):
        super().__init__(**kwargs)
        self.targets = int(targets)

    def call(self, x):
        last = x[:, -1:, :self.targets]
        return ops.concatenate([x[:, :, :self.targets] - last, x[:, :, self.targets:]], axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "targets": self.targets}


@keras.saving.register_keras_serializable(package="bmrun")
class LastValueAnchor(keras.layers.Layer):
    """Standardised offsets ``(batch, horizon * targets)`` to forecasts in the targets' units.

    ``forecast = last value + mean + std * output``, per output; the last value of target ``t`` is
    the window's last row, column ``t``.

    Args:
        targets: Target columns (the first columns of the window).
        mean, std: Per output, the training offsets' mean and standard deviation.
    """

    def __init__(self, targets: int, mean: Sequence[float], std: Sequence[float], **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.targets = int(targets)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]

    def call(self, outputs, inputs):
        horizon = len(self.mean) // self.targets
        last = ops.cast(inputs[:, -1, :self.targets], outputs.dtype)
        anchor = ops.tile(last, [1, horizon])  # step by step: index h * targets + t
        return anchor + ops.convert_to_tensor(self.mean, outputs.dtype) + \
            ops.convert_to_tensor(self.std, outputs.dtype) * outputs

    def get_config(self) -> dict:
        return {**super().get_config(), "targets": self.targets, "mean": self.mean, "std": self.std}
