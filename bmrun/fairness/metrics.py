"""Per-group metrics and their differences (Fairlearn's definitions), in NumPy.

Binary classification, per group: ``count``, ``accuracy``, ``selection_rate`` (share predicted
positive), ``tpr`` (recall of the positive class) and ``fpr``. Gaps over the groups:

* ``demographic_parity_difference`` = max − min selection rate;
* ``equalized_odds_difference`` = max(TPR max − min, FPR max − min);
* ``accuracy_difference`` = max − min accuracy.

Multiclass: per group ``count``, ``accuracy`` and ``macro_f1``; gaps ``accuracy_difference``
and ``macro_f1_difference``. A rate a group cannot have (a TPR without positive examples) is
``None`` and left out of the max − min, as Fairlearn leaves out NaN.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from bmrun.confusion import classification_metrics, confusion_matrix_np
from bmrun.specs import BINARY

BINARY_GAPS = ("demographic_parity_difference", "equalized_odds_difference", "accuracy_difference")
MULTICLASS_GAPS = ("accuracy_difference", "macro_f1_difference")


def _rate(numerator: float, denominator: float) -> Optional[float]:
    return float(numerator / denominator) if denominator > 0 else None


def _spread(values: Sequence[Optional[float]]) -> Optional[float]:
    """max − min of the defined values (None with fewer than two)."""
    defined = [v for v in values if v is not None]
    return float(max(defined) - min(defined)) if len(defined) >= 2 else None


def _macro_f1(y: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    """Macro F1 over the classes present in ``y`` (as the reported ``f1``)."""
    return classification_metrics(confusion_matrix_np(y, predicted, num_classes))["f1"]


def group_metrics(y: np.ndarray, predicted: np.ndarray, groups: np.ndarray, kind: str,
                  num_classes: int) -> dict[str, Any]:
    """Fairness report of one sensitive column on one split.

    Args:
        y: True class ids.
        predicted: Predicted class ids.
        groups: The group (a string) of each example.
        kind: ``binary`` or ``multiclass``.
        num_classes: Classes of the task.

    Returns:
        ``{"groups": {value: {...}}, <gap>: value, ...}`` (see the module docstring); a gap is
        None when fewer than two groups define it.
    """
    y, predicted, groups = np.asarray(y).reshape(-1), np.asarray(predicted).reshape(-1), np.asarray(groups)
    per_group: dict[str, dict[str, Any]] = {}
    for name in sorted(set(groups.tolist())):
        rows = groups == name
        y_g, p_g = y[rows], predicted[rows]
        entry: dict[str, Any] = {"count": int(rows.sum()), "accuracy": float(np.mean(y_g == p_g))}
        if kind == BINARY:
            positives, negatives = y_g == 1, y_g == 0
            entry.update(selection_rate=float(np.mean(p_g == 1)),
                         tpr=_rate(np.sum(p_g[positives] == 1), positives.sum()),
                         fpr=_rate(np.sum(p_g[negatives] == 1), negatives.sum()))
        else:
            entry["macro_f1"] = _macro_f1(y_g, p_g, num_classes)
        per_group[name] = entry
    report: dict[str, Any] = {"groups": per_group}
    column = lambda key: [entry[key] for entry in per_group.values()]  # noqa: E731 (a local shorthand)
    if kind == BINARY:
        tpr_gap, fpr_gap = _spread(column("tpr")), _spread(column("fpr"))
        odds = [gap for gap in (tpr_gap, fpr_gap) if gap is not None]
        report.update(demographic_parity_difference=_spread(column("selection_rate")),
                      equalized_odds_difference=max(odds) if odds else None,
                      accuracy_difference=_spread(column("accuracy")))
    else:
        report.update(accuracy_difference=_spread(column("accuracy")),
                      macro_f1_difference=_spread(column("macro_f1")))
    return report


def flat_gaps(column: str, report: dict[str, Any]) -> dict[str, float]:
    """The gaps as scalar metrics named ``fairness/<column>/<gap>`` (TensorBoard tags, history and
    sweep-summary columns)."""
    return {f"fairness/{column}/{name}": float(value) for name, value in report.items()
            if name in BINARY_GAPS + MULTICLASS_GAPS and value is not None}


def fairness_reports(y: np.ndarray, predicted: np.ndarray, groups: dict[str, np.ndarray], kind: str,
                     num_classes: int) -> dict[str, dict[str, Any]]:
    """:func:`group_metrics` of every sensitive column of one split: ``{column: report}``."""
    return {column: group_metrics(y, predicted, values, kind, num_classes) for column, values in groups.items()}
