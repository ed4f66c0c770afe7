"""Fitting the encoding of raw columns on the training split (NumPy only; ``data=csv``).

The result is a plain JSON-able dict the model is built with (and saves in its config), so the
model's own layers (:mod:`bmrun.models.columns`) apply exactly what was fitted here:

* table: ``{"numeric": [{name, mean, variance, indicator}], "categorical": [{name, vocabulary}]}``
  -- numbers are standardised, a missing one becomes the training mean plus a "was missing"
  indicator (only for columns with missing values in training, so an indicator never carries an
  untrained weight); categories are one-hot over the training vocabulary, with ``""`` (missing)
  always a category of its own and one out-of-vocabulary bucket for values never seen;
* text: ``{"text": {name, vocabulary, max_len}}`` -- the most frequent training words, in the
  standardisation of Keras's ``TextVectorization`` (ASCII lower case, punctuation stripped).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, Iterable

import numpy as np

MAX_CATEGORIES = 1000  # the rarer ones share the out-of-vocabulary bucket
# TextVectorization's "lower_and_strip_punctuation": tf.strings.lower (ASCII only) and this regex.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


def fit_columns(x_train: Any, layout: dict, *, normalize: bool = True) -> dict:
    """The encoding of ``layout``'s columns, fitted on the training rows ``x_train``.

    Args:
        x_train: A dict of column arrays (table) or an array of strings (text).
        layout: What the loader declared: ``{"numeric": [...], "categorical": [...]}`` or
            ``{"text": column, "vocab_size": n, "max_len": n}``.
        normalize: Standardise numeric columns (else only impute them).
    """
    if "text" in layout:
        vocabulary = text_vocabulary(x_train, int(layout["vocab_size"]) - 2)  # 0 pads, 1 is out of vocabulary
        return {"text": {"name": layout["text"], "vocabulary": vocabulary, "max_len": int(layout["max_len"])}}
    numeric = []
    for name in layout.get("numeric", []):
        values = np.asarray(x_train[name], np.float64)
        present = values[~np.isnan(values)]
        mean = float(present.mean()) if present.size else 0.0
        variance = float(max(present.var(), 1e-12)) if present.size > 1 and normalize else 1.0
        numeric.append({"name": name, "mean": mean, "variance": variance,
                        "indicator": bool(present.size < values.size)})
    categorical = []
    for name in layout.get("categorical", []):
        counts = Counter(str(v) for v in x_train[name] if v != "")
        ranked = sorted(counts, key=lambda v: (-counts[v], v))[:MAX_CATEGORIES]
        categorical.append({"name": name, "vocabulary": [""] + ranked})
    return {"numeric": numeric, "categorical": categorical}


def standardize(text: str) -> str:
    """What ``TextVectorization``'s default standardisation makes of ``text``."""
    return _PUNCTUATION.sub("", text.translate(_ASCII_LOWER))


def text_vocabulary(texts: Iterable[str], size: int) -> list[str]:
    """The ``size`` most frequent words (ties in alphabetical order, so the result is stable)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(standardize(str(text)).split())
    return sorted(counts, key=lambda w: (-counts[w], w))[:max(size, 0)]


def encoded_width(columns: dict) -> int:
    """Width of the feature vector a table's columns encode to."""
    numeric = columns.get("numeric", [])
    return (len(numeric) + sum(c["indicator"] for c in numeric)
            + sum(len(c["vocabulary"]) + 1 for c in columns.get("categorical", [])))
