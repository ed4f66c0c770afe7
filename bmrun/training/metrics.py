"""Turn the sums the compiled loop returns into reported metrics (host side, NumPy only)."""

from __future__ import annotations

import numpy as np

from bmrun.data.catalog import REGRESSION, TaskSpec


def eval_metrics(sums: np.ndarray, task: TaskSpec) -> dict[str, float]:
    """Metrics of one evaluation pass.

    Classification: loss, accuracy, and macro-averaged precision, recall and F1 from the
    confusion matrix. Regression: loss (squared error over the targets' variance), mse, mae, r2.
    """
    sums = np.asarray(sums, dtype=np.float64)
    loss_sum, count = sums[0], max(sums[1], 1.0)
    result = {"loss": loss_sum / count}
    if task.kind == REGRESSION:
        sse, sae, sum_y, sum_y2 = sums[2:6]
        total = sum_y2 - sum_y ** 2 / count
        result.update(mse=sse / count, mae=sae / count, r2=1.0 - sse / total if total > 0 else 0.0)
        return {k: float(v) for k, v in result.items()}
    confusion = confusion_matrix(sums, task)
    true_per_class = confusion.sum(axis=1)
    predicted_per_class = confusion.sum(axis=0)
    hits = np.diag(confusion)
    precision = np.divide(hits, predicted_per_class, out=np.zeros_like(hits), where=predicted_per_class > 0)
    recall = np.divide(hits, true_per_class, out=np.zeros_like(hits), where=true_per_class > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(hits), where=denom > 0)
    present = true_per_class > 0  # classes absent from this split do not drag the average down
    result.update(accuracy=hits.sum() / count, precision=precision[present].mean(),
                  recall=recall[present].mean(), f1=f1[present].mean())
    return {k: float(v) for k, v in result.items()}


def confusion_matrix(sums: np.ndarray, task: TaskSpec) -> np.ndarray:
    """The confusion matrix (rows: true class, columns: predicted) packed in eval sums."""
    k = task.num_classes
    return np.asarray(sums[2:2 + k * k], dtype=np.float64).reshape(k, k)


def train_metrics(loss_sum: float, correct: float, count: float, task: TaskSpec) -> dict[str, float]:
    """Running training metrics over the steps summed so far."""
    count = max(count, 1.0)
    result = {"loss": loss_sum / count}
    if task.kind != REGRESSION:
        result["accuracy"] = correct / count
    return result

