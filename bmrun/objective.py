"""What a run is judged by: the objective metric and whether higher or lower is better.

Shared by early stopping, sweepers (the value a job returns) and reports; no heavy imports.
"""

from __future__ import annotations

HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "r2", "adv_accuracy", "roc_auc", "pr_auc",
                               "pixel_accuracy", "mean_iou", "dice"})


def objective_direction(metric: str) -> str:
    """``max`` for accuracy-like metrics (``val/accuracy``), ``min`` for losses and errors."""
    return "max" if metric.rsplit("/", 1)[-1] in HIGHER_IS_BETTER else "min"


def objective_key(objective: str, task_kind: str) -> str:
    """The metric a sweeper optimises: ``objective``, or val accuracy / val mse by task for ``auto``."""
    if objective != "auto":
        return objective
    if task_kind in ("pretext", "ctc"):  # pretrain= runs, speech to text: the lower the loss, the better
        return "val/loss"
    if task_kind == "segmentation":
        return "val/mean_iou"
    return "val/mse" if task_kind == "regression" else "val/accuracy"
