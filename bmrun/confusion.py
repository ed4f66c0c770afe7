"""Metrics of a confusion matrix, in NumPy: accuracy, macro precision/recall/F1, per class.

Below :mod:`bmrun.outputs` (which reports them for every classification split) and
:mod:`bmrun.fairness.metrics` (which needs the macro F1 of each group), so neither imports the
other to share them.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def confusion_matrix_np(y: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class (float64 counts)."""
    matrix = np.zeros((num_classes, num_classes), np.float64)
    np.add.at(matrix, (np.asarray(y, np.int64).reshape(-1), np.asarray(predicted, np.int64).reshape(-1)), 1.0)
    return matrix


def classification_metrics(confusion: np.ndarray) -> dict[str, float]:
    """Accuracy and macro precision/recall/F1 over the classes present in the split."""
    confusion = np.asarray(confusion, dtype=np.float64)
    true_per_class = confusion.sum(axis=1)
    predicted_per_class = confusion.sum(axis=0)
    hits = np.diag(confusion)
    precision = np.divide(hits, predicted_per_class, out=np.zeros_like(hits), where=predicted_per_class > 0)
    recall = np.divide(hits, true_per_class, out=np.zeros_like(hits), where=true_per_class > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(hits), where=denom > 0)
    present = true_per_class > 0  # classes absent from this split do not drag the average down
    count = max(confusion.sum(), 1.0)
    return {"accuracy": float(hits.sum() / count), "precision": float(precision[present].mean()),
            "recall": float(recall[present].mean()), "f1": float(f1[present].mean())}


def per_class_metrics(confusion: np.ndarray, class_names: Optional[Sequence[str]] = None) -> dict[str, dict]:
    """``{class name: {precision, recall, f1, support}}`` from a confusion matrix (rows: true class).

    A class never predicted has precision 0; one absent from the split has support 0 and recall 0.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    support, predicted, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(hits), where=denom > 0)
    names = list(class_names) if class_names is not None and len(class_names) == len(hits) else \
        [str(i) for i in range(len(hits))]
    return {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])} for i, name in enumerate(names)}
