"""Recurrent network: [LSTM|GRU (bidirectional)] -> Dropout, stacked, then the dense head.

How each input kind becomes a sequence:

* images ``(H, W, C)`` are read top to bottom, one row of ``W * C`` pixels per step;
* tokens go through an ``Embedding`` with ``mask_zero=True``, so padding (id 0) is skipped and
  the last layer returns the state at the last real token;
* numeric sequences ``(steps, features)`` are read as they are.

Every setting that would stop TensorFlow from running the fused cuDNN kernel on a GPU is left at
its cuDNN-compatible value (see :func:`bmrun.models.layers.recurrent_layer`); dropout is applied
*between* layers instead of as recurrent dropout. bmrun's token data is right-padded, which is
the one masked layout cuDNN accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.specs import AUDIO, SERIES, TOKEN_PAIRS
from bmrun.data.catalog import IMAGE, SEQUENCE, TEXT, TOKENS
from bmrun.errors import ConfigError
from bmrun.models.family import Family, ModelConfig


@dataclass
class RnnConfig(ModelConfig):
    """``model=rnn``.

    Attributes:
        cell: ``lstm`` or ``gru``.
        num_layers: Recurrent layers; all but the last return their whole sequence.
        hidden_dim: Hidden state width of each layer (each direction when bidirectional).
        bidirectional: Read every sequence both ways and concatenate the two states (speech to
            text, ``data.transcripts``: true by default).
        dropout_rate: Dropout after each recurrent layer (between layers and before the head).
        embedding_dim: Token embedding width (``tokens`` inputs only).
        pooling: What the head reads: the ``last`` state, or the ``mean`` or ``max`` of the last
            layer's states over all steps (padding excluded from the mean). Pooling lets every
            step speak directly to the head, which helps where no step is special, such as
            the rows of an image. ``none`` keeps every step's state (``ctc``: one output per frame;
            the default of speech to text, ``data.transcripts``).
        decoder: Text pairs: ``attention`` makes an encoder–decoder with additive attention
            (see :mod:`bmrun.models.encoder_decoder`); ``none`` for an encoder alone.
    """

    cell: str = "lstm"
    num_layers: int = 1
    hidden_dim: int = 128
    bidirectional: bool = False
    dropout_rate: float = 0.0
    embedding_dim: int = 64  # token inputs only
    pooling: str = "last"  # last | mean | max | none
    decoder: str = "none"  # none | attention (text pairs, data.target_text)

    def __post_init__(self) -> None:
        super().__post_init__()
        choice("cell", self.cell, ("lstm", "gru"))
        at_least("num_layers", self.num_layers, 1)
        at_least("hidden_dim", self.hidden_dim, 1)
        at_least("embedding_dim", self.embedding_dim, 1)
        in_unit_interval("dropout_rate", self.dropout_rate)
        choice("pooling", self.pooling, ("last", "mean", "max", "none"))
        choice("decoder", self.decoder, ("none", "attention"))


def checks(config, task, inputs) -> None:
    """Text pairs need the attention decoder; other inputs have no text to write."""
    pairs, decoder = inputs.kind == TOKEN_PAIRS, config.model.decoder != "none"
    if pairs and not decoder:
        raise ConfigError("model.decoder", f"data={config.data.name} writes text (data.target_text), which needs "
                          f"a decoder: add model.decoder=attention (an encoder–decoder RNN)")
    if decoder and not pairs:
        raise ConfigError("model.decoder", f"a decoder writes text, and data={config.data.name} has {inputs.kind} "
                          f"inputs with one label each; use model.decoder=none")


def body(x, config: RnnConfig, inputs):
    """Stacked recurrent layers over image rows, token embeddings or numeric sequences."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # TensorFlow: only when this runs, never at --help or config composition
    from keras import ops

    # bmrun.models.layers loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.layers import masked_max, masked_mean, recurrent_layer

    if inputs.kind == TOKEN_PAIRS:
        # TensorFlow side (bmrun.models): kept out of --help and config composition
        from bmrun.models import encoder_decoder

        return encoder_decoder.rnn(x, config, inputs)
    shape, mask = inputs.shape, None
    if inputs.kind == TOKENS:
        if not inputs.vocab_size:
            raise ValueError("token inputs need vocab_size")
        mask = ops.not_equal(x, 0)  # for pooling: the layers get theirs from the Embedding
        x = keras.layers.Embedding(inputs.vocab_size, config.embedding_dim, mask_zero=True, name="embedding")(x)
    elif inputs.kind == IMAGE:
        x = keras.layers.Reshape((shape[0], shape[1] * shape[2]), name="rows")(x)
    elif len(shape) != 2:
        raise ValueError(f"rnn reads images, tokens or (steps, features) sequences; got {inputs.kind} {shape}")
    for i in range(config.num_layers):
        last = i == config.num_layers - 1
        sequences = not last or config.pooling != "last"
        layer = recurrent_layer(config.cell, config.hidden_dim, return_sequences=sequences, name=f"rnn_{i}")
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
        if config.dropout_rate:
            x = keras.layers.Dropout(config.dropout_rate, name=f"dropout_{i}")(x)
    # Pooling takes the padding mask explicitly: what a layer outputs at a masked step differs
    # (a repeated state forwards, zeros backwards in a Bidirectional layer).
    if config.pooling == "mean":
        x = masked_mean(x, mask)
    elif config.pooling == "max":
        x = masked_max(x, mask)
    return x  # pooling=none: every step's state (per-frame tasks such as ctc)


FAMILY = Family(name="rnn", config=RnnConfig, accepts=frozenset({IMAGE, SEQUENCE, TOKENS, TEXT, SERIES, AUDIO, TOKEN_PAIRS}),
                how="image rows, token embeddings (text too), numeric sequences or text pairs", body=body,
                checks=checks)
