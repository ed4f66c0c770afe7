"""Transformer encoder (pre-norm, ViT style) over image patches, tokens or numeric sequences.

Inputs become a ``(length, hidden_dim)`` sequence first:

* images: non-overlapping ``patch_size`` x ``patch_size`` patches, each linearly projected
  (a Conv2D whose kernel and stride are the patch size), so a 28x28 image with patch 4 gives
  49 tokens; or, with ``stem=conv``, the same grid of tokens from a small stack of 3x3
  stride-2 convolutions (a convolutional tokenizer: overlapping receptive fields give the
  tokens the locality a linear patch lacks, which small datasets cannot teach attention);
* tokens: an ``Embedding``; padding (id 0) is masked out of attention and of mean pooling;
* numeric sequences: a ``Dense`` projection of each step's features.

Then an optional class token, a position embedding, ``num_layers`` blocks of
``x + Dropout(MHA(LN(x)))`` and ``x + Dropout(MLP(LN(x)))``, a final LayerNorm and pooling
(the class token, or the mean over non-padding positions). Every shape is static, so the model
compiles under XLA.
"""

from __future__ import annotations

from dataclasses import dataclass

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.specs import AUDIO, SERIES, TOKEN_PAIRS
from bmrun.data.catalog import IMAGE, SEQUENCE, TEXT, TOKENS
from bmrun.errors import ConfigError
from bmrun.models.family import Family, ModelConfig


