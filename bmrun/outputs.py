"""What a model's outputs mean, per task kind: outputs -> predictions -> metrics.

The one place that knows that a multiclass model emits one logit per class (the prediction is
the argmax, probabilities the softmax), a binary model one logit (positive when > 0, sigmoid
probability) and a regression model the value itself. The compiled loop (in-graph, TensorFlow),
the TensorBoard pictures, the TFLite check and ``bmrun-predict`` (NumPy) all go through here.

Evaluation sums (what the compiled loop adds up over a split) are named dicts:
classification ``{loss_sum, count, confusion}``, regression ``{loss_sum, count, sse, sae,
sum_y, sum_y2}``; :func:`eval_metrics` turns them into reported metrics.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

# The confusion-matrix metrics live below fairness; reported from here, so callers import them here too.
from bmrun.confusion import classification_metrics, confusion_matrix_np, per_class_metrics  # noqa: F401
from bmrun.fairness.metrics import fairness_reports, flat_gaps
from bmrun.specs import BINARY, MULTICLASS, REGRESSION


# ----------------------------------------------------------------------------- predictions
def predicted_classes(outputs, kind: str):
    """Predicted class ids of a batch of outputs, in-graph (int32 tensor)."""
    # TensorFlow inside the in-graph functions only: the NumPy half serves bmrun-report and sweeps.
    import tensorflow as tf

    if kind == MULTICLASS:
        return tf.argmax(outputs, axis=-1, output_type=tf.int32)
    return tf.cast(tf.reshape(outputs, [-1]) > 0, tf.int32)


def target_outputs(outputs, kind: str, classes=None):
    """The one output per example that explanations follow, in-graph: the logit of ``classes``
    (default: the predicted class) for multiclass, the single logit or value otherwise."""
    # TensorFlow: only when this runs, never at --help or config composition
    import tensorflow as tf

    if kind == MULTICLASS:
        if classes is None:
            classes = predicted_classes(outputs, kind)
        return tf.gather(outputs, classes, axis=1, batch_dims=1)
    return outputs[:, 0]


def predicted_classes_np(outputs: np.ndarray, kind: str) -> np.ndarray:
    """NumPy twin of :func:`predicted_classes`."""
    outputs = np.asarray(outputs)
    if kind == MULTICLASS:
        return outputs.argmax(axis=-1).astype(np.int64)
    return (outputs.reshape(-1) > 0).astype(np.int64)


def class_probabilities_np(outputs: np.ndarray, kind: str) -> np.ndarray:
    """Per-class probabilities ``[batch, classes]`` (softmax, or sigmoid for binary)."""
    logits = np.asarray(outputs, dtype=np.float64)
    if kind == BINARY:
        positive = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
        return np.stack([1.0 - positive, positive], axis=-1)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def prediction_records(outputs: np.ndarray, kind: str, class_names: Optional[Sequence[str]]) -> list[dict[str, Any]]:
    """One record per example: ``class``, ``name`` and ``probability``, or ``value`` for regression."""
    if kind == REGRESSION:
        return [{"value": float(v)} for v in np.asarray(outputs).reshape(len(outputs), -1)[:, 0]]
    probabilities = class_probabilities_np(outputs, kind)
    classes = predicted_classes_np(outputs, kind)
    records = []
    for cls, row in zip(classes, probabilities):
        record: dict[str, Any] = {"class": int(cls)}
        if class_names is not None and int(cls) < len(class_names):
            record["name"] = class_names[int(cls)]
        records.append({**record, "probability": float(row[cls])})
    return records


# ----------------------------------------------------------------------------- metrics
def regression_metrics(sse: float, sae: float, sum_y: float, sum_y2: float, count: float) -> dict[str, float]:
    """mse, rmse, mae and R² from sums of squared/absolute errors and of the targets."""
    count = max(float(count), 1.0)
    total = sum_y2 - sum_y ** 2 / count
    return {"mse": float(sse / count), "rmse": float(np.sqrt(sse / count)), "mae": float(sae / count),
            "r2": float(1.0 - sse / total) if total > 0 else 0.0}


def eval_metrics(sums: Mapping[str, Any], kind: str) -> dict[str, float]:
    """Reported metrics of one evaluation pass from its named sums (see the module docstring)."""
    sums = {k: np.asarray(v, dtype=np.float64) for k, v in sums.items()}
    count = max(float(sums["count"]), 1.0)
    result = {"loss": float(sums["loss_sum"]) / count}
    if kind == REGRESSION:
        result.update(regression_metrics(float(sums["sse"]), float(sums["sae"]), float(sums["sum_y"]),
                                         float(sums["sum_y2"]), count))
    else:
        result.update(classification_metrics(sums["confusion"]))
    return result


def metrics_of_outputs(y: np.ndarray, outputs: np.ndarray, kind: str, num_classes: Optional[int]) -> dict[str, float]:
    """Metrics of predictions made outside the compiled loop (TFLite, pictures): no loss."""
    y = np.asarray(y)
    if kind == REGRESSION:
        pred = np.asarray(outputs, np.float64).reshape(len(y), -1)[:, 0]
        true = y.astype(np.float64).reshape(-1)
        return regression_metrics(float(np.square(true - pred).sum()), float(np.abs(true - pred).sum()),
                                  float(true.sum()), float(np.square(true).sum()), len(true))
    confusion = confusion_matrix_np(y, predicted_classes_np(outputs, kind), num_classes or 2)
    return classification_metrics(confusion)


def train_metrics(sums: Mapping[str, Any], kind: str) -> dict[str, float]:
    """Running training metrics from ``{loss_sum, correct, count}`` (and ``fairness_penalty_sum``,
    the demographic-parity term added to the loss, when the run has one)."""
    count = max(float(sums["count"]), 1.0)
    result = {"loss": float(sums["loss_sum"]) / count}
    if kind != REGRESSION:
        result["accuracy"] = float(sums["correct"]) / count
    if "fairness_penalty_sum" in sums:
        result["fairness_penalty"] = float(sums["fairness_penalty_sum"]) / count
    return result


# ----------------------------------------------------------------------------- ranking quality (binary)
def _cumulative_counts(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives at each distinct score threshold, highest score first.

    Tied scores form one threshold (all of them are classed positive together), which is what
    makes the curves below exact with ties.
    """
    order = np.argsort(-scores, kind="mergesort")
    scores, y = scores[order], y[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(y)[last_of_each_score]
    false_positives = last_of_each_score + 1 - true_positives
    return true_positives.astype(np.float64), false_positives.astype(np.float64)


def _binary_inputs(y, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).reshape(-1).astype(np.int64)
    return (y == 1).astype(np.float64), np.asarray(scores, np.float64).reshape(-1)


def roc_auc(y, scores) -> Optional[float]:
    """Area under the ROC curve (trapezoids between the thresholds), or None with one class.

    Equals the probability that a random positive scores above a random negative, ties
    counting one half (sklearn's ``roc_auc_score``).
    """
    y, scores = _binary_inputs(y, scores)
    positives, negatives = y.sum(), len(y) - y.sum()
    if positives == 0 or negatives == 0:
        return None
    tp, fp = _cumulative_counts(y, scores)
    tpr, fpr = np.r_[0.0, tp / positives], np.r_[0.0, fp / negatives]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def pr_auc(y, scores) -> Optional[float]:
    """Average precision: sum over thresholds of (recall gained) x precision there, or None
    without positives (sklearn's ``average_precision_score``; no interpolation)."""
    y, scores = _binary_inputs(y, scores)
    positives = y.sum()
    if positives == 0:
        return None
    tp, fp = _cumulative_counts(y, scores)
    precision, recall = tp / (tp + fp), tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def binary_ranking_metrics(y, outputs) -> dict[str, float]:
    """``roc_auc`` and ``pr_auc`` of a binary model's outputs (logits; the sigmoid keeps their
    order, so they rank as the probabilities do). Undefined ones are left out."""
    probabilities = class_probabilities_np(outputs, BINARY)[:, 1]
    values = {"roc_auc": roc_auc(y, probabilities), "pr_auc": pr_auc(y, probabilities)}
    return {name: value for name, value in values.items() if value is not None}


def example_metrics(y, outputs, kind: str, num_classes: int, groups: Optional[Mapping[str, np.ndarray]] = None
                    ) -> tuple[dict[str, float], dict[str, dict]]:
    """Metrics that need each example's output rather than the loop's sums.

    Args:
        y: True class ids of the split.
        outputs: The model's outputs on it, in the same order.
        kind, num_classes: The task.
        groups: ``data.sensitive``: each column's group per example (see :mod:`bmrun.fairness`).

    Returns:
        Scalars (``roc_auc`` and ``pr_auc`` for binary tasks, ``fairness/<column>/<gap>``) and
        the per-column fairness reports (``{column: {"groups": ..., <gap>: ...}}``).
    """
    scalars = binary_ranking_metrics(y, outputs) if kind == BINARY else {}
    reports = fairness_reports(y, predicted_classes_np(outputs, kind), dict(groups or {}), kind, num_classes)
    for column, report in reports.items():
        scalars.update(flat_gaps(column, report))
    return scalars, reports
