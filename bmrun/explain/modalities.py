"""A fused model's (``model=multimodal``) importance of each modality and each column, by occlusion.

Gradients say little across a fusion of an image network, a text encoder and a table: their
inputs live on unrelated scales, and a string column has no gradient at all. So each modality
(every image column, every text column, or every other column of the table) and then each
single column is replaced by the value the model reads as *absent* (an image: ``NaN``, the
learned "absent" embedding; a text: ``""``; a number: ``NaN``, read as its training mean; a
category: ``""``, the missing category) on the test rows, and the test score is taken again.
A modality's or column's importance is how much the score drops without it: accuracy points
for a classifier, the rise of the RMSE for a regression. ``bmrun-report`` over a
``data.drop_modality`` sweep gives the other view: what a model trained without it loses.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bmrun.outputs import REGRESSION, metrics_of_outputs

MODALITIES = ("image", "text", "table")


def groups(columns: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, tuple[str, str]]]:
    """``({modality: [input keys]}, {column name: (modality, input key)})`` of a fused model."""
    modalities = columns["modalities"]
    table = modalities.get("table") or {}
    found = {"image": [(c["name"], c["key"]) for c in modalities.get("images", [])],
             "text": [(c["name"], c["key"]) for c in modalities.get("texts", [])],
             "table": [(c["name"], c["key"]) for c in table.get("numeric", []) + table.get("categorical", [])]}
    by_modality = {name: [key for _, key in found[name]] for name in MODALITIES if found[name]}
    by_column = {column: (name, key) for name in MODALITIES for column, key in found[name]}
    return by_modality, by_column


def absent(values: np.ndarray) -> np.ndarray:
    """The value a fused model reads as missing, in the shape and kind of ``values``."""
    values = np.asarray(values)
    if values.dtype.kind in "OUS":
        return np.full(values.shape, "", dtype=object)
    return np.full(values.shape, np.nan, dtype=np.float32)


def score(model, x: Mapping[str, np.ndarray], y: np.ndarray, task_kind: str, num_classes) -> float:
    """Accuracy (classifiers) or RMSE (regression) of the model on the raw columns ``x``."""
    inputs = {key: (value.astype(np.float32) if np.asarray(value).dtype.kind == "f" else value)
              for key, value in x.items()}
    outputs = np.asarray(model.predict(inputs, verbose=0, batch_size=256))
    metrics = metrics_of_outputs(y, outputs, task_kind, num_classes)
    return float(metrics["rmse"] if task_kind == REGRESSION else metrics["accuracy"])


def occlusion(model, x: Mapping[str, np.ndarray], y: np.ndarray, task_kind: str,
              num_classes=None) -> dict[str, Any]:
    """The test score with everything, then without each modality and without each column.

    Returns:
        ``{"metric", "score", "modalities": [(name, score without, importance)],
        "columns": [(name, modality, score without, importance)]}``, each list most important first.
    """
    by_modality, by_column = groups(model.columns)
    full = score(model, x, y, task_kind, num_classes)
    sign = -1.0 if task_kind == REGRESSION else 1.0  # a drop in accuracy, a rise in RMSE

    def without(keys) -> float:
        return score(model, {k: (absent(v) if k in keys else v) for k, v in x.items()}, y, task_kind, num_classes)

    modalities = [(name, s, sign * (full - s)) for name, s in ((n, without(set(keys)))
                                                               for n, keys in by_modality.items())]
    columns = [(name, modality, s, sign * (full - s)) for name, (modality, s) in
               ((n, (m, without({key}))) for n, (m, key) in by_column.items())]
    return {"metric": "rmse" if task_kind == REGRESSION else "accuracy", "score": full, "rows": len(y),
            "modalities": sorted(modalities, key=lambda item: -item[2]),
            "columns": sorted(columns, key=lambda item: -item[3])}
