"""A plain callable as a model family: ``build(inputs, task, **kwargs) -> keras.Model``.

The callable gets the dataset's :class:`~bmrun.data.catalog.InputSpec` (``kind``, ``shape``,
``vocab_size``) and :class:`~bmrun.data.catalog.TaskSpec` (``kind``, ``num_classes``,
``num_outputs``) and returns a Keras model that takes raw examples and returns logits (or values
for regression). Its keyword arguments are its ``model.*`` keys. An optional ``accepts``
attribute (a set of input kinds) lets bmrun refuse unreadable data before loading anything.

The callable builds the body and its head in one model; bmrun takes the model's last layer with
weights as its head and everything before it as its backbone (:mod:`bmrun.models.backbones`),
which ``model.freeze``, ``model.init_from`` and the pretext heads of ``pretrain`` work on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from bmrun.errors import ConfigError
from bmrun.models.family import ModelConfig, arguments
from bmrun.plugins import call_user, config_from_signature


@dataclass(frozen=True)
class CallableFamily:
    """A model family declared as a plain ``build`` callable (see the module docstring)."""

    name: str
    fn: Callable
    target: str  # module:callable, as the entry point says
    package: str
    config: type
    keys: tuple  # the config keys passed to ``fn``
    accepts: Optional[frozenset] = None
    builtin: bool = False

    @classmethod
    def from_callable(cls, name: str, fn: Callable, target: str, package: str) -> "CallableFamily":
        config, keys = config_from_signature(fn, ModelConfig, name, group="model", skip=2)
        accepts = getattr(fn, "accepts", None)
        return cls(name, fn, target, package, config, tuple(keys), frozenset(accepts) if accepts else None)

    @property
    def how(self) -> str:
        return f"says {self.target} from the package {self.package}"

    def check(self, config: Any, task: Any, inputs: Any) -> None:
        pass

    def build(self, model_cfg: Any, data: Any):
        values = arguments(model_cfg)
        kwargs = {key: values.get(key, getattr(model_cfg, key)) for key in self.keys}
        what = f"model={self.name} ({self.target} from the package {self.package})"
        return build_checked(self.fn, kwargs, data, what)


def build_checked(fn: Callable, kwargs: dict, data: Any, what: str):
    """Call a plugin's ``build`` and check that its model fits the data and the task.

    Raises:
        ConfigError: The callable raised, returned something that is not a Keras model, or a
            model whose input or output shape does not fit (caught before any training step).
    """
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    model = call_user(fn, what, "model", ConfigError, data.inputs, data.task, **kwargs)
    if not isinstance(model, keras.Model):
        raise ConfigError("model", f"{what} returned a {type(model).__name__}, not a keras.Model")
    task, inputs = data.task, data.inputs
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConfigError("model", f"{what} returned a model with {len(model.inputs)} inputs and "
                          f"{len(model.outputs)} outputs; bmrun feeds one input and reads one output")
    expected = (None, task.num_outputs)
    actual = tuple(model.outputs[0].shape)
    if len(actual) != 2 or actual[-1] != task.num_outputs:
        raise ConfigError("model", f"{what} returns outputs of shape {actual}, but this {task.kind} task "
                          f"needs {expected} (task.num_outputs={task.num_outputs}): one "
                          f"{'logit per class' if task.kind == 'multiclass' else 'value'} per example")
    given = tuple(model.inputs[0].shape)[1:]
    if len(given) != len(inputs.shape) or any(g is not None and g != s for g, s in zip(given, inputs.shape)):
        raise ConfigError("model", f"{what} takes inputs of shape {(None,) + given}, but the examples have "
                          f"shape {(None,) + tuple(inputs.shape)} ({inputs.kind})")
    return model
