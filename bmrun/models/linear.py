"""Linear models: softmax(Wx + b), logistic regression, or linear regression Wx + b.

The shared head *is* the linear map, so the body only flattens (or bags the tokens).

A regression on a table starts at its exact least-squares solution on the training split's
encoded features (the minimum-norm one, as scikit-learn's ``LinearRegression``): gradient steps
alone crawl along the directions of correlated columns, and the run would end short of the
optimum the user compares against. A classifier on a table starts the same way at the optimum of
(multinomial) logistic regression, fitted by scikit-learn's L-BFGS on the same encoded features
(nearly unregularised, as the loss is without ``loss.l2``; with it, the gradient steps that follow
move to its own optimum). Training then goes on from there as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bmrun.rules import in_unit_interval
from bmrun.data.catalog import BINARY, IMAGE, MULTICLASS, REGRESSION, SEQUENCE, TABLE, TABULAR, TEXT, TOKENS
from bmrun.specs import SERIES
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
    # Keras (and the layers built on it): only when a model is built, never at --help or config composition
    import keras
    from bmrun.models.layers import flatten_input

    x = flatten_input(x, inputs.kind, inputs.vocab_size)
    if config.dropout_rate:
        x = keras.layers.Dropout(config.dropout_rate, name="head_dropout")(x)
    return x


def least_squares_start(model, x: Any, y: np.ndarray) -> None:
    """Set the head of ``model`` to the least-squares fit of ``y`` on ``x``'s features.

    The model's outputs are an affine function of its head's (a fixed rescaling, for a forecast
    also the last observed value), so that function is read off the model itself (head at zero,
    then bias at one) and inverted: the fit is the one of the outputs in the targets' units.

    Args:
        model: A :class:`~bmrun.models.base.BasicModel` of a regression or forecast task.
        x, y: The training examples (raw, as the model takes them) and their labels (a forecast's
            carry its baselines after the outputs; those columns are left out).
    """
    # Keras: only when a model is built, never at --help or config composition
    import keras

    head = model.get_layer("head")
    width = int(head.kernel.shape[-1])
    features = np.asarray(keras.Model(model.inputs, head.input).predict(x, batch_size=4096, verbose=0), np.float64)
    head.kernel.assign(np.zeros(head.kernel.shape, np.float32))
    head.bias.assign(np.zeros(width, np.float32))
    offset = np.asarray(model.predict(x, batch_size=4096, verbose=0), np.float64).reshape(len(features), width)
    head.bias.assign(np.ones(width, np.float32))
    first = {name: values[:1] for name, values in x.items()} if isinstance(x, dict) else x[:1]
    slope = np.asarray(model.predict(first, verbose=0), np.float64).reshape(width) - offset[0]
    target = (np.asarray(y, np.float64).reshape(len(features), -1)[:, :width] - offset) / slope
    design = np.concatenate([features, np.ones((len(features), 1))], axis=1)
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    head.kernel.assign(solution[:-1].astype(np.float32))
    head.bias.assign(solution[-1].astype(np.float32))


def logistic_start(model, x: Any, y: np.ndarray) -> None:
    """Set the head of a classifier ``model`` to the logistic-regression optimum on ``x``'s features.

    Args:
        model: A :class:`~bmrun.models.base.BasicModel` of a binary (one logit) or multiclass
            (one logit per class) task; its head's outputs are the logits.
        x, y: The training examples (raw) and their class ids.
    """
    # Keras and scikit-learn: only when a linear classifier is built
    import warnings

    # Keras: only when a model is built, never at --help or config composition
    import keras
    from sklearn.exceptions import ConvergenceWarning  # scikit-learn only when a linear classifier is built
    from sklearn.linear_model import LogisticRegression

    head = model.get_layer("head")
    width = int(head.kernel.shape[-1])
    labels = np.asarray(y).reshape(-1).astype(np.int64)
    classes = np.unique(labels)
    if len(classes) < 2 or (width > 1 and len(classes) != width):
        return  # a class absent from the training split: no column of coefficients for it
    features = np.asarray(keras.Model(model.inputs, head.input).predict(x, batch_size=4096, verbose=0), np.float64)
    # C = 1e4: next to no penalty, as bmrun's loss has none, yet a finite optimum on separable data
    fit = LogisticRegression(C=1e4, max_iter=2000, tol=1e-6)
    with warnings.catch_warnings():  # the last digits of a large-C fit: gradient steps finish them
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit.fit(features, labels)
    coef, intercept = fit.coef_, fit.intercept_
    if width == 1 and coef.shape[0] == 2:  # softmax over two classes: the logit of class 1 is the difference
        coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
    head.kernel.assign(coef.T.astype(np.float32).reshape(head.kernel.shape))
    head.bias.assign(intercept.astype(np.float32).reshape(width))


@dataclass(frozen=True)
class LinearFamily(Family):
    """The linear family: a regression on a table, or a forecast (an autoregression on the window),
    starts at the least-squares solution."""

    def build(self, model_cfg: Any, data: Any):
        model = super().build(model_cfg, data)
        train = getattr(data, "train", None)
        fits = (data.task.kind == REGRESSION and data.inputs.kind in (TABLE, TABULAR)) or data.inputs.kind == SERIES
        if (fits and train is not None
                and len(train.y) and not getattr(train.x, "streamed", False)):
            least_squares_start(model, train.x, train.y)
        classifies = data.task.kind in (BINARY, MULTICLASS) and data.inputs.kind in (TABLE, TABULAR)
        if classifies and train is not None and len(train.y) and not getattr(train.x, "streamed", False):
            logistic_start(model, train.x, train.y)
        return model


FAMILY = LinearFamily(name="linear", config=LinearConfig, accepts=frozenset({IMAGE, TABULAR, SEQUENCE, TOKENS, TABLE, TEXT, SERIES}),
                how="flattened inputs, bag of words for tokens and text, encoded CSV columns", body=body)
