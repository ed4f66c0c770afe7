"""Multi-layer perceptron: Dense -> activation -> dropout, repeated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from bmrun.rules import at_least, in_unit_interval
from bmrun.data.catalog import IMAGE, SEQUENCE, TABLE, TABULAR, TEXT, TOKENS
from bmrun.specs import SERIES
from bmrun.models.family import Family, ModelConfig


@dataclass
class MlpConfig(ModelConfig):
    """``model=mlp``.

    Attributes:
        hidden_dims: Width of each hidden layer.
        activation: Keras activation name.
        dropout_rate: Dropout after each hidden layer.
    """

    hidden_dims: List[int] = field(default_factory=lambda: [256, 128])
    activation: str = "relu"
    dropout_rate: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        for width in self.hidden_dims:
            at_least("hidden_dims", width, 1)
        in_unit_interval("dropout_rate", self.dropout_rate)


def body(x, config: MlpConfig, inputs):
    """Dense layers on the flattened input (a bag of words for tokens)."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # bmrun.models.layers loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.layers import flatten_input

    x = flatten_input(x, inputs.kind, inputs.vocab_size)
    for i, width in enumerate(config.hidden_dims):
        x = keras.layers.Dense(width, activation=config.activation, name=f"dense_{i}")(x)
        if config.dropout_rate:
            x = keras.layers.Dropout(config.dropout_rate, name=f"dropout_{i}")(x)
    return x


FAMILY = Family(name="mlp", config=MlpConfig, accepts=frozenset({IMAGE, TABULAR, SEQUENCE, TOKENS, TABLE, TEXT, SERIES}),
                how="flattened inputs, bag of words for tokens and text, encoded CSV columns", body=body)
