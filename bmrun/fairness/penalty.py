"""The demographic-parity penalty the compiled train step adds to the loss (MinDiff-style).

``loss.fairness_penalty=λ`` with ``loss.fairness_group=<column>``: each training batch adds

    λ × (max − min over the groups present in the batch of the mean predicted positive probability)
      × 2 √(p (1 − p))

where p is the batch's share of positive labels. The factor is the spread of a label with that
base rate (1 at p = 0.5): measured on one table at two base rates, the same unscaled λ cut the gap
far more where positives were rare (the data loss is smaller there, so the penalty weighs more);
the factor weighs the penalty down there (BENCHMARKS.md, "Fairness as a constraint").

For two groups the gap is |mean p(group A) − mean p(group B)|. With more groups the widest gap
is penalised (max − min, the batch's own demographic parity difference, measured on
probabilities rather than on thresholded predictions so that it has a gradient). A batch with
one group present adds nothing. The group of each example travels beside its label (an int32
id per example), never as a model input.
"""

from __future__ import annotations

import tensorflow as tf


def demographic_parity_gap(logits, group_ids, num_groups: int):
    """The batch's max − min of the groups' mean sigmoid probability (a float32 scalar).

    Args:
        logits: A binary model's outputs, ``[batch, 1]`` or ``[batch]``.
        group_ids: The group id of each example, ``[batch]``, in ``0..num_groups-1``.
        num_groups: Groups known from the training split.
    """
    probabilities = tf.sigmoid(tf.reshape(tf.cast(logits, tf.float32), [-1]))
    ids = tf.reshape(tf.cast(group_ids, tf.int32), [-1])
    sums = tf.math.unsorted_segment_sum(probabilities, ids, num_groups)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(probabilities), ids, num_groups)
    present = counts > 0
    means = sums / tf.maximum(counts, 1.0)
    # Absent groups take the batch's overall mean, which lies between the present groups' means:
    # it never changes their max or min, and keeps infinities (and NaN gradients) out.
    overall = tf.reduce_sum(sums) / tf.maximum(tf.reduce_sum(counts), 1.0)
    filled = tf.where(present, means, overall)
    return tf.reduce_max(filled) - tf.reduce_min(filled)


def base_rate_scale(labels):
    """``2 √(p (1 − p))`` of the batch's positive share p, without gradient (at least 0.02)."""
    rate = tf.reduce_mean(tf.cast(tf.reshape(labels, [-1]), tf.float32))
    return tf.stop_gradient(2.0 * tf.sqrt(tf.maximum(rate * (1.0 - rate), 1e-4)))


class Multiplier:
    """λ of the penalty as checkpointed state, read by the compiled train step at each step.

    A variable, not a Python float, so ``fairness.max_gap`` can move it between epochs without
    retracing the step, and a resumed run continues with the λ it stopped at. ``path`` (JSON, one
    entry per finished epoch) and ``best_feasible`` (the best epoch met the bound) travel in the
    same checkpoint so that metrics.json and the best-epoch rule survive a resume too.

    Args:
        initial: λ at the start (``loss.fairness_penalty``).
    """

    def __init__(self, initial: float) -> None:
        self.value = tf.Variable(float(initial), dtype=tf.float32, trainable=False)
        self.path = tf.Variable("[]", dtype=tf.string, trainable=False)
        self.best_feasible = tf.Variable(False, trainable=False)

    def trackables(self) -> dict:
        return {"fairness_multiplier": self.value, "fairness_multiplier_path": self.path,
                "fairness_best_feasible": self.best_feasible}
