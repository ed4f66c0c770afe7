"""Fitting the encoding of raw columns on the training split (NumPy only; ``data=csv``).

The result is a plain JSON-able dict the model is built with (and saves in its config), so the
model's own layers (:mod:`bmrun.models.columns`) apply exactly what was fitted here:

* table: ``{"numeric": [{name, key, mean, variance, indicator}], "categorical": [{name, key, vocabulary}]}``
  -- numbers are standardised, a missing one becomes the training mean plus a "was missing"
  indicator (only for columns with missing values in training, so an indicator never carries an
  untrained weight); categories are one-hot over the training vocabulary, with ``""`` (missing)
  always a category of its own and one out-of-vocabulary bucket for values never seen;
* text: ``{"text": {name, key, vocabulary, max_len}}`` -- the most frequent training words, in the
  standardisation of Keras's ``TextVectorization`` (ASCII lower case, punctuation stripped).

``name`` is the column as written in the header (what the user reads in messages, explanations
and fairness reports); ``key`` is its safe internal name (:func:`column_keys`): the model's input
of that column, and the key of the dict of raw columns it takes.
"""

from __future__ import annotations

import keyword
import re
import string
import unicodedata
from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np

MAX_CATEGORIES = 1000  # the rarer ones share the out-of-vocabulary bucket
# TextVectorization's "lower_and_strip_punctuation": tf.strings.lower (ASCII only) and this regex.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
# A name that can be an input key as it is: an ASCII identifier (SavedModel signatures take the
# inputs as keyword arguments, and TensorFlow op names are ASCII)...
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# ...unless bmrun's own model already names a layer or operation so (models/columns.py,
# models/base.py, the built-in families): Keras refuses two operations of one name.
_LAYER_NAMES = frozenset({"inputs", "normalize", "numeric", "columns", "vectorize", "flatten", "bag_of_words",
                          "head", "head_dropout", "target_scale"})
# model=multimodal names all its own layers mm_<...>.
_LAYER_PATTERN = re.compile(r"(categories|dense|dropout|cast)(_[0-9]+)?|mm_.*")


def column_keys(names: Sequence[str]) -> dict[str, str]:
    """The safe internal name (the model's input key) of each column, the one mapping of names.

    A plain name (an ASCII identifier, not a Python keyword, not a name of the model's own
    layers) is its own key, so a dict of such columns needs no renaming. Any other becomes
    ``column_<number>_<ascii letters>``: ``class`` in the file's 3rd column is ``column_3_class``,
    ``Unit Price ($)`` in the 1st is ``column_1_Unit_Price``.

    Args:
        names: The header's column names as written, in order (distinct).
    """
    plain = {name for name in names if _is_plain(name)}
    keys, taken = {}, set(plain)
    for number, name in enumerate(names, 1):
        if name in plain:
            keys[name] = name
            continue
        slug = re.sub(r"[^A-Za-z0-9]+", "_", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())
        key = f"column_{number}_{slug.strip('_')[:40]}".rstrip("_")
        while key in taken:  # a plain column may already be called so
            key += "_"
        taken.add(key)
        keys[name] = key
    return keys


def column_key(column: dict) -> str:
    """A fitted column's input key (models saved before keys existed used its name)."""
    return column.get("key", column["name"])


def _is_plain(name: str) -> bool:
    return (_PLAIN.fullmatch(name) is not None and not keyword.iskeyword(name) and name not in _LAYER_NAMES
            and _LAYER_PATTERN.fullmatch(name) is None)


def fit_columns(x_train: Any, layout: dict, *, normalize: bool = True) -> dict:
    """The encoding of ``layout``'s columns, fitted on the training rows ``x_train``.

    Args:
        x_train: A dict of column arrays keyed by :func:`column_keys` (table) or an array of
            strings (text).
        layout: What the loader declared: ``{"numeric": [...], "categorical": [...], "keys": {...}}``
            or ``{"text": column, "key": key, "vocab_size": n, "max_len": n}``; columns by name as
            written, ``keys`` maps them to their keys (a name without one is its own key).
        normalize: Standardise numeric columns (else only impute them).
    """
    if "text" in layout:
        vocabulary = text_vocabulary(x_train, int(layout["vocab_size"]) - 2)  # 0 pads, 1 is out of vocabulary
        return {"text": {"name": layout["text"], "key": layout.get("key", layout["text"]), "vocabulary": vocabulary,
                         "max_len": int(layout["max_len"])}}
    keys = layout.get("keys") or {}
    numeric = []
    for name in layout.get("numeric", []):
        key = keys.get(name, name)
        values = np.asarray(x_train[key], np.float64)
        present = values[~np.isnan(values)]
        mean = float(present.mean()) if present.size else 0.0
        variance = float(max(present.var(), 1e-12)) if present.size > 1 and normalize else 1.0
        numeric.append({"name": name, "key": key, "mean": mean, "variance": variance,
                        "indicator": bool(present.size < values.size)})
    categorical = []
    for name in layout.get("categorical", []):
        key = keys.get(name, name)
        counts = Counter(str(v) for v in x_train[key] if v != "")
        ranked = sorted(counts, key=lambda v: (-counts[v], v))[:MAX_CATEGORIES]
        categorical.append({"name": name, "key": key, "vocabulary": [""] + ranked})
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
