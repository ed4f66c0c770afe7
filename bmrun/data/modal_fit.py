"""Fitting each modality's encoding of a multimodal table on the training split (NumPy only).

The result is saved with the model (its ``columns`` config) under ``modalities``: the table's
columns as :func:`bmrun.data.columns.fit_columns` fits them, each text column's vocabulary
(Keras ``TextVectorization``'s standardisation) and each image column's pixel mean and variance
over the training rows that have an image (absent images are NaN, see
:mod:`bmrun.data.csv_modalities`; a streamed column's sums were taken while its files were checked).
"""

from __future__ import annotations

import numpy as np

from bmrun.data import csv_reader as reader
from bmrun.data.columns import fit_columns, text_vocabulary


def fit_modalities(x_train: dict, lay: dict, *, normalize: bool = True) -> dict:
    """Each modality's encoding, fitted on the training rows (JSON, saved with the model)."""
    keys = lay["keys"]
    table = None
    if lay[reader.NUMERIC] or lay[reader.CATEGORICAL]:
        table = fit_columns(x_train, {k: lay[k] for k in (reader.NUMERIC, reader.CATEGORICAL, "keys")},
                            normalize=normalize)
    texts = [{"name": name, "key": keys[name], "max_len": int(lay["max_len"]),
              "vocabulary": text_vocabulary(x_train[keys[name]], int(lay["vocab_size"]) - 2)}
             for name in lay["texts"]]
    images = []
    for name in lay["images"]:
        values = x_train[keys[name]]
        # A streamed column's files (bmrun.data.image_column) were summed while they were checked.
        total, squares, count = values.pixel_sums() if getattr(values, "streamed", False) else _sums(values)
        mean = total / max(count, 1) if normalize else 0.0
        variance = max(squares / max(count, 1) - mean ** 2, 1e-6) if normalize else 255.0 ** 2
        images.append({"name": name, "key": keys[name], "shape": list(lay["image_shape"]), "mean": float(mean),
                       "variance": float(variance)})
    return {"modalities": {"table": table, "texts": texts, "images": images}}


def _sums(values: np.ndarray) -> tuple[float, float, int]:
    """Sum of the finite pixels, of their squares, and their count (rows without an image are NaN)."""
    total, squares, count = 0.0, 0.0, 0
    for start in range(0, len(values), 4096):  # float64 sums chunk by chunk (no big temporary)
        chunk = values[start:start + 4096].astype(np.float64)
        chunk = chunk[np.isfinite(chunk)]
        total, squares, count = total + chunk.sum(), squares + np.square(chunk).sum(), count + chunk.size
    return total, squares, count
