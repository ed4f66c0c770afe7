"""The cross-attention map of a text-pair model for one source: which source tokens each output
token was written from.

The model is run teacher-forced on the source and its own greedy output (what ``bmrun-predict``
would print), so each row of the map belongs to a token the model wrote. The attention weights
are not an output of the model: each cross-attention layer is called again on the inputs it
received in that run, asking for its scores (Keras ``MultiHeadAttention`` and
``AdditiveAttention`` both return them). The transformer's map is the mean over its decoder
blocks and heads; the RNN's is its one additive attention. Every row is a softmax over the
source's real tokens (padding is masked), so it sums to 1.

Writes ``explain/cross_attention.png`` (rows: output tokens, columns: source tokens, each with
its end token) and ``explain/cross_attention.csv`` (the same matrix).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from bmrun.explain import figures
from bmrun.run_dir import atomic_write
from bmrun.tasks.vocabulary import END, PAD, START, SPECIAL

MIN_SIDE = 256  # pixels: the picture's shorter side at least, as the other explanation pictures


def attention_layers(model) -> list:
    """The model's cross-attention layers, first decoder block first (none: not an encoder–decoder)."""
    return [layer for layer in model.layers if layer.name.endswith("cross_attention")
            and layer.__class__.__name__ in ("MultiHeadAttention", "AdditiveAttention")]


def _scores(model, layer, inputs: dict) -> np.ndarray:
    """``layer``'s attention weights ``[batch, target, source]`` (heads averaged) in ``model``'s run on ``inputs``."""
    # Keras: only when a map is drawn, never at --help
    import keras

    node = layer._inbound_nodes[0]  # the call the functional graph recorded: its tensors and arguments
    tensors = list(node.arguments.keras_tensors)
    probe = keras.Model(model.inputs, tensors)
    values = probe(inputs, training=False)
    values = values if isinstance(values, (list, tuple)) else [values]
    args, kwargs = node.arguments.fill_in({id(t): v for t, v in zip(tensors, values)})
    _, scores = layer(*args, **kwargs, return_attention_scores=True, training=False)
    scores = np.asarray(scores, np.float64)
    return scores.mean(axis=1) if scores.ndim == 4 else scores  # MultiHeadAttention: [batch, heads, T, S]


def cross_attention(model, source_ids: np.ndarray, output_ids: np.ndarray) -> np.ndarray:
    """Attention ``[output tokens + end, source tokens + end]`` of one source and its decoded ids
    (an output that filled the model's target width has no end token's row)."""
    layers = attention_layers(model)
    if not layers:
        raise ValueError("the model has no cross-attention layer")
    sources = int(np.count_nonzero(source_ids))
    written = [int(i) for i in output_ids if i not in (PAD, END)]
    target_in = np.zeros((1, int(model.example_shape[1])), np.int32)
    target_in[0, :len(written) + 1] = [START, *written][:target_in.shape[1]]
    inputs = {"source": tf.constant(source_ids[None].astype(np.int32)), "target_in": tf.constant(target_in)}
    maps = np.mean([_scores(model, layer, inputs)[0] for layer in layers], axis=0)
    return maps[:min(len(written) + 1, target_in.shape[1]), :sources]


def token_names(ids: Sequence[int], vocabulary: Sequence[str]) -> list[str]:
    """Each id's token as a label: the end token ``</s>``, a space ``␣``."""
    names = []
    for i in ids:
        if i == END:
            names.append("</s>")
        else:
            token = vocabulary[i] if 0 <= i < len(vocabulary) else SPECIAL[1]
            names.append("␣" if token == " " else token)
    return names


def picture(matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], caption: str) -> np.ndarray:
    """The map as a heat map with a token per row and column under its caption (RGB uint8)."""
    plt = figures.pyplot()
    cell = 0.26  # inches per token: room for one character label
    width = max(MIN_SIDE / 100, 1.6 + cell * len(columns))
    height = max(MIN_SIDE / 100, 1.6 + cell * len(rows))
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(columns)), labels=list(columns), fontsize=9)
    ax.set_yticks(range(len(rows)), labels=list(rows), fontsize=9)
    ax.set_xlabel("source token")
    ax.set_ylabel("output token")
    ax.set_title(caption, fontsize=9, wrap=True)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="attention")
    fig.tight_layout()
    return figures.to_array(fig)


def explain_pair(model, source_ids: np.ndarray, output_ids: np.ndarray, source: str, output: str,
                 out: Path) -> dict[str, Any]:
    """Write the map of ``source`` (ids ``source_ids``) and its decoded ``output``; returns a summary."""
    vocabulary = model.columns["vocabulary"]
    matrix = cross_attention(model, source_ids, output_ids)
    written = [int(i) for i in output_ids if i not in (PAD, END)]
    rows = token_names((written + [END])[:matrix.shape[0]], vocabulary)  # an output that filled the width has no end
    columns = token_names([int(i) for i in source_ids[:matrix.shape[1]]], vocabulary)
    caption = f"cross-attention: {source!r} → {output!r}"
    array = picture(matrix, rows, columns, caption)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "cross_attention.png"
    figures.save_png(array, path, {"caption": caption, "rows": "output tokens", "columns": "source tokens"})
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["output \\ source", *columns])
    writer.writerows([row, *(f"{v:.4f}" for v in values)] for row, values in zip(rows, matrix))
    atomic_write(out / "cross_attention.csv", table.getvalue())
    return {"source": source, "output": output, "map": str(path), "shape": list(matrix.shape),
            "picture_array": array}
