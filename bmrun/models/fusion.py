"""The Keras side of ``model=multimodal``: modality encoders, the absent image, the fusion.

Every layer here is named ``mm_<...>`` (:mod:`bmrun.data.columns` keeps such names free of
column keys), and each image or text encoder is a nested Keras model, so two encoders of one
family (a text and an image transformer) keep their own layer names. The model takes a dict of
raw columns: numbers and category strings (the table, :func:`~bmrun.models.columns.column_front`),
text strings, and float pixels per image column with ``NaN`` for a row without an image.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import keras
from keras import ops

from bmrun.specs import IMAGE, REGRESSION, TABLE, TOKENS, InputSpec, TaskSpec
from bmrun.models.columns import column_front
from bmrun import registry
from bmrun.models.backbones import backbone
from bmrun.models.plugin import build_checked


@keras.saving.register_keras_serializable(package="bmrun")
class SplitAbsent(keras.layers.Layer):
    """Float pixels with NaN for "no image" -> (pixels with zeros there, 1.0 where absent)."""

    def call(self, pixels):
        missing = ops.any(ops.isnan(ops.reshape(pixels, (ops.shape(pixels)[0], -1))), axis=-1, keepdims=True)
        clean = ops.where(ops.isnan(pixels), ops.zeros_like(pixels), pixels)
        return clean, ops.cast(missing, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape, (input_shape[0], 1)


@keras.saving.register_keras_serializable(package="bmrun")
class AbsentToken(keras.layers.Layer):
    """A modality's token, replaced by a learned "absent" embedding where its input is missing."""

    def build(self, input_shape):
        self.absent = self.add_weight(shape=(int(input_shape[0][-1]),), initializer="zeros", name="absent")

    def call(self, inputs):
        token, missing = inputs
        absent = ops.cast(self.absent, token.dtype)
        return token * (1.0 - ops.cast(missing, token.dtype)) + absent * ops.cast(missing, token.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="bmrun")
class ModalityTokens(keras.layers.Layer):
    """Tokens (batch, width) each -> (batch, modalities, width) plus a learned modality embedding."""

    def build(self, input_shape):
        self.embedding = self.add_weight(shape=(len(input_shape), int(input_shape[0][-1])),
                                         initializer="zeros", name="modality_embedding")

    def call(self, tokens):
        stacked = ops.stack(list(tokens), axis=1)
        return stacked + ops.cast(self.embedding, stacked.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(input_shape), input_shape[0][-1])


def fused_features(x: Any, config: Any):
    """The fused features of every modality; fills the model's input dict as it goes.

    Args:
        x: ``(inputs, columns)``: the dict the backbone takes as input (empty; filled here,
            keyed by column key) and the fitted encoding (``columns["modalities"]``).
        config: The family's :class:`~bmrun.models.multimodal.MultimodalConfig`.
    """
    inputs, columns = x
    modalities = columns["modalities"]
    tokens = []
    if modalities.get("table"):
        table_inputs, encoded, _ = column_front(modalities["table"], TABLE, None)
        inputs.update(table_inputs)
        tokens.append(keras.layers.Dense(config.width, activation="relu", name="mm_table")(encoded))
    for i, column in enumerate(modalities["texts"]):
        inputs[column["key"]] = keras.Input(shape=(), dtype="string", name=column["key"])
        tokens.append(_text_token(inputs[column["key"]], column, config, i))
    for i, column in enumerate(modalities["images"]):
        inputs[column["key"]] = keras.Input(shape=tuple(column["shape"]), dtype="float32", name=column["key"])
        tokens.append(_image_token(inputs[column["key"]], column, config, i))
    if config.fusion == "attention":
        sequence = ModalityTokens(name="mm_tokens")(tokens)
        heads = max(1, min(config.num_heads, config.width))
        attended = keras.layers.MultiHeadAttention(heads, max(1, config.width // heads), name="mm_attention")(
            sequence, sequence)
        sequence = keras.layers.LayerNormalization(name="mm_norm")(keras.layers.Add(name="mm_residual")(
            [sequence, attended]))
        fused = keras.layers.GlobalAveragePooling1D(name="mm_pool")(sequence)
    else:
        fused = tokens[0] if len(tokens) == 1 else keras.layers.Concatenate(name="mm_concat")(tokens)
    for i, width in enumerate(config.hidden_dims):
        fused = keras.layers.Dense(width, activation="relu", name=f"mm_dense_{i}")(fused)
        if config.dropout_rate:
            fused = keras.layers.Dropout(config.dropout_rate, name=f"mm_dropout_{i}")(fused)
    return fused


def _text_token(strings, column: dict, config: Any, i: int):
    vocabulary = column["vocabulary"] or ["[none]"]
    vocab_size = len(vocabulary) + 2  # 0 pads, 1 is out of vocabulary
    tokens = keras.layers.TextVectorization(vocabulary=vocabulary, output_sequence_length=int(column["max_len"]),
                                            name=f"mm_vectorize_{i}")(strings)
    kind = config.encoders["text"]
    if kind == "bag":
        encoded = keras.layers.CategoryEncoding(num_tokens=vocab_size, output_mode="multi_hot",
                                                name=f"mm_bag_{i}")(tokens)
    else:
        spec = InputSpec(TOKENS, (int(column["max_len"]),), vocab_size=vocab_size)
        encoded = _family_encoder(kind, spec, f"mm_text_{i}")(ops.cast(tokens, "int32"))
    return keras.layers.Dense(config.width, activation="relu", name=f"mm_text_token_{i}")(encoded)


def _image_token(pixels, column: dict, config: Any, i: int):
    clean, missing = SplitAbsent(name=f"mm_absent_mask_{i}")(pixels)
    shape = tuple(int(d) for d in column["shape"])
    normal = keras.layers.Normalization(axis=None, mean=column["mean"], variance=column["variance"],
                                        name=f"mm_normalize_{i}")(clean)
    encoded = _family_encoder(config.encoders["image"], InputSpec(IMAGE, shape), f"mm_image_{i}")(normal)
    if len(encoded.shape) > 2:
        encoded = keras.layers.Flatten(name=f"mm_flatten_{i}")(encoded)
    token = keras.layers.Dense(config.width, activation="relu", name=f"mm_image_token_{i}")(encoded)
    return AbsentToken(name=f"mm_absent_{i}")([token, missing])


def _family_encoder(name: str, spec: InputSpec, model_name: str) -> keras.Model:
    """A registered family's backbone (its default keys) as one nested model."""

    entry = registry.model(name)
    config = entry.config(name=name)
    if hasattr(entry, "body"):  # a rich family: its body on an input of its own
        given = keras.Input(shape=spec.shape, dtype="int32" if spec.kind == TOKENS else "float32",
                            name=f"{model_name}_input")
        return keras.Model(given, entry.body(given, config, spec), name=model_name)

    # A plugin's build callable: its model for this input, without its head (the plugin protocol).
    data = SimpleNamespace(inputs=spec, task=TaskSpec(REGRESSION))
    model = entry.build(config, data) if not hasattr(entry, "fn") else build_checked(
        entry.fn, {key: getattr(config, key) for key in entry.keys}, data, f"model.encoders.image={name}")
    inner = backbone(model)
    return keras.Model(inner.input, inner.output, name=model_name)
