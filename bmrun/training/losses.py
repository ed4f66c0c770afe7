"""Per-example losses on model outputs (logits, or values for regression).

They return one value per example; the loop sums them and divides by the *global* batch size,
which is what keeps gradients right when a batch is split across replicas.
"""

from __future__ import annotations

from typing import Callable, Optional

import tensorflow as tf


def make_loss(name: str, *, num_classes: Optional[int], label_smoothing: float = 0.0,
              target_std: Optional[float] = None) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Build a per-example loss function ``loss(y_true, outputs) -> [batch]``.

    Args:
        name: ``cross_entropy``, ``binary_cross_entropy``, ``mse`` or ``token_cross_entropy``
            (sequences: padding, id 0, masked) (already resolved from auto).
        num_classes: Number of classes for cross-entropy.
        label_smoothing: Softens targets towards uniform (classification only).
        target_std: Regression only: the squared error is divided by the training targets'
            variance, so the loss is scale-free (about 1 for a constant predictor) while the
            model still predicts in the targets' own units.
    """
    if name == "cross_entropy":
        if label_smoothing:
            def smoothed(y, logits):
                onehot = tf.one_hot(tf.cast(y, tf.int32), num_classes, dtype=logits.dtype)
                onehot = onehot * (1.0 - label_smoothing) + label_smoothing / num_classes
                return tf.nn.softmax_cross_entropy_with_logits(onehot, logits)
            return smoothed
        return lambda y, logits: tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int32), logits)
    if name == "token_cross_entropy":  # sequences: the mean over each example's real tokens
        def tokens(y, logits):
            y = tf.cast(y, tf.int32)
            onehot = tf.one_hot(y, tf.shape(logits)[-1], dtype=logits.dtype)
            if label_smoothing:
                onehot = onehot * (1.0 - label_smoothing) + label_smoothing / tf.cast(tf.shape(logits)[-1], logits.dtype)
            per_token = tf.nn.softmax_cross_entropy_with_logits(onehot, logits)
            real = tf.cast(tf.not_equal(y, 0), per_token.dtype)  # 0: padding
            return tf.reduce_sum(per_token * real, -1) / tf.maximum(tf.reduce_sum(real, -1), 1.0)
        return tokens
    if name == "binary_cross_entropy":
        def binary(y, logits):
            target = tf.cast(y, logits.dtype)
            target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
            return tf.nn.sigmoid_cross_entropy_with_logits(target, tf.squeeze(logits, -1))
        return binary
    if name == "mse":
        scale = 1.0 / float(target_std or 1.0) ** 2

        def squared_error(y, outputs):
            diff = tf.cast(y, outputs.dtype) - tf.squeeze(outputs, -1)
            return tf.square(diff) * scale
        return squared_error
    raise ValueError(f"unknown loss {name!r}")  # config validation makes this unreachable


def class_weighted(loss: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], weights) -> Callable:
    """``loss`` with each example's value multiplied by the weight of its true class."""
    table = tf.constant(weights, tf.float32)

    def weighted(y, outputs):
        per_example = loss(y, outputs)
        return per_example * tf.cast(tf.gather(table, tf.reshape(tf.cast(y, tf.int32), [-1])), per_example.dtype)
    return weighted
