"""Linear models: softmax(Wx + b), logistic regression, or linear regression Wx + b.

The shared head *is* the linear map, so the body only flattens (or bags the tokens).
"""

from __future__ import annotations

import keras

from bmrun.models.base import BasicModel, flatten_input


@keras.saving.register_keras_serializable(package="bmrun")
class LinearModel(BasicModel):
    """One affine layer on the (normalised, flattened) input.

    Args:
        dropout_rate: Dropout on the input features (0 = plain linear model).
        **common: See :class:`BasicModel`.
    """

    def __init__(self, dropout_rate: float = 0.0, **common):
        common.setdefault("head_dropout_rate", dropout_rate)
        kind, vocab = common["input_kind"], common.get("vocab_size")
        super().__init__(lambda x: flatten_input(x, kind, vocab), **common)
        self.dropout_rate = dropout_rate

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("head_dropout_rate")
        return {**config, "dropout_rate": self.dropout_rate}
