"""Multi-layer perceptron: Dense -> activation -> dropout, repeated."""

from __future__ import annotations

from typing import Sequence

import keras

from bmrun.models.base import BasicModel, flatten_input


@keras.saving.register_keras_serializable(package="bmrun")
class MLP(BasicModel):
    """Fully connected network on the flattened input.

    Args:
        hidden_dims: Width of each hidden layer.
        activation: Keras activation name.
        dropout_rate: Dropout after each hidden layer.
        **common: See :class:`BasicModel`.
    """

    def __init__(self, hidden_dims: Sequence[int] = (256, 128), activation: str = "relu",
                 dropout_rate: float = 0.0, **common):
        kind, vocab = common["input_kind"], common.get("vocab_size")

        def body(x):
            x = flatten_input(x, kind, vocab)
            for i, width in enumerate(hidden_dims):
                x = keras.layers.Dense(width, activation=activation, name=f"dense_{i}")(x)
                if dropout_rate:
                    x = keras.layers.Dropout(dropout_rate, name=f"dropout_{i}")(x)
            return x

        super().__init__(body, **common)
        self.hidden_dims = list(hidden_dims)
        self.activation = activation
        self.dropout_rate = dropout_rate

    def get_config(self) -> dict:
        return {**super().get_config(), "hidden_dims": self.hidden_dims, "activation": self.activation,
                "dropout_rate": self.dropout_rate}
