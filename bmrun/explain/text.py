"""Attributions of a text model by token: integrated gradients at its embeddings or bag of words.

Token ids are integers, so a text model is explained at its first differentiable tensor
(:mod:`bmrun.explain.inner`):

* an ``Embedding`` layer (rnn, transformer): the path runs from the all-zero embedding to the
  tokens' embeddings; summing an attribution over the embedding dimension gives each token's
  contribution at its position;
* a bag of words (``CategoryEncoding``: linear, mlp): the path runs from the empty bag; each
  vocabulary word present gets one attribution, shared equally among its occurrences (the bag
  sees a word once however often it occurs).

Padding positions (id 0) are left out of what is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from bmrun.explain import inner
from html import escape

PAD = 0


def token_layer(model):
    """The layer explained: the first ``Embedding``, else the first ``CategoryEncoding``; or None."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    for kind in (keras.layers.Embedding, keras.layers.CategoryEncoding):
        found = [layer for layer in model.layers if isinstance(layer, kind)]
        if found:
            return found[0]
    return None


def token_ids(model, x: Any) -> np.ndarray:
    """The token ids the model reads: its own vectorisation of raw strings, or ``x`` itself."""
    names = {layer.name for layer in model.layers}
    if "vectorize" in names:
        return inner.layer_output(model, model.get_layer("vectorize"), x).astype(np.int64)
    return np.asarray(x, np.int64)


def token_names(model, run_cfg: Any = None) -> "TokenNames":
    """How ids read as words: the model's own vocabulary (``data=csv`` text), IMDB's word index
    when ``imdb_word_index.json`` lies beside the data, else ``#<id>``."""
    names = {layer.name for layer in model.layers}
    if "vectorize" in names:
        return TokenNames(list(model.get_layer("vectorize").get_vocabulary()))
    data = getattr(run_cfg, "data", None) if run_cfg is not None else None
    if data is not None and str(data.get("name")) == "imdb":
        return TokenNames(_imdb_words(data.get("path")), specials={0: "<pad>", 1: "<start>", 2: "<oov>"})
    return TokenNames([])


class TokenNames:
    """Id -> word, with fixed names for special ids and ``#<id>`` for the unknown ones."""

    def __init__(self, words: Sequence[str], specials: Optional[dict[int, str]] = None):
        self.words = [str(word) for word in words]  # plain strings (a vocabulary may hold NumPy's)
        self.specials = specials or {}

    def __call__(self, token: int) -> str:
        if token in self.specials:
            return self.specials[token]
        if 0 <= token < len(self.words) and self.words[token]:
            return self.words[token]
        return f"#{token}"


def _imdb_words(path: Optional[str]) -> list[str]:
    """Keras's ``imdb_word_index.json`` (word -> rank) as a list indexed by id (rank + 3)."""
    places = [Path("~/.keras/datasets").expanduser()]
    if path:
        given = Path(str(path)).expanduser()
        places.insert(0, given if given.is_dir() else given.parent)
    for place in places:
        index_file = place / "imdb_word_index.json"
        if index_file.is_file():
            try:
                ranks = json.loads(index_file.read_text())
            except (OSError, ValueError):
                continue
            words = [""] * (max(ranks.values(), default=0) + 4)
            for word, rank in ranks.items():
                words[int(rank) + 3] = word
            return words
    return []


def token_attributions(model, x: Any, kind: str, *, steps: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-position attributions of the token model's prediction for the inputs ``x``.

    Returns:
        ``(ids [n, length], attributions [n, length], completeness_error)``; padding positions
        hold 0. The error is checked in the explained layer's space (embeddings or bag).
    """
    layer = token_layer(model)
    ids = token_ids(model, x)
    maps, _ = inner.integrated_gradients_at(model, layer, x, kind, steps=steps)
    error = inner.completeness_error(model, layer, x, kind, maps)
    if maps.ndim == 3:  # embeddings: [n, length, dim]
        per_position = maps.sum(axis=-1)
    else:  # bag of words: [n, vocabulary]
        per_position = np.zeros(ids.shape, np.float32)
        for row, (example, bag) in enumerate(zip(ids, maps)):
            tokens, counts = np.unique(example, return_counts=True)
            share = dict(zip(tokens.tolist(), (bag[tokens] / counts).tolist()))
            per_position[row] = [share[t] for t in example.tolist()]
    per_position[ids == PAD] = 0.0
    return ids, per_position, error


def top_tokens(ids: np.ndarray, attributions: np.ndarray, names: TokenNames, k: int = 5) -> list[dict]:
    """Per example, the ``k`` words that pushed its prediction most for and against.

    A word's attribution is summed over its occurrences in the example.
    """
    result = []
    for example, (row_ids, row) in enumerate(zip(ids, attributions)):
        by_word: dict[str, float] = {}
        for token, value in zip(row_ids.tolist(), row.tolist()):
            if token != PAD:
                word = names(token)
                by_word[word] = by_word.get(word, 0.0) + value
        ranked = sorted(by_word.items(), key=lambda item: -item[1])
        result.append({"example": example,
                       "for": [(w, v) for w, v in ranked[:k] if v > 0],
                       "against": [(w, v) for w, v in reversed(ranked[-k:]) if v < 0]})
    return result


def render_html(ids: np.ndarray, attributions: np.ndarray, names: TokenNames, captions: Sequence[str]) -> str:
    """Each example's text with every token shaded by its attribution: green for, red against.

    Shades are scaled per example (its largest |attribution| is full strength); hovering a
    token shows its value.
    """

    parts = ["<!doctype html><meta charset='utf-8'><title>token attributions</title>",
             "<style>body{font:15px/1.9 sans-serif;max-width:60em;margin:2em auto}"
             "span{padding:1px 2px;border-radius:3px}h3{margin:1.5em 0 .3em}</style>",
             "<p>Integrated gradients per token: <span style='background:rgba(0,150,0,.6)'>for</span> / "
             "<span style='background:rgba(210,0,0,.6)'>against</span> the prediction.</p>"]
    for caption, row_ids, row in zip(captions, ids, attributions):
        scale = float(np.abs(row).max()) or 1.0
        parts.append(f"<h3>{escape(caption)}</h3><p>")
        for token, value in zip(row_ids.tolist(), row.tolist()):
            if token == PAD:
                continue
            colour = "0,150,0" if value >= 0 else "210,0,0"
            parts.append(f"<span title='{value:.4g}' style='background:rgba({colour},{abs(value) / scale:.2f})'>"
                         f"{escape(names(token))}</span> ")
        parts.append("</p>")
    return "\n".join(parts)


def markdown_summary(top: dict, caption: str) -> str:
    """One example's top tokens as Markdown (TensorBoard's Text tab renders it)."""
    def listed(pairs):
        return ", ".join(f"`{word}` ({value:+.3g})" for word, value in pairs) or "none"

    return f"**{caption}**\n\nfor: {listed(top['for'])}\n\nagainst: {listed(top['against'])}"
