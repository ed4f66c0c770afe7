"""The rich form of a model family: a config dataclass, the inputs it reads, checks and a body.

Built-in families (``bmrun/models/<family>.py``) each define one :class:`Family`; a package may
do the same, or declare just a ``build`` callable (see :mod:`bmrun.registry`). Nothing here
imports TensorFlow: a family's ``body`` imports Keras inside the function, so config
composition, validation and ``bmrun --help`` never pay for it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

from omegaconf import MISSING

from bmrun.models.keys import COMMON_MODEL_KEYS
from bmrun.rules import choice

# Config keys that steer bmrun rather than the network: never passed to a body or a plugin.
@dataclass
class ModelConfig:
    """Keys every ``model`` option has; each family's dataclass adds its own (with defaults).

    Attributes:
        name: The family (``model=<name>``).
        init_from: A run dir whose backbone (and head, for the same labels) starts this model.
        freeze: ``none``, or ``backbone`` to train only the head.
    """

    name: str = MISSING
    init_from: Optional[str] = None
    freeze: str = "none"  # none | backbone

    def __post_init__(self) -> None:
        choice("freeze", self.freeze, ("none", "backbone"))


def arguments(model_cfg: Any) -> dict:
    """The family's own keys of a model config (everything but :data:`COMMON_MODEL_KEYS`)."""
    return {f.name: getattr(model_cfg, f.name) for f in dataclasses.fields(model_cfg)
            if f.name not in COMMON_MODEL_KEYS}


@dataclass(frozen=True)
class Family:
    """A model family in its rich form.

    Attributes:
        name: Its ``model=`` option.
        config: Its config dataclass (a :class:`ModelConfig` subclass): the only place its
            defaults are written.
        accepts: Input kinds it reads (``image``, ``tokens``, ``sequence``, ``tabular``).
        how: One line on how it reads them, for error messages.
        body: ``body(x, config, inputs) -> features``: the normalised input tensor to the
            features the shared head reads (with the input layers, the model's backbone).
            Imports Keras itself.
        checks: ``checks(train_config, task, inputs)`` raising ConfigError before anything loads.
        package: The distribution that declared it (set by the registry).
    """

    name: str
    config: type
    accepts: frozenset
    how: str
    body: Callable
    checks: Optional[Callable] = None
    package: str = "bmrun"
    builtin: bool = True

    def check(self, config: Any, task: Any, inputs: Any) -> None:
        if self.checks is not None:
            self.checks(config, task, inputs)

    def build(self, model_cfg: Any, data: Any):
        """The Keras model for prepared data: one :class:`~bmrun.models.base.BasicModel`."""
        # bmrun.models.base loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.models.base import BasicModel

        inputs, task = data.inputs, data.task
        return BasicModel(self.name, input_shape=inputs.shape, input_kind=inputs.kind,
                          num_outputs=task.num_outputs, vocab_size=inputs.vocab_size,
                          input_mean=data.input_mean, input_variance=data.input_variance,
                          target_mean=data.target_mean, target_std=data.target_std,
                          columns=getattr(data, "columns", None), task_kind=task.kind, **arguments(model_cfg))
