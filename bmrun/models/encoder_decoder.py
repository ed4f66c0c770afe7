"""Encoder–decoder bodies for text pairs (``token_pairs`` inputs; see :mod:`bmrun.data.tokens`).

Both read ``{"source": ids, "target_in": start + target ids}`` and return one feature vector per
target position; the task's head (:mod:`bmrun.tasks.seq2seq`) turns each into logits over the
vocabulary. Training is teacher-forced: every position of the target is predicted at once from
the true previous tokens. Every position depends only on the target tokens before it, so
decoding (:mod:`bmrun.tasks.decoding`) runs the same model on its own prefix.

* ``model=transformer model.decoder_layers=N``: the encoder is the family's own pre-norm blocks
  over the embedded source; each decoder block is causal self-attention, cross-attention to the
  encoder's output and an MLP, each pre-norm with a residual add (Vaswani et al. 2017).
* ``model=rnn model.decoder=attention``: an LSTM/GRU encoder, a decoder of the same cell started
  from the encoder's final state, and additive (Bahdanau) attention of each decoder state over
  the encoder's states; the context and the state go through a tanh layer (Luong's placement,
  which keeps the decoder one fused recurrent layer under teacher forcing).

The source and the target share one embedding (one joint vocabulary). Padding (id 0) is masked
out of every attention and recurrence.
"""

from __future__ import annotations

from typing import Callable


def transformer(x, config, inputs, encoder_block: Callable):
    """The transformer encoder–decoder: ``(batch, length, hidden_dim)`` decoder features."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras
    from keras import ops

    # bmrun.models.layers loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.layers import PositionEmbedding

    source, target = x["source"], x["target_in"]
    source_mask, target_mask = ops.not_equal(source, 0), ops.not_equal(target, 0)
    embedding = keras.layers.Embedding(inputs.vocab_size, config.hidden_dim, name="embedding")
    memory = PositionEmbedding(config.position, name="position_embedding")(embedding(source))
    for i in range(config.num_layers):
        memory = encoder_block(memory, ops.expand_dims(source_mask, 1), i, config)
    memory = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(memory)
    y = PositionEmbedding(config.position, name="target_position_embedding")(embedding(target))
    for i in range(config.decoder_layers):
        y = _decoder_block(y, memory, ops.expand_dims(target_mask, 1), ops.expand_dims(source_mask, 1), i, config)
    return keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")(y)


def _decoder_block(y, memory, target_mask, source_mask, index: int, config):
    """Causal self-attention, cross-attention to ``memory``, MLP: each pre-norm and residual."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    prefix, heads, key_dim = f"decoder_{index}", config.num_heads, config.hidden_dim // config.num_heads

    def residual(y, update, name):
        if config.dropout_rate:
            update = keras.layers.Dropout(config.dropout_rate, name=f"{name}_dropout")(update)
        return keras.layers.Add(name=f"{name}_residual")([y, update])

    z = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_self_norm")(y)
    z = keras.layers.MultiHeadAttention(heads, key_dim, name=f"{prefix}_self_attention")(
        z, z, attention_mask=target_mask, use_causal_mask=True)
    y = residual(y, z, f"{prefix}_self")
    z = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_cross_norm")(y)
    z = keras.layers.MultiHeadAttention(heads, key_dim, name=f"{prefix}_cross_attention")(
        z, memory, attention_mask=source_mask)
    y = residual(y, z, f"{prefix}_cross")
    z = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_mlp_norm")(y)
    z = keras.layers.Dense(config.intermediate_dim, activation="gelu", name=f"{prefix}_mlp_hidden")(z)
    z = keras.layers.Dense(config.hidden_dim, name=f"{prefix}_mlp_output")(z)
    return residual(y, z, f"{prefix}_mlp")


def rnn(x, config, inputs):
    """The recurrent encoder–decoder with additive attention: ``(batch, length, hidden_dim)``."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras
    from keras import ops

    cell = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[config.cell]
    source, target = x["source"], x["target_in"]
    source_mask, target_mask = ops.not_equal(source, 0), ops.not_equal(target, 0)
    embedding = keras.layers.Embedding(inputs.vocab_size, config.embedding_dim, name="embedding")
    encoded = embedding(source)
    for i in range(config.num_layers - 1):
        encoded = cell(config.hidden_dim, return_sequences=True, name=f"encoder_{i}")(encoded, mask=source_mask)
    memory, *state = cell(config.hidden_dim, return_sequences=True, return_state=True,
                          name=f"encoder_{config.num_layers - 1}")(encoded, mask=source_mask)
    decoded = cell(config.hidden_dim, return_sequences=True, name="decoder")(
        embedding(target), mask=target_mask, initial_state=state)
    if config.dropout_rate:
        decoded = keras.layers.Dropout(config.dropout_rate, name="decoder_dropout")(decoded)
    context = keras.layers.AdditiveAttention(name="cross_attention")([decoded, memory],
                                                                      mask=[target_mask, source_mask])
    joined = keras.layers.Concatenate(name="state_and_context")([decoded, context])
    return keras.layers.Dense(config.hidden_dim, activation="tanh", name="attention_output")(joined)
