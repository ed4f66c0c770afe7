"""What every learning method gives the one compiled train step (TensorFlow side).

The step (:class:`bmrun.training.steps.CompiledSteps`) owns what every method shares: the
optimizer update, adversarial examples, the fairness penalty, L2 and weight regularisers, the
weights' moving average, the named sums. A :class:`Method` owns only what differs: the batch plan
that makes its batches, the model it trains, the targets it computes before the gradient tape,
its loss terms inside it, the state it checkpoints and the metrics it adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import tensorflow as tf

# The named sums of a classifier's training step; a method adds its own after them.
CLASSIFIER_SUMS = ("loss_sum", "correct", "count")


@dataclass
class Batch:
    """One training batch as a method reads it.

    Attributes:
        x: The labeled inputs (None for a pretext task, whose inputs are all in ``extra``).
        y: Their labels (None likewise).
        extra: What the method's batch plan added (unlabeled views, pretext inputs).
    """

    x: Any
    y: Any
    extra: tuple = ()


@dataclass
class Terms:
    """A method's loss terms for one batch, computed inside the gradient tape.

    Attributes:
        per_example: Loss of each labeled (or pretext) example, ``[batch]``; the step sums it and
            divides by the global batch size.
        outputs: The model's outputs on the labeled examples (accuracy, the fairness penalty);
            None when the method trains no classifier.
        extra_loss: Further loss already scaled to this replica's share (e.g. the unlabeled loss).
        sums: The method's own named sums for this batch (:attr:`Method.sum_names`).
    """

    per_example: tf.Tensor
    outputs: Optional[tf.Tensor] = None
    extra_loss: Any = 0.0
    sums: dict = field(default_factory=dict)


class Method:
    """Base of the learning methods: supervised learning's behaviour, which the others extend.

    Attributes:
        name: The method's name in :data:`bmrun.methods.catalog.METHODS`.
        sum_names: Named sums its training step returns (checkpoints keep them mid-epoch).
        trains_classifier: Whether the trained model is the task's classifier (accuracy,
            validation metrics, attacks), or a pretext model sharing its backbone.
    """

    name = "supervised"
    sum_names: tuple = CLASSIFIER_SUMS
    trains_classifier = True

    def batch_plan(self) -> Optional[Callable]:
        """``plan(x, y, epoch, index) -> batch`` for the data pipeline, or None for ``(x, y)``."""
        return None

    def training_model(self, model):
        """The Keras model the optimizer trains: ``model`` itself, or one sharing its backbone."""
        return model

    def unpack(self, batch: tuple) -> Batch:
        """The pipeline's batch (group ids already taken off) as a :class:`Batch`."""
        x, y = batch
        return Batch(x, y)

    def targets(self, model, batch: Batch) -> Any:
        """Whatever the loss needs that takes no gradient, computed before the tape (None here)."""
        return None

    def loss_terms(self, model, loss_fn: Callable, batch: Batch, targets: Any, global_batch_size: float) -> Terms:
        """The loss terms of one batch (inside the tape)."""
        outputs = model(batch.x, training=True)
        return Terms(loss_fn(batch.y, outputs), outputs)

    def after_update(self, batch: Batch, terms: Terms) -> None:
        """State updates after the optimizer step (none here)."""

    def trackables(self) -> dict:
        """State the checkpoint keeps besides the model and the optimizer."""
        return {}

    def train_metrics(self, sums: dict) -> dict:
        """Metrics the method adds to the task's training metrics."""
        return {}

    def record(self, data, config) -> dict:
        """metrics.json fields saying what the run learnt from."""
        return {"labels": {**data.label_counts(), "fraction": config.data.label_fraction}}
