"""Linear models: softmax(Wx + b), logistic regression, or linear regression Wx + b.

The shared head *is* the linear map, so the body only flattens (or bags the tokens).

A linear model on a table is solved, not searched for: a regression is set to its exact
least-squares solution on the training split's encoded features (the minimum-norm one, as
scikit-learn's ``LinearRegression``), a classifier to the optimum of (multinomial) logistic
regression with scikit-learn's default penalty (``C=1.0``, L2, on the same standardised
features), fitted by L-BFGS to a tight tolerance. Gradient steps alone crawl along the directions
of correlated columns and end short of that optimum; gradient steps after the solve wander around
it (a test row or two either way on small tables, wherever the validation loss's best epoch
falls). So with ``solve=exact`` (the default) the model is marked ``solved``: the run validates
and tests the solution and takes no gradient step, unless its objective has a term the solve
leaves out (``bmrun.training.job``). ``solve=start`` trains on from the solution, ``solve=none``
from a random start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bmrun.errors import ConfigError
from bmrun.rules import choice, in_unit_interval
from bmrun.data.catalog import BINARY, IMAGE, MULTICLASS, REGRESSION, SEQUENCE, TABLE, TABULAR, TEXT, TOKENS
from bmrun.specs import SERIES
from bmrun.models.family import Family, ModelConfig


@dataclass
class LinearConfig(ModelConfig):
    """``model=linear``.

    Attributes:
        dropout_rate: Dropout on the input features (0 = plain linear model).

        solve: ``exact``: a table's regression or classification is solved on the training split
            and not trained further; ``start``: solved, then trained as usual; ``none``: trained
            from a random start.
        C: Inverse strength of the classifier's L2 penalty in the solve, as scikit-learn's
            ``LogisticRegression(C=...)`` (its default, 1.0): the penalty is ``||W||^2 / (2 C)``
            beside the summed log-loss of the training rows.
    """

    dropout_rate: float = 0.0
    solve: str = "exact"  # exact | start | none
    C: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        in_unit_interval("dropout_rate", self.dropout_rate)
        choice("solve", self.solve, ("exact", "start", "none"))
        if not self.C > 0:
            raise ConfigError("C", f"is the inverse strength of the L2 penalty: more than 0, got {self.C}")


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


def logistic_start(model, x: Any, y: np.ndarray, c: float = 1.0) -> bool:
    """Set the head of a classifier ``model`` to the logistic-regression optimum on ``x``'s features.

    Args:
        model: A :class:`~bmrun.models.base.BasicModel` of a binary (one logit) or multiclass
            (one logit per class) task; its head's outputs are the logits.
        x, y: The training examples (raw) and their class ids.
        c: scikit-learn's ``C``: the inverse strength of the L2 penalty.

    Returns:
        Whether the head was set (not when a class is absent from the training split).
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
        return False  # a class absent from the training split: no column of coefficients for it
    features = np.asarray(keras.Model(model.inputs, head.input).predict(x, batch_size=4096, verbose=0), np.float64)
    # tol far below scikit-learn's default (1e-4): the solution is the run's model, not a start
    fit = LogisticRegression(C=c, max_iter=5000, tol=1e-8)
    with warnings.catch_warnings():  # a huge C on separable rows never converges: the last digits do not matter
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit.fit(features, labels)
    coef, intercept = fit.coef_, fit.intercept_
    if width == 1 and coef.shape[0] == 2:  # softmax over two classes: the logit of class 1 is the difference
        coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
    head.kernel.assign(coef.T.astype(np.float32).reshape(head.kernel.shape))
    head.bias.assign(intercept.astype(np.float32).reshape(width))
    return True


@dataclass(frozen=True)
class LinearFamily(Family):
    """The linear family: a regression or a classification on a table is solved on the training
    split (``model.solve``); a forecast (an autoregression on the window) starts at least squares."""

    def build(self, model_cfg: Any, data: Any):
        model = super().build(model_cfg, data)
        model.solved = False  # read by the training job: True = take no gradient step
        train = getattr(data, "train", None)
        if model_cfg.solve == "none" or train is None or not len(train.y) or getattr(train.x, "streamed", False):
            return model
        table = data.inputs.kind in (TABLE, TABULAR)
        if (data.task.kind == REGRESSION and table) or data.inputs.kind == SERIES:
            least_squares_start(model, train.x, train.y)
            solved = table  # a forecast's loss and its seasonal baselines are not the least-squares fit's: it trains on
        elif data.task.kind in (BINARY, MULTICLASS) and table:
            solved = logistic_start(model, train.x, train.y, model_cfg.C)
        else:
            return model
        # dropout is part of the trained model, not of the solve: those runs train on from it
        model.solved = solved and model_cfg.solve == "exact" and not model_cfg.dropout_rate
        return model


FAMILY = LinearFamily(name="linear", config=LinearConfig, accepts=frozenset({IMAGE, TABULAR, SEQUENCE, TOKENS, TABLE, TEXT, SERIES}),
                how="flattened inputs, bag of words for tokens and text, encoded CSV columns", body=body)
