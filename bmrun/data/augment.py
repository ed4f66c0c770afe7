"""Random transforms of training images, one batched TensorFlow function per batch.

The ``augment`` config group (``conf/augment/``) switches them on: a random shift (the same as
zero-padding by ``shift`` pixels and cropping back at a random offset), a horizontal flip, a
small rotation and Gaussian pixel noise. :class:`~bmrun.data.pipeline.DataPipeline` applies
them to training batches only, inside the tf.data pipeline.

Every random number comes from stateless ops keyed on ``(seed, epoch, batch index)``: a batch's
augmentation does not depend on which batches ran before it, so a resumed run sees exactly the
batches the interrupted one would have seen and two runs with one seed are identical. The
geometric transforms (shift, flip, rotation) are fused into one projective transform per image,
so their cost is one resampling pass however many are on.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import tensorflow as tf

# Philox everywhere: "auto_select" may pick a device-dependent algorithm, and the same
# (seed, epoch, batch) must give the same numbers on every machine.
_ALG = "philox"
_SALT = 0x6A06  # keeps this stream apart from anything else keyed on (seed, epoch)


class Augmenter:
    """Augments batches of raw images ``[batch, height, width, channels]`` (float, 0..255).

    Args:
        shift: Largest translation in pixels along each axis (integer, uniform in
            ``[-shift, shift]``); uncovered pixels are 0, as with pad-and-crop.
        horizontal_flip: Mirror left-right with probability 1/2.
        rotation: Largest rotation in degrees (uniform in ``[-rotation, rotation]``, bilinear).
        noise_std: Standard deviation of additive Gaussian noise, in pixel units. Not clipped
            to 0..255: clipping would halve the noise on black backgrounds and bias it upwards.
        seed: The run's seed.
    """

    def __init__(self, *, shift: int = 0, horizontal_flip: bool = False, rotation: float = 0.0,
                 noise_std: float = 0.0, seed: int = 0):
        self.shift = int(shift)
        self.horizontal_flip = bool(horizontal_flip)
        self.rotation = float(rotation)
        self.noise_std = float(noise_std)
        self.seed = int(seed)
        # Traced once and reused: tf.data re-traces its map function for every epoch's dataset,
        # and tracing the transforms each time would cost more than a small epoch's augmenting.
        self._batch = tf.function(self._augment, reduce_retracing=True)

    @classmethod
    def from_config(cls, cfg: Any, seed: int) -> Optional["Augmenter"]:
        """The augmenter an ``augment`` config asks for, or None when every transform is off."""
        if cfg is None or not cfg.enabled:
            return None
        return cls(shift=cfg.shift, horizontal_flip=cfg.horizontal_flip, rotation=cfg.rotation,
                   noise_std=cfg.noise_std, seed=seed)

    @property
    def geometric(self) -> bool:
        return self.shift > 0 or self.horizontal_flip or self.rotation > 0

    def batch_key(self, epoch, batch_index) -> tf.Tensor:
        """The stateless seed of one batch: a pure function of (seed, epoch, batch index)."""
        key = tf.constant([self.seed, _SALT], tf.int64)
        key = tf.random.experimental.stateless_fold_in(key, tf.cast(epoch, tf.int64), alg=_ALG)
        return tf.random.experimental.stateless_fold_in(key, tf.cast(batch_index, tf.int64), alg=_ALG)

    def __call__(self, images: tf.Tensor, epoch, batch_index) -> tf.Tensor:
        """Augment one training batch.

        Args:
            images: ``[batch, height, width, channels]`` float images.
            epoch: 0-based epoch (int or scalar tensor).
            batch_index: Index of the batch within its epoch, counted from the epoch's start
                (not from a resume point).

        Returns:
            The augmented batch, same shape and dtype.
        """
        images = tf.convert_to_tensor(images)
        return self._batch(images, tf.cast(epoch, tf.int64), tf.cast(batch_index, tf.int64))

    def _augment(self, images: tf.Tensor, epoch: tf.Tensor, batch_index: tf.Tensor) -> tf.Tensor:
        keys = tf.random.experimental.stateless_split(self.batch_key(epoch, batch_index), num=4, alg=_ALG)
        out = images
        if self.geometric:
            out = self._transform(out, keys)
        if self.noise_std > 0:
            noise = tf.random.stateless_normal(tf.shape(out), seed=keys[3], stddev=self.noise_std,
                                               dtype=tf.float32, alg=_ALG)
            out = out + tf.cast(noise, out.dtype)
        return out

    def _transform(self, images: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
        """Shift, flip and rotate every image with one ``ImageProjectiveTransformV3`` call."""
        batch = tf.shape(images)[0]
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
        if self.shift > 0:
            offsets = tf.random.stateless_uniform([batch, 2], seed=keys[0], minval=-self.shift,
                                                  maxval=self.shift + 1, dtype=tf.int32, alg=_ALG)
            tx, ty = tf.cast(offsets[:, 0], tf.float32), tf.cast(offsets[:, 1], tf.float32)
        else:
            tx = ty = tf.zeros([batch], tf.float32)
        if self.rotation > 0:
            limit = self.rotation * math.pi / 180.0
            angle = tf.random.stateless_uniform([batch], seed=keys[1], minval=-limit, maxval=limit, alg=_ALG)
        else:
            angle = tf.zeros([batch], tf.float32)
        if self.horizontal_flip:
            flip = tf.random.stateless_uniform([batch], seed=keys[2], alg=_ALG) < 0.5
            sign = tf.where(flip, -1.0, 1.0)
        else:
            sign = tf.ones([batch], tf.float32)
        # The op maps each OUTPUT pixel (x, y) to the input point (a0 x + a1 y + a2, b0 x + b1 y + b2).
        # Output = centre + R(flip(input) - centre) + t, so input = flip(centre + R^-1(output - t - centre)).
        cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
        cos, sin = tf.cos(angle), tf.sin(angle)
        a0, a1 = cos, sin
        a2 = cx - cos * (tx + cx) - sin * (ty + cy)
        b0, b1 = -sin, cos
        b2 = cy + sin * (tx + cx) - cos * (ty + cy)
        a0, a1, a2 = sign * a0, sign * a1, sign * a2 + (1.0 - sign) / 2.0 * (w - 1.0)
        zeros = tf.zeros([batch], tf.float32)
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        # Bilinear sampling at integer points returns the pixel exactly, so a pure shift or flip
        # is lossless; only rotation interpolates.
        out = tf.raw_ops.ImageProjectiveTransformV3(
            images=tf.cast(images, tf.float32), transforms=transforms, output_shape=tf.stack([height, width]),
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
        return tf.ensure_shape(tf.cast(out, images.dtype), images.shape)
