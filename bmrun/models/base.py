"""The one Keras model class of the built-in families: a backbone and a head.

:class:`BasicModel` looks its family up in the registry by name, builds the family's backbone
(:func:`~bmrun.models.backbones.build_backbone`: the shared input layers, normalisation and the
family's ``body``) and puts the shared head on it; :attr:`BasicModel.backbone` is that backbone as
a Keras model. The result is a Keras functional model that takes *raw* examples (pixel values,
token ids, unscaled features) and returns logits, or values in the target's own units for
regression. Its config is its constructor arguments
(keras-hub style: the family's name and keys), so a saved ``.keras`` file reloads in safe mode
wherever the family is registered.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import keras
import numpy as np

from bmrun.models.backbones import build_backbone, spatial_features
from bmrun.models.keys import COMMON_MODEL_KEYS, with_current_names
from bmrun.specs import MULTICLASS, REGRESSION
from bmrun.tasks import task_class
from bmrun import registry

# Constructor arguments shared by every family; anything else is the family's own config key.
_COMMON = ("input_shape", "input_kind", "num_outputs", "vocab_size", "input_mean", "input_variance", "task_kind",
           "target_mean", "target_std", "columns")


def _as_list(value: Any) -> Optional[list]:
    if value is None:
        return None
    return np.asarray(value, dtype=np.float32).tolist()


@keras.saving.register_keras_serializable(package="bmrun")
class BasicModel(keras.Model):
    """Base of every built-in bmrun model (functional; config = constructor arguments).

    Args:
        family: The registered family whose ``body`` maps the normalised input to features.
        input_shape: Shape of one example, without the batch axis.
        input_kind: ``image``, ``tokens``, ``sequence`` or ``tabular``.
        num_outputs: Logits (classes) or 1 (binary, regression).
        vocab_size: Token vocabulary size, for ``tokens`` inputs.
        input_mean, input_variance: Training-split statistics for input normalisation.
        target_mean, target_std: For regression: the head predicts standardised targets and a
            fixed rescaling returns them in the original units.
        columns: ``table``/``text`` inputs: the encoding fitted on the training split (see
            :mod:`bmrun.data.columns`); the model then takes raw column values.
        task_kind: The task kind whose head tops the backbone (:mod:`bmrun.tasks`); None (files
            saved before task kinds owned heads): a dense head of ``num_outputs``.
        name: Keras model name (the family's name by default).
        trainable: Keras's flag, kept so ``get_config()`` round-trips.
        **arguments: The family's config keys; missing ones take the family's defaults.
    """

    def __init__(self, family: str, *, input_shape: Sequence[int], input_kind: str, num_outputs: int,
                 vocab_size: Optional[int] = None, input_mean: Any = None, input_variance: Any = None,
                 target_mean: Optional[float] = None, target_std: Optional[float] = None,
                 columns: Optional[dict] = None, task_kind: Optional[str] = None, name: Optional[str] = None,
                 trainable: bool = True, **arguments):
        entry = registry.model(family)
        # The family's dataclass fills in defaults and checks ranges, as for a composed config.
        config = entry.config(name=family, **arguments)
        input_shape = tuple(int(d) for d in input_shape)
        # The task kind owns its head (a dense layer for classification and regression; a
        # dense head on spatial features for segmentation).
        task = task_class(task_kind or _vector_kind(num_outputs))
        body = build_backbone(entry.body, config, input_shape=input_shape, input_kind=input_kind,
                              vocab_size=vocab_size, input_mean=input_mean, input_variance=input_variance,
                              columns=columns, name=f"{name or family}_backbone", dense=task.dense)
        outputs = task.build_head(spatial_features(body) if task.dense else body.output, num_outputs)
        if target_mean is not None:
            outputs = task.scale_outputs(outputs, body.input, target_mean, target_std, columns)
        super().__init__(inputs=body.input, outputs=outputs, name=name or family, trainable=trainable)
        self.family = family
        self.arguments = {key: getattr(config, key) for key in _own_keys(config)}
        self.example_shape = list(input_shape)
        self.input_kind = input_kind
        self.num_outputs = num_outputs
        self.vocab_size = vocab_size
        self.input_mean = _as_list(input_mean)
        self.input_variance = _as_list(input_variance)
        self.target_mean = target_mean
        self.target_std = target_std
        self.columns = columns
        self.task_kind = task_kind
        # Not tracked: its layers are this model's own, so checkpoints and .keras files keep the
        # paths of a flat model (and files saved before backbones existed still load).
        object.__setattr__(self, "_backbone", body)

    @property
    def backbone(self) -> keras.Model:
        """Raw examples to the features the head reads (this model's own layers and variables)."""
        return self._backbone

    def get_config(self) -> dict:
        return {
            "family": self.family,
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": self.example_shape,
            "input_kind": self.input_kind,
            "num_outputs": self.num_outputs,
            "vocab_size": self.vocab_size,
            "input_mean": self.input_mean,
            "input_variance": self.input_variance,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
            "columns": self.columns,
            **({"task_kind": self.task_kind} if self.task_kind else {}),  # older files have none
            **self.arguments,
        }

    @classmethod
    def from_config(cls, config: dict):
        arguments = with_current_names(config)  # files saved before a key was renamed
        if arguments.get("family") == "cnn":  # saved before model.pooling: every cnn flattened
            arguments.setdefault("pooling", "flatten")
        return cls(**arguments)

    def backbone_layers(self) -> list:
        """The backbone's layers (kept for callers of the older name; prefer :attr:`backbone`)."""
        return self.backbone.layers


def _vector_kind(num_outputs: int) -> str:
    """The kind of a model saved without ``task_kind``: any kind with a dense head builds it."""
    return REGRESSION if num_outputs == 1 else MULTICLASS


def _own_keys(config: Any) -> list[str]:
    """The family's own keys (plain values: lists stay lists, so the config is JSON)."""
    return [key for key in vars(config) if key not in COMMON_MODEL_KEYS and key not in _COMMON]
