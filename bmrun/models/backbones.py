"""Backbones: a model's raw inputs to the features its head reads, as a Keras model of their own.

Following keras-hub's split, a task model is a *backbone* (inputs → normalisation or encoding →
the family's body → features) plus a *head*. :func:`build_backbone` builds a built-in family's
backbone; :class:`~bmrun.models.base.BasicModel` puts the head on its output. The backbone is a
functional model over the task model's own graph: the same layer objects, so the task model keeps
its layer names and variable paths (checkpoints, ``.keras`` files and the explanations' layer
lookups are those of a flat model) while freezing, ``model.init_from`` and pretext heads work on
the backbone as one object.

For any model bmrun trains: :func:`backbone` gives the backbone, :func:`features` its output
tensor, :func:`with_head` a new model with another head (a projection MLP, a decoder) on the
same backbone, sharing its variables. A plugin's model (see :mod:`bmrun.models.plugin`) has no
declared backbone: its head is its last layer with weights, by the plugin protocol.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import keras
import numpy as np

from bmrun.data.catalog import TABLE, TEXT, TOKENS, InputSpec
from bmrun.errors import ConfigError
from bmrun.specs import AUDIO, MULTIMODAL, SERIES, TOKEN_PAIRS
from bmrun.models.columns import column_front
from bmrun.models.audio import audio_front
from bmrun.tasks.series import LastValueOffset


def build_backbone(body: Callable, config: Any, *, input_shape: tuple, input_kind: str,
                   vocab_size: Optional[int] = None, input_mean: Any = None, input_variance: Any = None,
                   columns: Optional[dict] = None, name: str = "backbone", dense: bool = False) -> keras.Model:
    """A built-in family's backbone: raw examples to features.

    Args:
        body: The family's ``body(x, config, spec) -> features``.
        config: The family's config (its dataclass).
        input_shape, input_kind, vocab_size: One example's shape and kind (see
            :class:`~bmrun.data.catalog.InputSpec`).
        input_mean, input_variance: Training-split statistics for the input normalisation.
        columns: ``table``/``text`` inputs: the fitted column encoding; the backbone then takes
            raw column values.
        name: The Keras model's name.
        dense: The body keeps spatial features for a dense head (see :func:`spatial_features`).

    Returns:
        A functional Keras model from raw examples to the body's features.
    """
    spec = InputSpec(input_kind, tuple(input_shape), vocab_size, dense)
    if input_kind == MULTIMODAL:  # one input per column: the body adds them to `inputs` as it encodes
        inputs: dict = {}
        features = body((inputs, columns), config, spec)
        return keras.Model(inputs, features, name=name)
    if input_kind == TOKEN_PAIRS:  # teacher forcing: the source and the target shifted right
        # Shape (source width, target width); one width for both in runs made before they differed.
        inputs = {name: keras.Input(shape=(int(input_shape[i]),), dtype="int32", name=name)
                  for i, name in ((0, "source"), (-1, "target_in"))}
        x = inputs
    elif input_kind in (TABLE, TEXT):  # raw columns: the model encodes them itself

        inputs, x, spec = column_front(columns, input_kind, vocab_size)
    elif input_kind == AUDIO:  # raw waveforms: the model computes its own log-mel spectrogram

        inputs, x, spec = audio_front(columns, tuple(input_shape))
    else:
        inputs = keras.Input(shape=tuple(input_shape), dtype="int32" if input_kind == TOKENS else "float32",
                             name="inputs")
        x = inputs
    if input_kind == SERIES:  # forecasting: targets read relative to their last observed value

        x = LastValueOffset(len(columns["series"]["targets"]), name="last_value_offset")(x)
    if input_mean is not None and input_kind not in (TOKENS, TABLE, TEXT, AUDIO, TOKEN_PAIRS):
        x = keras.layers.Normalization(axis=None if np.ndim(input_mean) == 0 else -1, mean=input_mean,
                                       variance=input_variance, name="normalize")(x)
    return keras.Model(inputs, body(x, config, spec), name=name)


def backbone(model) -> keras.Model:
    """The backbone of a model bmrun trains: its own for bmrun's models, else everything before
    the last layer with weights (a plugin's head, by the plugin protocol).

    Raises:
        ConfigError: A plugin's model with no layer that has weights: no head to set aside.
    """
    own = getattr(model, "backbone", None)
    if isinstance(own, keras.Model):
        return own
    weighted = [layer for layer in model.layers if layer.weights]
    if not weighted:
        raise ConfigError("model", f"the {model.name} model has no layer with weights: no head to set aside "
                          f"from its backbone")
    return keras.Model(model.input, weighted[-1].input, name=f"{model.name}_backbone")


def features(model):
    """The backbone's output tensor: the features the model's head reads."""
    return backbone(model).output


def head_layers(model) -> list:
    """The model's layers after its backbone (the head, and any fixed output rescaling)."""
    inside = {id(layer) for layer in backbone(model).layers}
    return [layer for layer in model.layers if id(layer) not in inside]


def with_head(model, head: Callable, *, keep_outputs: bool = False, name: Optional[str] = None) -> keras.Model:
    """A model sharing ``model``'s backbone (same layers, same variables) with another head.

    Args:
        model: A model bmrun trains (built-in family or plugin).
        head: ``head(features) -> tensor``: builds the new head's layers on the features.
        keep_outputs: Return ``[model's outputs..., head output]`` (training the task and the
            new head together) instead of the new head's output alone.
        name: The new model's name (``<model>_with_head`` by default).

    Returns:
        A functional Keras model taking what ``model`` takes.
    """
    body = backbone(model)
    out = head(body.output)
    outputs = [*model.outputs, out] if keep_outputs else out
    return keras.Model(body.input, outputs, name=name or f"{model.name}_with_head")


def spatial_features(body: keras.Model) -> dict:
    """A dense backbone's features as maps a dense head can upsample (segmentation).

    Three shapes of body output are understood: a full-size map (``unet``: used as it is), a
    smaller map (``cnn``: its blocks' activations before each pooling are the skips, finest
    first) and patch tokens (``transformer``: the class token dropped, the rest laid back on
    the patch grid).

    Returns:
        ``{"maps": [finest, ..., coarsest], "size": (height, width)}``: the head upsamples to ``size``.
    """
    height, width = (int(side) for side in body.input.shape[1:3])
    out = body.output
    if len(out.shape) == 3:  # tokens (batch, patches (+ class token), hidden)
        if any(layer.name == "class_token" for layer in body.layers):
            out = out[:, 1:]
        side = int(round((height * width / out.shape[1]) ** 0.5))  # the patch size
        out = keras.layers.Reshape((height // side, width // side, out.shape[-1]), name="token_grid")(out)
        return {"maps": [out], "size": (height, width)}
    skips = [layer.output for layer in body.layers
             if layer.name.startswith("act_") and len(layer.output.shape) == 4
             and layer.output.shape[1] > out.shape[1]]
    skips.sort(key=lambda t: -int(t.shape[1]))
    return {"maps": [*skips, out], "size": (height, width)}
