"""Recurrent network: [LSTM|GRU (bidirectional)] -> Dropout, stacked, then the dense head.

How each input kind becomes a sequence:

* images ``(H, W, C)`` are read top to bottom, one row of ``W * C`` pixels per step;
* tokens go through an ``Embedding`` with ``mask_zero=True``, so padding (id 0) is skipped and
  the last layer returns the state at the last real token;
* numeric sequences ``(steps, features)`` are read as they are.

Every setting that would stop TensorFlow from running the fused cuDNN kernel on a GPU is left at
its cuDNN-compatible value: tanh/sigmoid activations, biases, no recurrent dropout (dropout is
applied *between* layers instead), no unrolling and ``reset_after=True`` for GRUs. bmrun's token
data is right-padded, which is the one masked layout cuDNN accepts.
"""

from __future__ import annotations

import keras

from bmrun.models.base import IMAGE, TOKENS, BasicModel

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


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
class RNN(BasicModel):
    """Stacked recurrent layers over image rows, token embeddings or numeric sequences.

    Args:
        cell: ``lstm`` or ``gru``.
        num_layers: Recurrent layers; all but the last return their whole sequence.
        hidden_dim: Hidden state width of each layer (each direction when bidirectional).
        bidirectional: Read every sequence both ways and concatenate the two states.
        dropout_rate: Dropout after each recurrent layer (between layers and before the head).
        embedding_dim: Token embedding width (``tokens`` inputs only).
        **common: See :class:`BasicModel`.
    """

    def __init__(self, cell: str = "lstm", num_layers: int = 1, hidden_dim: int = 128, bidirectional: bool = False,
                 dropout_rate: float = 0.0, embedding_dim: int = 64, **common):
        kind = common["input_kind"]
        shape = tuple(int(d) for d in common["input_shape"])
        vocab_size = common.get("vocab_size")
        if kind == TOKENS and not vocab_size:
            raise ValueError("token inputs need vocab_size")

        def body(x):
            if kind == TOKENS:
                x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(x)
            elif kind == IMAGE:
                x = keras.layers.Reshape((shape[0], shape[1] * shape[2]), name="rows")(x)
            elif len(shape) != 2:
                raise ValueError(f"rnn reads images, tokens or (steps, features) sequences; got {kind} {shape}")
            for i in range(num_layers):
                last = i == num_layers - 1
                layer = recurrent_layer(cell, hidden_dim, return_sequences=not last, name=f"rnn_{i}")
                if bidirectional:
                    layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
                x = layer(x)
                if dropout_rate:
                    x = keras.layers.Dropout(dropout_rate, name=f"dropout_{i}")(x)
            return x

        super().__init__(body, **common)
        self.cell = cell
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.bidirectional = bidirectional
        self.dropout_rate = dropout_rate
        self.embedding_dim = embedding_dim

    def get_config(self) -> dict:
        return {**super().get_config(), "cell": self.cell, "num_layers": self.num_layers,
                "hidden_dim": self.hidden_dim, "bidirectional": self.bidirectional,
                "dropout_rate": self.dropout_rate, "embedding_dim": self.embedding_dim}
