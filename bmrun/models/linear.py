"""Linear models: softmax(Wx + b), logistic regression, or linear regression Wx + b.

The shared head *is* the linear map, so the body only flattens (or bags the tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from bmrun.rules import in_unit_interval
from bmrun.data.catalog import IMAGE, SEQUENCE, TABLE, TABULAR, TEXT, TOKENS
from bmrun.models.family import Family, ModelConfig


@dataclass
class LinearConfig(ModelConfig):
    """``model=linear``.

    Attributes:
        dropout_rate: Dropout on the input features (0 = plain linear model).
    """

    dropout_rate: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        in_unit_interval("dropout_rate", self.dropout_rate)


def body(x, config: LinearConfig, inputs):
    """Flattened features (a bag of words for tokens), optionally dropped out."""
    import keras

    from bmrun.models.layers import flatten_input

    x = flatten_input(x, inputs.kind, inputs.vocab_size)
    if config.dropout_rate:
        x = keras.layers.Dropout(config.dropout_rate, name="head_dropout")(x)
    return x


FAMILY = Family(name="linear", config=LinearConfig, accepts=frozenset({IMAGE, TABULAR, SEQUENCE, TOKENS, TABLE, TEXT}),
                how="flattened inputs, bag of words for tokens and text, encoded CSV columns", body=body)
