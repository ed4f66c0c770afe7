"""Transformer encoder (pre-norm, ViT style) over image patches, tokens or numeric sequences.

Inputs become a ``(length, hidden_dim)`` sequence first:

* images: non-overlapping ``patch_size`` x ``patch_size`` patches, each linearly projected
  (a Conv2D whose kernel and stride are the patch size), so a 28x28 image with patch 4 gives
  49 tokens;
* tokens: an ``Embedding``; padding (id 0) is masked out of attention and of mean pooling;
* numeric sequences: a ``Dense`` projection of each step's features.

Then an optional class token, a position embedding, ``num_layers`` blocks of
``x + Dropout(MHA(LN(x)))`` and ``x + Dropout(MLP(LN(x)))``, a final LayerNorm and pooling
(the class token, or the mean over non-padding positions). Every shape is static, so the model
compiles under XLA.
"""

from __future__ import annotations

import math
from typing import Optional

import keras
from keras import ops

from bmrun.models.base import IMAGE, TOKENS, BasicModel


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
        if self.mode == "learned":
            return x + ops.cast(self.positions, x.dtype)
        length, dim = x.shape[-2], x.shape[-1]
        position = ops.arange(length, dtype="float32")[:, None]
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


def masked_mean(x, mask: Optional[object]):
    """Mean over the positions where ``mask`` is true (all of them when ``mask`` is None)."""
    if mask is None:
        return ops.mean(x, axis=1)
    weights = ops.cast(ops.expand_dims(mask, -1), x.dtype)
    # max(count, 1): an all-padding example pools to zeros instead of NaN.
    return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), ops.cast(1, x.dtype))


@keras.saving.register_keras_serializable(package="bmrun")
class Transformer(BasicModel):
    """Pre-norm transformer encoder with class-token or mean pooling.

    Args:
        num_layers: Encoder blocks.
        num_heads: Attention heads per block (``hidden_dim`` must be divisible by it).
        hidden_dim: Width of the residual stream.
        mlp_dim: Hidden width of each block's MLP.
        dropout_rate: Dropout on each block's attention and MLP outputs (before the residual add).
        patch_size: Side of the square image patches (``image`` inputs only).
        position: ``learned`` or ``sinusoidal`` position embedding.
        pooling: ``mean`` (over non-padding positions) or ``cls`` (a prepended class token).
        **common: See :class:`BasicModel`.
    """

    def __init__(self, num_layers: int = 2, num_heads: int = 4, hidden_dim: int = 64, mlp_dim: int = 128,
                 dropout_rate: float = 0.0, patch_size: int = 4, position: str = "learned", pooling: str = "mean",
                 **common):
        kind = common["input_kind"]
        shape = tuple(int(d) for d in common["input_shape"])
        vocab_size = common.get("vocab_size")
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}")
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be mean or cls, got {pooling!r}")

        def body(x):
            x, mask = _embed(x, kind, shape, vocab_size, hidden_dim, patch_size)
            if pooling == "cls":
                x = ClassToken(name="class_token")(x)
                if mask is not None:  # the class token is never padding
                    mask = ops.concatenate([ops.ones_like(mask[:, :1]), mask], axis=1)
            x = PositionEmbedding(position, name="position_embedding")(x)
            if dropout_rate:
                x = keras.layers.Dropout(dropout_rate, name="embedding_dropout")(x)
            # (batch, 1, length): every query may attend to every real key; padded queries are
            # computed too but never pooled.
            attention_mask = None if mask is None else ops.expand_dims(mask, 1)
            for i in range(num_layers):
                x = _encoder_block(x, attention_mask, i, num_heads, hidden_dim, mlp_dim, dropout_rate)
            x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
            return x[:, 0] if pooling == "cls" else masked_mean(x, mask)

        super().__init__(body, **common)
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.dropout_rate = dropout_rate
        self.patch_size = patch_size
        self.position = position
        self.pooling = pooling

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers, "num_heads": self.num_heads,
                "hidden_dim": self.hidden_dim, "mlp_dim": self.mlp_dim, "dropout_rate": self.dropout_rate,
                "patch_size": self.patch_size, "position": self.position, "pooling": self.pooling}


def _embed(x, kind: str, shape: tuple, vocab_size: Optional[int], hidden_dim: int, patch_size: int):
    """The input as a ``(batch, length, hidden_dim)`` sequence and its padding mask (or None)."""
    if kind == TOKENS:
        if not vocab_size:
            raise ValueError("token inputs need vocab_size")
        # The mask is computed here and passed explicitly rather than through Keras' implicit
        # mask propagation, which ops such as the residual adds would not carry.
        mask = ops.not_equal(x, 0)
        return keras.layers.Embedding(vocab_size, hidden_dim, name="embedding")(x), mask
    if kind == IMAGE:
        height, width = shape[0], shape[1]
        if height % patch_size or width % patch_size:
            raise ValueError(f"patch_size={patch_size} does not divide {height}x{width} images")
        x = keras.layers.Conv2D(hidden_dim, patch_size, strides=patch_size, name="patch_embedding")(x)
        length = (height // patch_size) * (width // patch_size)
        return keras.layers.Reshape((length, hidden_dim), name="patches")(x), None
    if len(shape) != 2:
        raise ValueError(f"transformer reads images, tokens or (steps, features) sequences; got {kind} {shape}")
    return keras.layers.Dense(hidden_dim, name="input_projection")(x), None


def _encoder_block(x, attention_mask, index: int, num_heads: int, hidden_dim: int, mlp_dim: int,
                   dropout_rate: float):
    """``x + Dropout(MHA(LN(x)))`` then ``x + Dropout(MLP(LN(x)))``."""
    prefix = f"block_{index}"
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_attention_norm")(x)
    y = keras.layers.MultiHeadAttention(num_heads, hidden_dim // num_heads, name=f"{prefix}_attention")(
        y, y, attention_mask=attention_mask)
    if dropout_rate:
        y = keras.layers.Dropout(dropout_rate, name=f"{prefix}_attention_dropout")(y)
    x = keras.layers.Add(name=f"{prefix}_attention_residual")([x, y])
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_mlp_norm")(x)
    y = keras.layers.Dense(mlp_dim, activation="gelu", name=f"{prefix}_mlp_hidden")(y)
    y = keras.layers.Dense(hidden_dim, name=f"{prefix}_mlp_output")(y)
    if dropout_rate:
        y = keras.layers.Dropout(dropout_rate, name=f"{prefix}_mlp_dropout")(y)
    return keras.layers.Add(name=f"{prefix}_mlp_residual")([x, y])