@dataclass
class TransformerConfig(ModelConfig):
    """``model=transformer``.

    Attributes:
        num_layers: Encoder blocks.
        num_heads: Attention heads per block (``hidden_dim`` must be divisible by it).
        hidden_dim: Width of the residual stream.
        intermediate_dim: Hidden width of each block's MLP.
        dropout_rate: Dropout on each block's attention and MLP outputs (before the residual add).
        patch_size: Side of the square image patches (``image`` inputs only).
        position: ``learned`` or ``sinusoidal`` position embedding.
        pooling: ``mean`` (over non-padding positions) or ``cls`` (a prepended class token).
        stem: ``patch`` (linear patch projection) or ``conv`` (log2(patch_size) 3x3 stride-2
            convolutions with ReLU; ``patch_size`` must then be a power of two).
        decoder_layers: Text pairs: decoder blocks of the encoder–decoder (see
            :mod:`bmrun.models.encoder_decoder`); 0 for an encoder alone.
    """

    num_layers: int = 2
    num_heads: int = 4
    hidden_dim: int = 64
    intermediate_dim: int = 128
    dropout_rate: float = 0.0
    patch_size: int = 4  # image inputs: 28x28 -> 49 patches
    position: str = "learned"  # learned | sinusoidal
    pooling: str = "mean"  # mean | cls
    stem: str = "patch"  # patch | conv (image inputs)
    decoder_layers: int = 0  # text pairs (data.target_text): > 0 makes an encoder–decoder

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim", "patch_size"):
            at_least(key, getattr(self, key), 1)
        if self.hidden_dim % self.num_heads:
            raise ConfigError("hidden_dim", f"{self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        choice("position", self.position, ("learned", "sinusoidal"))
        choice("pooling", self.pooling, ("mean", "cls"))
        choice("stem", self.stem, ("patch", "conv"))
        if self.stem == "conv" and self.patch_size & (self.patch_size - 1):
            raise ConfigError("patch_size", f"stem=conv halves the image per convolution, so patch_size must be a "
                              f"power of two (2, 4, 8, ...); got {self.patch_size}")
        in_unit_interval("dropout_rate", self.dropout_rate)
        at_least("decoder_layers", self.decoder_layers, 0)


def checks(config, task, inputs) -> None:
    """Image patches must tile the image exactly."""
    pairs, decoder = inputs.kind == TOKEN_PAIRS, config.model.decoder_layers
    if pairs and not decoder:
        raise ConfigError("model.decoder_layers", f"data={config.data.name} writes text (data.target_text), which "
                          f"needs a decoder: add model.decoder_layers=2 (an encoder–decoder transformer)")
    if decoder and not pairs:
        raise ConfigError("model.decoder_layers", f"a decoder writes text, and data={config.data.name} has "
                          f"{inputs.kind} inputs with one label each; use model.decoder_layers=0")
    patch = config.model.patch_size
    if inputs.kind == IMAGE and (inputs.shape[0] % patch or inputs.shape[1] % patch):
        raise ConfigError("model.patch_size", f"{patch} does not divide the {inputs.shape[0]}x{inputs.shape[1]} "
                          f"images of data={config.data.name}")


def body(x, config: TransformerConfig, inputs):
    """Embed, add positions, encode, pool (text pairs: the encoder–decoder)."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras
    from keras import ops

    # bmrun.models.layers loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.layers import ClassToken, PositionEmbedding, masked_mean

    if inputs.kind == TOKEN_PAIRS:
        # TensorFlow side (bmrun.models): kept out of --help and config composition
        from bmrun.models import encoder_decoder

        return encoder_decoder.transformer(x, config, inputs, _encoder_block)
    x, mask = _embed(x, inputs, config)
    if config.pooling == "cls":
        x = ClassToken(name="class_token")(x)
        if mask is not None:  # the class token is never padding
            mask = ops.concatenate([ops.ones_like(mask[:, :1]), mask], axis=1)
    x = PositionEmbedding(config.position, name="position_embedding")(x)
    if config.dropout_rate:
        x = keras.layers.Dropout(config.dropout_rate, name="embedding_dropout")(x)
    # (batch, 1, length): every query may attend to every real key; padded queries are
    # computed too but never pooled.
    attention_mask = None if mask is None else ops.expand_dims(mask, 1)
    for i in range(config.num_layers):
        x = _encoder_block(x, attention_mask, i, config)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    if inputs.dense:  # segmentation: every patch token; the task's head lays them on the patch grid
        return x
    return x[:, 0] if config.pooling == "cls" else masked_mean(x, mask)


def _embed(x, inputs, config: TransformerConfig):
    """The input as a ``(batch, length, hidden_dim)`` sequence and its padding mask (or None)."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras
    from keras import ops

    shape, hidden_dim, patch_size = inputs.shape, config.hidden_dim, config.patch_size
    if inputs.kind == TOKENS:
        if not inputs.vocab_size:
            raise ValueError("token inputs need vocab_size")
        # The mask is computed here and passed explicitly rather than through Keras' implicit
        # mask propagation, which ops such as the residual adds would not carry.
        mask = ops.not_equal(x, 0)
        return keras.layers.Embedding(inputs.vocab_size, hidden_dim, name="embedding")(x), mask
    if inputs.kind == IMAGE:
        height, width = shape[0], shape[1]
        if height % patch_size or width % patch_size:
            raise ValueError(f"patch_size={patch_size} does not divide {height}x{width} images")
        if config.stem == "conv":
            x = _conv_stem(x, hidden_dim, patch_size)
        else:
            x = keras.layers.Conv2D(hidden_dim, patch_size, strides=patch_size, name="patch_embedding")(x)
        length = (height // patch_size) * (width // patch_size)
        return keras.layers.Reshape((length, hidden_dim), name="patches")(x), None
    if len(shape) != 2:
        raise ValueError(f"transformer reads images, tokens or (steps, features) sequences; got {inputs.kind} {shape}")
    return keras.layers.Dense(hidden_dim, name="input_projection")(x), None


def _conv_stem(x, hidden_dim: int, patch_size: int):
    """3x3 stride-2 convolutions down to the patch grid, widening to ``hidden_dim`` at the last."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    halvings = patch_size.bit_length() - 1
    for i in range(halvings):
        width = max(hidden_dim >> (halvings - 1 - i), 8)  # e.g. 32 then 64 for hidden_dim 64
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", name=f"stem_conv_{i}")(x)
        if i < halvings - 1:  # the last convolution is the (linear) token projection
            x = keras.layers.Activation("relu", name=f"stem_act_{i}")(x)
    return x


def _encoder_block(x, attention_mask, index: int, config: TransformerConfig):
    """``x + Dropout(MHA(LN(x)))`` then ``x + Dropout(MLP(LN(x)))``."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    prefix, rate = f"block_{index}", config.dropout_rate
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_attention_norm")(x)
    y = keras.layers.MultiHeadAttention(config.num_heads, config.hidden_dim // config.num_heads,
                                        name=f"{prefix}_attention")(y, y, attention_mask=attention_mask)
    if rate:
        y = keras.layers.Dropout(rate, name=f"{prefix}_attention_dropout")(y)
    x = keras.layers.Add(name=f"{prefix}_attention_residual")([x, y])
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_mlp_norm")(x)
    y = keras.layers.Dense(config.intermediate_dim, activation="gelu", name=f"{prefix}_mlp_hidden")(y)
    y = keras.layers.Dense(config.hidden_dim, name=f"{prefix}_mlp_output")(y)
    if rate:
        y = keras.layers.Dropout(rate, name=f"{prefix}_mlp_dropout")(y)
    return keras.layers.Add(name=f"{prefix}_mlp_residual")([x, y])


FAMILY = Family(name="transformer", config=TransformerConfig, accepts=frozenset({IMAGE, SEQUENCE, TOKENS, TEXT, SERIES, AUDIO, TOKEN_PAIRS}),
                how="image patches, token embeddings (text too), numeric sequences or text pairs", body=body, checks=checks)
