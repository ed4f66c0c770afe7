"""Linear models: softmax(Wx + b), logistic regression, or linear regression Wx + b.

The shared head *is* the linear map, so the body only flattens (or bags the tokens).

A regression on a table starts at its exact least-squares solution on the training split's
encoded features (the minimum-norm one, as scikit-learn's ``LinearRegression``): gradient steps
alone crawl along the directions of correlated columns, and the run would end short of the
optimum the user compares against. Training then goes on from there as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bmrun.rules import in_unit_interval
from bmrun.data.catalog import IMAGE, REGRESSION, SEQUENCE, TABLE, TABULAR, TEXT, TOKENS
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


def least_squares_start(model, x: Any, y: np.ndarray) -> None:
    """Set the head of a regression ``model`` to the least-squares fit of ``y`` on ``x``'s features.

    Args:
        model: A :class:`~bmrun.models.base.BasicModel` with one output (its head predicts
            standardised targets when it has ``target_mean``).
        x, y: The training examples (raw, as the model takes them) and their targets.
    """
    import keras

    head = model.get_layer("head")
    features = np.asarray(keras.Model(model.inputs, head.input).predict(x, batch_size=4096, verbose=0), np.float64)
    target = np.asarray(y, np.float64).reshape(-1)
    if model.target_mean is not None:
        target = (target - model.target_mean) / model.target_std
    design = np.concatenate([features, np.ones((len(features), 1))], axis=1)
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    head.kernel.assign(solution[:-1, None].astype(np.float32))
    head.bias.assign(solution[-1:].astype(np.float32))


@dataclass(frozen=True)
class LinearFamily(Family):
    """The linear family: a regression on a table starts at the least-squares solution."""

    def build(self, model_cfg: Any, data: Any):
        model = super().build(model_cfg, data)
        train = getattr(data, "train", None)
        if (data.task.kind == REGRESSION and data.inputs.kind in (TABLE, TABULAR) and train is not None
                and len(train.y) and not getattr(train.x, "streamed", False)):
            least_squares_start(model, train.x, train.y)
        return model


FAMILY = LinearFamily(name="linear", config=LinearConfig, accepts=frozenset({IMAGE, TABULAR, SEQUENCE, TOKENS, TABLE, TEXT}),
                how="flattened inputs, bag of words for tokens and text, encoded CSV columns", body=body)
