"""Keras layers and layer recipes shared by the built-in families.

Imports Keras at the top, so family modules import this inside their ``body`` only. The custom
layers are registered under the ``bmrun`` package name, which is what safe-mode loading of a
saved ``.keras`` file looks up.
"""

from __future__ import annotations

import math
from typing import Optional

import keras
from keras import ops

from bmrun.data.catalog import TOKENS

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def flatten_input(x, input_kind: str, vocab_size: Optional[int]):
    """A flat feature vector for dense families: images and sequences flattened, tokens as a
    multi-hot bag of words (the classic linear text classifier)."""
    if input_kind == TOKENS:
        return keras.layers.CategoryEncoding(num_tokens=vocab_size, output_mode="multi_hot", name="bag_of_words")(x)
    if len(x.shape) > 2:
        return keras.layers.Flatten(name="flatten")(x)
    return x


def recurrent_layer(cell: str, units: int, *, return_sequences: bool, name: str):
    """One cuDNN-compatible LSTM or GRU layer.

    Args:
        cell: ``lstm`` or ``gru``.
        units: Width of the hidden state.
        return_sequences: Return every step (for a layer feeding another) or only the last.
        name: Layer name.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    # Spelled out rather than left to Keras defaults: these are the cuDNN kernel's conditions.
    options = dict(activation="tanh", recurrent_activation="sigmoid", use_bias=True, recurrent_dropout=0.0,
                   unroll=False, return_sequences=return_sequences, name=name)
    if cell == "gru":
        options["reset_after"] = True
    return CELLS[cell](units, **options)


@keras.saving.register_keras_serializable(package="bmrun")
class PositionEmbedding(keras.layers.Layer):
    """Adds a position signal to a ``(batch, length, dim)`` sequence.

    Args:
        mode: ``learned`` (a trained ``(length, dim)`` table) or ``sinusoidal`` (the fixed
            sine/cosine code of Vaswani et al. 2017, no weights).
    """

    def __init__(self, mode: str = "learned", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("learned", "sinusoidal"):
            raise ValueError(f"mode must be learned or sinusoidal, got {mode!r}")
        self.mode = mode
        self.positions = None

    def build(self, input_shape):
        if self.mode == "learned":
            length, dim = int(input_shape[-2]), int(input_shape[-1])
            self.positions = self.add_weight(shape=(length, dim), name="positions",
                                             initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        if self.mode == "learned":  # a shorter sequence (a decoded prefix) takes the first positions
            return x + ops.cast(self.positions[:ops.shape(x)[-2]], x.dtype)
        length, dim = ops.shape(x)[-2], x.shape[-1]
        position = ops.cast(ops.arange(length), "float32")[:, None]
        # Frequencies 1 / 10000^(2i/dim); sines fill the first half of the features, cosines the second.
        half = dim // 2
        frequency = ops.exp(ops.arange(half, dtype="float32") * (-math.log(10000.0) / max(half, 1)))
        angle = position * frequency[None, :]
        code = ops.concatenate([ops.sin(angle), ops.cos(angle)], axis=-1)
        if dim % 2:  # odd widths: one zero feature keeps the shape
            code = ops.pad(code, [[0, 0], [0, 1]])
        return x + ops.cast(code, x.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="bmrun")
class ClassToken(keras.layers.Layer):
    """Prepends one learned ``dim``-wide token to a ``(batch, length, dim)`` sequence."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, int(input_shape[-1])), name="token", initializer="zeros")

    def call(self, x):
        token = ops.broadcast_to(ops.cast(self.token, x.dtype), (ops.shape(x)[0], 1, x.shape[-1]))
        return ops.concatenate([token, x], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


def masked_max(x, mask: Optional[object]):
    """Max over the positions where ``mask`` is true (all of them when ``mask`` is None).

    Padded positions are pushed to the dtype's lowest value rather than zeroed: a zero could win
    the max wherever every real position is negative. An all-padding example pools to zeros.
    """
    if mask is None:
        return ops.max(x, axis=1)
    keep = ops.expand_dims(mask, -1)
    lowest = ops.cast(-3.0e4 if x.dtype in ("float16", "bfloat16") else -3.0e38, x.dtype)
    pooled = ops.max(ops.where(keep, x, lowest), axis=1)
    return ops.where(ops.any(keep, axis=1), pooled, ops.zeros_like(pooled))


def masked_mean(x, mask: Optional[object]):
    """Mean over the positions where ``mask`` is true (all of them when ``mask`` is None)."""
    if mask is None:
        return ops.mean(x, axis=1)
    weights = ops.cast(ops.expand_dims(mask, -1), x.dtype)
    # max(count, 1): an all-padding example pools to zeros instead of NaN.
    return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), ops.cast(1, x.dtype))
