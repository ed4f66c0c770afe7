"""Task kinds: what a model's outputs mean, how they are scored and summed.

A :class:`~bmrun.tasks.base.Task` owns what differs between task kinds — the head's width, the
in-graph accuracy count, the named sums an evaluation pass adds up, the metrics derived from them,
the per-class table and the metrics that need each example's output — so the training step and
the evaluator (:mod:`bmrun.training.evaluator`) never branch on the kind. A new task kind
(forecasting, segmentation, sequences) is a new class registered in :data:`KINDS`.

This module imports no TensorFlow: :func:`task_for` loads an implementation when a job needs it.
"""

from __future__ import annotations

import importlib

from bmrun.errors import ConfigError
from bmrun.specs import BINARY, CTC, FORECAST, MULTICLASS, REGRESSION, SEGMENTATION, SEQ2SEQ, TaskSpec

# kind -> "module:Class" of its implementation (imports TensorFlow)
KINDS: dict[str, str] = {
    MULTICLASS: "bmrun.tasks.classification:Multiclass",
    BINARY: "bmrun.tasks.classification:Binary",
    REGRESSION: "bmrun.tasks.regression:Regression",
    SEGMENTATION: "bmrun.tasks.segmentation:Segmentation",
    FORECAST: "bmrun.tasks.forecast:Forecast",
    CTC: "bmrun.tasks.ctc:Ctc",
    SEQ2SEQ: "bmrun.tasks.seq2seq:Seq2Seq",
}


def task_class(kind: str) -> type:
    """The :class:`~bmrun.tasks.base.Task` subclass of a task kind (imports TensorFlow)."""
    if kind not in KINDS:
        raise ConfigError("data", f"task kind {kind!r} has no implementation; known: {', '.join(KINDS)}")
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def task_for(spec: TaskSpec):
    """The :class:`~bmrun.tasks.base.Task` of a dataset's task spec."""
    return task_class(spec.kind)(spec)
