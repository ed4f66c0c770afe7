"""``model=custom model.target=module:callable``: a build function that is not a package.

The callable follows the plugin protocol (:mod:`bmrun.models.plugin`) and is imported from the
working directory or ``PYTHONPATH``; ``model.args={...}`` are its keyword arguments.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from bmrun.errors import ConfigError
from bmrun.models.family import ModelConfig
from bmrun.plugins import check_target_keys, import_target


@dataclass
class CustomConfig(ModelConfig):
    """``model=custom``.

    Attributes:
        target: ``module:callable`` with the signature ``build(inputs, task, **args)``.
        args: Keyword arguments passed to it.
    """

    target: str = ""
    # Any = None rather than Dict = {}: Hydra merges a command-line dict into an existing one
    # key by key, which struct mode refuses for new keys; a None value is simply replaced.
    args: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_target_keys("model", self.target, self.args, "build(inputs, task, **args) returning a keras.Model")


def resolve(model_cfg: CustomConfig):
    """The target callable, once it is known to accept ``model.args``."""
    fn = import_target(model_cfg.target, "model.target")
    try:
        inspect.signature(fn).bind(None, None, **(model_cfg.args or {}))
    except TypeError as error:
        raise ConfigError("model.args", f"{model_cfg.target} cannot be called as build(inputs, task, "
                          f"**{dict(model_cfg.args or {})}): {error}") from None
    except ValueError:  # no signature (a builtin): find out when it is called
        pass
    return fn


@dataclass(frozen=True)
class CustomFamily:
    """The ``custom`` option: whatever ``model.target`` names."""

    name: str = "custom"
    config: type = CustomConfig
    accepts: Any = None  # unknown until the target builds
    how: str = "whatever model.target reads"
    package: str = "bmrun"
    builtin: bool = True

    def check(self, config: Any, task: Any, inputs: Any) -> None:
        resolve(config.model)  # an unimportable target fails before any data loads

    def build(self, model_cfg: CustomConfig, data: Any):
        # TensorFlow side (bmrun.models.plugin): kept out of --help and config composition
        from bmrun.models.plugin import build_checked

        return build_checked(resolve(model_cfg), dict(model_cfg.args or {}), data, f"model.target={model_cfg.target}")


FAMILY = CustomFamily()
