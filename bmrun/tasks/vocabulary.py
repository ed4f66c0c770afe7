"""Tokens and ids of text pairs: the one definition both sides share (no TensorFlow).

:mod:`bmrun.data.tokens` fits a vocabulary and turns texts into ids with these rules; the
sequence-to-sequence task (:mod:`bmrun.tasks.seq2seq`), ``bmrun-predict`` and the exported model
turn decoded ids back into texts with the same ones. Ids 0-3 are padding, out-of-vocabulary,
start and end; ``char`` tokens are characters, ``word`` tokens words and punctuation marks.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

PAD, UNK, START, END = 0, 1, 2, 3
SPECIAL = ("<pad>", "<unk>", "<start>", "<end>")
_WORDS = re.compile(r"\w+|[^\w\s]")


def split_tokens(text: str, tokens: str) -> list[str]:
    """A text's tokens: its characters, or its words and punctuation marks."""
    return list(text) if tokens == "char" else _WORDS.findall(text)


def join_tokens(pieces: Sequence[str], tokens: str) -> str:
    """Tokens back into a text (words are joined by single spaces)."""
    return "".join(pieces) if tokens == "char" else " ".join(pieces)


def normalized(text: str, tokens: str) -> str:
    """A text as decoding would write it (words re-spaced): what exact match compares."""
    return join_tokens(split_tokens(text, tokens), tokens)


def ids_to_texts(ids: np.ndarray, vocabulary: Sequence[str], tokens: str) -> list[str]:
    """Texts of id rows, each cut at its first end token (padding and start dropped)."""
    texts = []
    for row in np.asarray(ids):
        pieces = []
        for i in row:
            if i == END:
                break
            if i > END:
                pieces.append(vocabulary[i] if i < len(vocabulary) else SPECIAL[UNK])
        texts.append(join_tokens(pieces, tokens))
    return texts
