"""Model registry: config name -> family class, and which inputs each family can read.

Importing this module is cheap; a family's module (and Keras) is imported only when built.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

from bmrun.data.catalog import IMAGE, SEQUENCE, TABULAR, TOKENS
from bmrun.errors import ConfigError


@dataclass(frozen=True)
class Family:
    module: str
    class_name: str
    accepts: frozenset  # input kinds this family can read
    how: str  # how it reads them, for error messages and docs


FAMILIES: dict[str, Family] = {
    "linear": Family("bmrun.models.linear", "LinearModel", frozenset({IMAGE, TABULAR, SEQUENCE, TOKENS}),
                     "flattened inputs, bag of words for tokens"),
    "mlp": Family("bmrun.models.mlp", "MLP", frozenset({IMAGE, TABULAR, SEQUENCE, TOKENS}),
                  "flattened inputs, bag of words for tokens"),
    "cnn": Family("bmrun.models.cnn", "CNN", frozenset({IMAGE}), "images only"),
    "rnn": Family("bmrun.models.rnn", "RNN", frozenset({IMAGE, SEQUENCE, TOKENS}),
                  "image rows, token embeddings or numeric sequences"),
    "transformer": Family("bmrun.models.transformer", "Transformer", frozenset({IMAGE, SEQUENCE, TOKENS}),
                          "image patches, token embeddings or numeric sequences"),
}

# Config keys that steer bmrun rather than the model's constructor.
_NOT_ARGUMENTS = ("name", "init_from", "freeze")


def family(name: str) -> Family:
    """The registry entry for ``name``, or a ConfigError listing the choices."""
    if name not in FAMILIES:
        raise ConfigError("model.name", f"unknown model {name!r}; choose one of: {', '.join(FAMILIES)}")
    return FAMILIES[name]


def model_class(name: str):
    entry = family(name)
    return getattr(importlib.import_module(entry.module), entry.class_name)


def build_model(model_cfg: Any, data: Any):
    """Build the Keras model named by ``model_cfg.name`` for prepared data.

    Args:
        model_cfg: Validated ``model`` config (a schema dataclass); its fields other than
            name/init_from/freeze are the family's constructor arguments.
        data: :class:`bmrun.data.arrays.PreparedData` giving input/task specs and statistics.

    Returns:
        An unbuilt-optimizer Keras model taking raw examples and returning logits (or values).
    """
    arguments = {k: v for k, v in dataclasses.asdict(model_cfg).items() if k not in _NOT_ARGUMENTS}
    inputs, task = data.inputs, data.task
    return model_class(model_cfg.name)(
        input_shape=inputs.shape, input_kind=inputs.kind, num_outputs=task.num_outputs,
        vocab_size=inputs.vocab_size, input_mean=data.input_mean, input_variance=data.input_variance,
        target_mean=data.target_mean, target_std=data.target_std, name=model_cfg.name, **arguments)
