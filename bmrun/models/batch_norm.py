"""Batch normalisation as one fused kernel for images.

Keras 3's ``BatchNormalization`` computes the batch moments and the normalisation as separate
ops (``tf.nn.moments``, then ``tf.nn.batch_normalization``), and so does its gradient. On a CPU
that costs more than the convolution it follows: a train step of the ``[32, 64]`` CNN of
``fashion_best`` / ``fashion_few_labels`` spends ~40% of its time there. TensorFlow has the
fused kernel (``FusedBatchNormV3``, what Keras 2 used by default; cuDNN's on a GPU) that reads
the activations once each way. :class:`FusedBatchNormalization` is Keras's layer with that
kernel in its 4-D channels-last case: same arguments, weights, ``get_config`` and moving
statistics, so checkpoints, ``model.init_from`` and exports see a BatchNormalization. Every other
case (masks, renorm, synchronised, another axis or rank, another backend) is Keras's own code.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

# FusedBatchNormV3 refuses a smaller epsilon (cuDNN's floor).
_SMALLEST_EPSILON = 1.001e-5


def _deterministic_ops() -> bool:
    """Whether ``tf.config.experimental.enable_op_determinism`` is in force (no public getter)."""

    return bool(getattr(tf_config, "is_op_determinism_enabled", lambda: False)())


@keras.saving.register_keras_serializable(package="bmrun")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose ``[batch, height, width, channels]`` case runs as
    ``FusedBatchNormV3``.

    The moving statistics follow Keras's rule exactly (``moving = moving * momentum + batch *
    (1 - momentum)``, with the biased batch variance), so the two layers are interchangeable.
    Inputs in float16/bfloat16 stay in that type through the kernel, whose statistics are float32.
    """

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.convert_to_tensor(inputs)
        if x.dtype not in (tf.float16, tf.bfloat16, tf.float32):
            x = tf.cast(x, tf.float32)
        channels = x.shape[-1]
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels], tf.float32)
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels], tf.float32)
        moving_mean = tf.cast(self.moving_mean, tf.float32)
        moving_variance = tf.cast(self.moving_variance, tf.float32)
        if training and self.trainable:
            # exponential_avg_factor=1 returns this batch's statistics; the variance comes
            # Bessel-corrected (n / (n - 1)), Keras's moving variance uses the biased one.
            outputs, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=tf.zeros([0], tf.float32), variance=tf.zeros([0], tf.float32),
                epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
            count = tf.cast(tf.size(x) // channels, tf.float32)
            variance = variance * tf.maximum(count - 1.0, 0.0) / tf.maximum(count, 1.0)
            self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            outputs, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=moving_mean, variance=moving_variance, epsilon=self.epsilon,
                data_format="NHWC", is_training=False)
        return tf.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, mask) -> bool:
        """The case the fused kernel covers: channels-last 4-D input, plain batch statistics; not
        with ``trainer.deterministic`` on a GPU, where cuDNN's gradient for the offset is not
        deterministic (TensorFlow's determinism notes): Keras's ops are."""
        return (keras.backend.backend() == "tensorflow" and mask is None and len(inputs.shape) == 4
                and self.axis in (-1, 3) and inputs.shape[-1] is not None and not self.renorm
                and not self.synchronized and self.epsilon >= _SMALLEST_EPSILON
                and not (_deterministic_ops() and tf.config.list_logical_devices("GPU")))
