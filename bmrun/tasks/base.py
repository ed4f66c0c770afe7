"""The interface every task kind implements (see :mod:`bmrun.tasks`)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import tensorflow as tf

from bmrun.specs import TaskSpec
import keras


class Task:
    """What a task kind's outputs mean and how they are scored.

    In-graph methods (:meth:`correct`, :meth:`zero_sums`, :meth:`eval_sums`) run inside the
    compiled steps; the others take NumPy values read back from them.

    Args:
        spec: The dataset's task spec (kind, classes, class names).
    """

    kind = ""
    # What trainer.test_with=best and early stopping watch when trainer.early_stopping.monitor is
    # left at its default (None: that default, val/loss).
    default_monitor: Optional[str] = None

    def __init__(self, spec: TaskSpec):
        self.spec = spec

    @property
    def num_outputs(self) -> int:
        """Width of the head."""
        return self.spec.num_outputs

    # True: the head reads spatial features (maps a dense head upsamples), not a pooled vector.
    dense = False

    @staticmethod
    def build_head(features, num_outputs: int):
        """The task's head on the backbone's features (a Keras tensor): a float32 dense layer, so
        that with mixed precision the logits and the loss stay in full precision. A task kind whose
        outputs are not one vector per example (a mask per pixel, a sequence) overrides it."""

        return keras.layers.Dense(num_outputs, dtype="float32", name="head")(features)

    @staticmethod
    def scale_outputs(outputs, inputs, target_mean, target_std, columns=None):
        """The head's standardised outputs in the targets' own units (a fixed rescaling). A kind
        whose outputs are offsets from the input (a forecast from the last value) overrides it.

        Args:
            outputs: The head's output (a Keras tensor).
            inputs: The model's raw input (a Keras tensor).
            target_mean, target_std: The training targets' statistics.
            columns: The model's recorded input layout (``BasicModel``'s ``columns``).
        """

        return keras.layers.Rescaling(scale=float(target_std), offset=float(target_mean), dtype="float32",
                                      name="target_scale")(outputs)

    # ------------------------------------------------------------------ training
    def correct(self, y, outputs) -> tf.Tensor:
        """Correct predictions in a training batch (0 where the kind has no accuracy)."""
        return tf.constant(0.0)

    def train_metrics(self, sums: Mapping[str, Any]) -> dict[str, float]:
        """Running training metrics of ``{loss_sum, correct, count}`` (and ``fairness_penalty_sum``)."""
        count = max(float(sums["count"]), 1.0)
        result = {"loss": float(sums["loss_sum"]) / count}
        if "fairness_penalty_sum" in sums:
            result["fairness_penalty"] = float(sums["fairness_penalty_sum"]) / count
        return result

    # ------------------------------------------------------------------ evaluation
    def zero_sums(self) -> dict:
        """The named sums of an evaluation pass, at zero (float64: exact over large splits)."""
        zero = tf.constant(0.0, tf.float64)
        return {"loss_sum": zero, "count": zero}

    def eval_sums(self, y, outputs, per_example_loss) -> dict:
        """One batch's contribution to :meth:`zero_sums`'s sums."""
        return {"loss_sum": tf.reduce_sum(tf.cast(per_example_loss, tf.float64)),
                "count": tf.cast(tf.shape(outputs)[0], tf.float64)}

    def metrics(self, sums: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Reported metrics of one evaluation pass's sums."""
        return {"loss": float(sums["loss_sum"]) / max(float(sums["count"]), 1.0)}

    def test_metrics(self, sums: Mapping[str, np.ndarray]) -> dict:
        """Metrics the final test adds to :meth:`metrics` (not computed each epoch)."""
        return {}

    def per_class(self, sums: Mapping[str, np.ndarray]) -> Optional[dict]:
        """metrics.json's ``per_class`` table, or None where the kind has no classes."""
        return None

    def decoded_metrics(self, model, split, columns: Optional[dict], *, batch_size: int,
                        beam_size: int = 1) -> dict[str, float]:
        """Final-test metrics of the model's *generated* outputs on ``split`` (a
        :class:`~bmrun.data.arrays.Split`), for kinds that generate; ``{}`` for the others."""
        return {}

    def captions(self, y, outputs) -> Optional[tuple[list[str], list[str]]]:
        """Each example's truth and prediction as short texts (pictures of test clips), or None
        where the kind has no such words (values, masks)."""
        return None

    def needs_example_outputs(self, groups: Optional[Mapping]) -> bool:
        """Whether :meth:`example_metrics` needs each example's output on a split with ``groups``."""
        return False

    def example_metrics(self, y, outputs, groups: Optional[Mapping]) -> tuple[dict, dict]:
        """Metrics that need each example's output: ``(scalars, per-column fairness reports)``."""
        return {}, {}


class ConfusionTask(Task):
    """A task kind scored from one confusion matrix of class indices summed over the split.

    Subclasses say what a predicted class is (:meth:`predicted`), which key the training accuracy
    is reported under (``accuracy_key``) and which metrics derive from the summed matrix.
    """

    accuracy_key = "accuracy"

    def predicted(self, outputs) -> tf.Tensor:
        """Predicted class indices of a batch's outputs (any shape matching the labels')."""
        raise NotImplementedError

    def train_metrics(self, sums: Mapping[str, Any]) -> dict[str, float]:
        result = super().train_metrics(sums)
        result[self.accuracy_key] = float(sums["correct"]) / max(float(sums["count"]), 1.0)
        return result

    def zero_sums(self) -> dict:
        k = self.spec.num_classes
        return {**super().zero_sums(), "confusion": tf.zeros([k, k], tf.float64)}

    def eval_sums(self, y, outputs, per_example_loss) -> dict:
        confusion = tf.math.confusion_matrix(tf.reshape(tf.cast(y, tf.int32), [-1]),
                                             tf.reshape(self.predicted(outputs), [-1]),
                                             num_classes=self.spec.num_classes, dtype=tf.float64)
        return {**super().eval_sums(y, outputs, per_example_loss), "confusion": confusion}
