"""Adversarial examples made inside the compiled step: FGSM and PGD (L-infinity ball).

Epsilons are given on the usual [0, 1] image scale (``eps=0.1`` = 10% of the pixel range) and
converted to the raw 0..255 pixel values bmrun models read; examples are clipped to valid pixels.
The attack runs the model in inference mode (no dropout, batch-norm moving statistics), so the
perturbation targets the function being evaluated rather than one noisy training sample of it.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

PIXEL_MAX = 255.0


def _input_gradient(model, loss_fn: Callable, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(loss_fn(y, model(x, training=False)))
    return tape.gradient(loss, x)


def fgsm(model, loss_fn: Callable, x: tf.Tensor, y: tf.Tensor, epsilon: float) -> tf.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015): one step of size ``epsilon``."""
    step = epsilon * PIXEL_MAX
    grad = _input_gradient(model, loss_fn, x, y)
    return tf.stop_gradient(tf.clip_by_value(x + step * tf.sign(grad), 0.0, PIXEL_MAX))


def pgd(model, loss_fn: Callable, x: tf.Tensor, y: tf.Tensor, epsilon: float, steps: int, step_size: float,
        seed: tf.Tensor) -> tf.Tensor:
    """Projected gradient descent (Madry et al. 2018) from a random start in the epsilon ball.

    ``seed`` (shape [2], int) makes the random start a pure function of the step, so
    deterministic runs and resumed runs stay exact.
    """
    radius, alpha = epsilon * PIXEL_MAX, step_size * PIXEL_MAX
    start = tf.random.stateless_uniform(tf.shape(x), seed=seed, minval=-radius, maxval=radius, dtype=x.dtype)
    x_adv = tf.clip_by_value(x + start, 0.0, PIXEL_MAX)
    for _ in range(steps):  # unrolled: few steps, and XLA-friendly
        grad = _input_gradient(model, loss_fn, x_adv, y)
        x_adv = x_adv + alpha * tf.sign(grad)
        x_adv = tf.clip_by_value(tf.clip_by_value(x_adv, x - radius, x + radius), 0.0, PIXEL_MAX)
    return tf.stop_gradient(x_adv)


def mix(clean: tf.Tensor, adversarial: tf.Tensor, fraction: float) -> tf.Tensor:
    """Replace the first ``fraction`` of the batch with its adversarial version."""
    batch = tf.shape(clean)[0]
    count = tf.cast(tf.round(tf.cast(batch, tf.float32) * fraction), tf.int32)
    keep = tf.reshape(tf.range(batch) < count, [-1] + [1] * (len(clean.shape) - 1))
    return tf.where(keep, adversarial, clean)
