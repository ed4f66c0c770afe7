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


def segmentation_metrics(confusion: np.ndarray) -> dict[str, float]:
    """Pixel accuracy, mean IoU and the foreground's mean Dice of a per-pixel confusion matrix.

    IoU and Dice of a class are ``TP / (TP + FP + FN)`` and ``2 TP / (2 TP + FP + FN)``. The mean
    IoU averages the classes that occur in the truth or the prediction (a class absent from both
    says nothing); ``dice`` averages the foreground classes (index 1 and up) the same way, so a
    small object is not hidden by a large background.
    """
    iou, dice, seen = _overlaps(confusion)
    foreground = seen.copy()
    foreground[0] = False
    count = max(float(np.asarray(confusion).sum()), 1.0)
    return {"pixel_accuracy": float(np.trace(confusion) / count),
            "mean_iou": float(iou[seen].mean()) if seen.any() else 0.0,
            "dice": float(dice[foreground].mean()) if foreground.any() else 0.0}


def segmentation_per_class(confusion: np.ndarray, class_names: Optional[Sequence[str]] = None) -> dict[str, dict]:
    """``{class name: {iou, dice, pixels, predicted_pixels}}`` of a per-pixel confusion matrix."""
    confusion = np.asarray(confusion, dtype=np.float64)
    iou, dice, _ = _overlaps(confusion)
    names = list(class_names) if class_names is not None and len(class_names) == len(iou) else \
        [str(i) for i in range(len(iou))]
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    return {name: {"iou": float(iou[i]), "dice": float(dice[i]), "pixels": int(support[i]),
                   "predicted_pixels": int(predicted[i])} for i, name in enumerate(names)}


def _overlaps(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each class's IoU and Dice, and whether it occurs in the truth or the prediction."""
    confusion = np.asarray(confusion, dtype=np.float64)
    hits = np.diag(confusion)
    union = confusion.sum(axis=1) + confusion.sum(axis=0) - hits
    iou = np.divide(hits, union, out=np.zeros_like(hits), where=union > 0)
    dice = np.divide(2 * hits, union + hits, out=np.zeros_like(hits), where=union > 0)
    return iou, dice, union > 0
