"""Per-example losses on model outputs (logits, or values for regression).

They return one value per example; the loop sums them and divides by the *global* batch size,
which is what keeps gradients right when a batch is split across replicas.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import tensorflow as tf
from bmrun.tasks.ctc import ctc_loss


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
    if name in ("mse", "mae") and np.ndim(target_std) == 1:
        return _per_output(name, target_std)
    if name == "mse":
        scale = 1.0 / float(target_std or 1.0) ** 2

        def squared_error(y, outputs):
            diff = tf.cast(y, outputs.dtype) - tf.squeeze(outputs, -1)
            return tf.square(diff) * scale
        return squared_error
    if name == "ctc":  # speech to text: per-frame character logits (bmrun.tasks.ctc)

        return ctc_loss
    raise ValueError(f"unknown loss {name!r}")  # config validation makes this unreachable


def _per_output(name: str, target_std) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Several outputs per example (a forecast's steps): the mean over outputs of the squared (or
    absolute) error, each output scaled by its training standard deviation. Label columns past
    the outputs' width (a forecast's baselines) are not targets and are left out."""
    scale = tf.constant(1.0 / np.asarray(target_std, np.float64), tf.float32)

    def per_output(y, outputs):
        width = tf.shape(outputs)[-1]
        diff = (tf.cast(y[:, :width], outputs.dtype) - outputs) * tf.cast(scale, outputs.dtype)
        return tf.reduce_mean(tf.square(diff) if name == "mse" else tf.abs(diff), axis=-1)
    return per_output


def class_weighted(loss: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], weights) -> Callable:
    """``loss`` with each example's value multiplied by the weight of its true class."""
    table = tf.constant(weights, tf.float32)

    def weighted(y, outputs):
        per_example = loss(y, outputs)
        return per_example * tf.cast(tf.gather(table, tf.reshape(tf.cast(y, tf.int32), [-1])), per_example.dtype)
    return weighted


def make_dense_loss(name: str, *, num_classes: int, class_weights=None,
                    label_smoothing: float = 0.0) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """A per-example loss of per-pixel logits ``[batch, height, width, classes]`` and masks
    ``[batch, height, width]`` (segmentation): each image's mean over its pixels.

    Args:
        name: ``cross_entropy`` (per pixel), ``dice`` (1 - the soft Dice of the foreground
            classes, each image on its own) or ``dice_ce`` (their sum: cross-entropy's steady
            gradients with Dice's indifference to how small the objects are).
        num_classes: Classes of the masks (index 0 is the background).
        class_weights: One weight per class (``data.class_weight=balanced``): a pixel's
            cross-entropy is multiplied by its true class's, and Dice averages the foreground
            classes with them; None: all 1.
        label_smoothing: Softens the per-pixel targets towards uniform (cross-entropy).
    """
    weights = tf.constant(np.ones(num_classes) if class_weights is None else class_weights, tf.float32)

    def cross_entropy(y, logits):
        onehot = tf.one_hot(tf.cast(y, tf.int32), num_classes, dtype=tf.float32)
        smoothed = onehot * (1.0 - label_smoothing) + label_smoothing / num_classes
        per_pixel = tf.nn.softmax_cross_entropy_with_logits(smoothed, tf.cast(logits, tf.float32))
        return tf.reduce_mean(per_pixel * tf.gather(weights, tf.cast(y, tf.int32)), axis=[1, 2])

    def dice(y, logits):
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
        onehot = tf.one_hot(tf.cast(y, tf.int32), num_classes, dtype=tf.float32)
        overlap = tf.reduce_sum(probabilities * onehot, axis=[1, 2])
        total = tf.reduce_sum(probabilities, axis=[1, 2]) + tf.reduce_sum(onehot, axis=[1, 2])
        # +1 on both sides: a class absent from an image and predicted absent scores 1, not 0/0
        score = (2.0 * overlap + 1.0) / (total + 1.0)
        foreground = weights[1:]
        return 1.0 - tf.reduce_sum(score[:, 1:] * foreground, axis=1) / tf.maximum(tf.reduce_sum(foreground), 1e-6)

    if name == "cross_entropy":
        return cross_entropy
    if name == "dice":
        return dice
    if name == "dice_ce":
        return lambda y, logits: cross_entropy(y, logits) + dice(y, logits)
    raise ValueError(f"unknown segmentation loss {name!r}")  # config validation makes this unreachable
