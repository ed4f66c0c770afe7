"""Tokenizing text pairs (NumPy): the vocabulary fitted on the training split, ids, and back.

One vocabulary serves both sides (a joint vocabulary, as subword translation systems use): the
source and target embeddings and the output layer then share their ids, and copying a number or
a name from source to target needs no mapping. Ids 0-3 are padding, out-of-vocabulary, start
and end. ``data.tokens=char`` splits into characters, ``word`` into words and punctuation
marks. Texts longer than ``data.max_length`` tokens are cut (and counted in the run's notes),
or refused with ``data.on_long=error``.

Each split becomes ``x = {"source": ids + end, "target_in": start + ids}`` and
``y = ids + end`` (teacher forcing: the decoder reads the target shifted right), padded with 0.
Each side is as wide as the training split's longest text on that side (at most
``data.max_length``) plus one: digits to French words pad the source to 6 ids, not 51, and the
encoder, the cross-attention and every decoding step then cost that much less.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Sequence

import numpy as np

from bmrun.errors import DataError
from bmrun.tasks.vocabulary import END, SPECIAL, START, UNK, split_tokens


def fit_vocabulary(texts: Sequence[str], tokens: str, size: int) -> list[str]:
    """The ``size`` most frequent tokens of ``texts`` (ties alphabetical) after the special ones."""
    counts = Counter(t for text in texts for t in split_tokens(text, tokens))
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    return list(SPECIAL) + ranked[:max(size - len(SPECIAL), 0)]


def encode(texts: Sequence[str], vocabulary: Sequence[str], tokens: str, max_length: int, *,
           start: bool) -> tuple[np.ndarray, int]:
    """Ids ``[n, max_length + 1]``: each text's ids then end (or start then ids), zero-padded.

    Returns:
        The ids and how many texts were longer than ``max_length`` (cut).
    """
    index = {token: i for i, token in enumerate(vocabulary)}
    ids = np.zeros((len(texts), max_length + 1), np.int32)
    long = 0
    for row, text in enumerate(texts):
        pieces = [index.get(t, UNK) for t in split_tokens(text, tokens)]
        long += len(pieces) > max_length
        pieces = pieces[:max_length]
        row_ids = [START] + pieces if start else pieces + [END]
        ids[row, :len(row_ids)] = row_ids
    return ids, long


def longest(texts: Sequence[str], tokens: str) -> tuple[int, int]:
    """The longest text's token count and its row (0 and 0 for no texts)."""
    lengths = [len(split_tokens(t, tokens)) for t in texts] or [0]
    row = int(np.argmax(lengths))
    return lengths[row], row


def encode_splits(prepared, layout: dict):
    """Fit the vocabulary on ``prepared.train`` and turn each split's strings into ids.

    Sets the task's class count (the vocabulary: the head's width), the input's vocabulary size,
    ``columns`` (what the model saves: the tokenizer) and each split's ``texts`` (the raw
    sources and references the decoded metrics read).
    """
    tokens, max_length = layout["tokens"], int(layout["max_length"])
    train = prepared.train
    vocabulary = fit_vocabulary(list(train.x) + list(train.y), tokens, int(layout["vocab_size"]))
    # Each side's width: the training split's longest text (the test split's lengths stay unseen).
    widths = [min(longest([str(t) for t in texts], tokens)[0], max_length) for texts in (train.x, train.y)]
    cut = 0
    for name in ("train", "val", "test"):
        part = getattr(prepared, name)
        sources, references = [str(s) for s in part.x], [str(t) for t in part.y]
        if layout["on_long"] == "error":
            for side, texts in (("source", sources), ("target", references)):
                if texts:
                    length, row = longest(texts, tokens)
                    if length > max_length:
                        raise DataError(f"a {side} text of the {name} split has {length} {tokens} tokens, more than "
                                        f"data.max_length={max_length} ({texts[row][:60]!r}); raise data.max_length, "
                                        f"or let bmrun cut long texts with data.on_long=truncate.")
        source, long_source = encode(sources, vocabulary, tokens, widths[0], start=False)
        target_in, long_target = encode(references, vocabulary, tokens, widths[1], start=True)
        target_out, _ = encode(references, vocabulary, tokens, widths[1], start=False)
        cut += long_source + long_target
        setattr(prepared, name, replace(part, x={"source": source, "target_in": target_in}, y=target_out,
                                        texts={"source": sources, "reference": references}))
    prepared.task = replace(prepared.task, num_classes=len(vocabulary))
    prepared.inputs = replace(prepared.inputs, shape=(widths[0] + 1, widths[1] + 1), vocab_size=len(vocabulary))
    prepared.columns = {"tokens": tokens, "max_length": max_length, "vocabulary": vocabulary,
                        "source": layout["source"], "target_text": layout["target_text"]}
    notes = [prepared.notes] if prepared.notes else []
    notes.append(f"vocabulary of {len(vocabulary)} {tokens} tokens from the training split")
    if cut:
        notes.append(f"{cut} texts longer than data.max_length={max_length} or than the training split's longest "
                     f"({widths[0]} source, {widths[1]} target tokens) cut")
    prepared.notes = "; ".join(notes)
    return prepared
