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
from dataclasses import dataclass
from typing import Any, Optional

import tensorflow as tf

from bmrun import streams
from bmrun.data.rand_augment import rand_augment, resample_affine
from bmrun.data.audio_augment import mask_waveforms

# Philox everywhere: "auto_select" may pick a device-dependent algorithm, and the same
# (seed, epoch, batch) must give the same numbers on every machine.
_ALG = "philox"


class Augmenter:
    """Augments batches of raw images ``[batch, height, width, channels]`` (float, 0..255).

    Args:
        shift: Largest translation in pixels along each axis (integer, uniform in
            ``[-shift, shift]``); uncovered pixels are 0, as with pad-and-crop.
        horizontal_flip: Mirror left-right with probability 1/2.
        rotation: Largest rotation in degrees (uniform in ``[-rotation, rotation]``, bilinear).
        noise_std: Standard deviation of additive Gaussian noise, in pixel units. Not clipped
            to 0..255: clipping would halve the noise on black backgrounds and bias it upwards.
        cutout: Side of one square set to 0 (black) at a random centre in each image, as a share
            of the image side, clipped at the border (Cutout / random erasing: the model may not
            rely on any one region).
        seed: The run's seed.
    """

    def __init__(self, *, shift: int = 0, horizontal_flip: bool = False, rotation: float = 0.0,
                 noise_std: float = 0.0, cutout: float = 0.0, seed: int = 0, time_mask: float = 0.0,
                 freq_mask: float = 0.0):
        self.shift = int(shift)
        self.horizontal_flip = bool(horizontal_flip)
        self.rotation = float(rotation)
        self.noise_std = float(noise_std)
        self.cutout = float(cutout)
        self.seed = int(seed)
        # Waveform batches (audio inputs) get SpecAugment's masks instead (bmrun.data.audio_augment).
        self.time_mask, self.freq_mask = float(time_mask), float(freq_mask)
        # Traced once and reused: tf.data re-traces its map function for every epoch's dataset,
        # and tracing the transforms each time would cost more than a small epoch's augmenting.
        self._batch = tf.function(self._augment, reduce_retracing=True, autograph=False)
        self._masked = tf.function(self._augment_masked, reduce_retracing=True, autograph=False)

    @classmethod
    def from_config(cls, cfg: Any, seed: int) -> Optional["Augmenter"]:
        """The augmenter an ``augment`` config asks for, or None when every transform is off."""
        if cfg is None or not cfg.enabled:
            return None
        return cls(shift=cfg.shift, horizontal_flip=cfg.horizontal_flip, rotation=cfg.rotation,
                   noise_std=cfg.noise_std, cutout=cfg.cutout, seed=seed,
                   time_mask=getattr(cfg, "time_mask", 0.0), freq_mask=getattr(cfg, "freq_mask", 0.0))

    @property
    def geometric(self) -> bool:
        return self.shift > 0 or self.horizontal_flip or self.rotation > 0

    def batch_key(self, epoch, batch_index) -> tf.Tensor:
        """The stateless seed of one batch: a pure function of (seed, epoch, batch index)."""
        key = tf.constant([self.seed, streams.AUGMENT], tf.int64)
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
        # Five keys; the first four are those of the transforms that predate cutout, so their
        # numbers (and every earlier run's batches) are unchanged.
        keys = tf.random.experimental.stateless_split(self.batch_key(epoch, batch_index), num=5, alg=_ALG)
        if images.shape.rank == 2:  # (batch, samples) waveforms: the pixel transforms do not apply

            return mask_waveforms(images, keys, self.time_mask, self.freq_mask)
        out = images
        if self.geometric:
            out = self._transform(out, keys)
        if self.noise_std > 0:
            noise = tf.random.stateless_normal(tf.shape(out), seed=keys[3], stddev=self.noise_std,
                                               dtype=tf.float32, alg=_ALG)
            out = out + tf.cast(noise, out.dtype)
        if self.cutout > 0:
            out = out * tf.cast(_cutout_mask(tf.shape(out), self.cutout, keys[4]), out.dtype)
        return out

    def with_masks(self, images: tf.Tensor, masks: tf.Tensor, epoch, batch_index) -> tuple[tf.Tensor, tf.Tensor]:
        """Augment a batch of images and their ``[batch, height, width]`` masks alike (segmentation).

        The shift, flip and rotation move image and mask together (the mask resampled
        nearest-neighbour, so class indices never blend; uncovered pixels are background);
        noise and cutout change the image only. The image gets the numbers :meth:`__call__`
        would give it.
        """
        return self._masked(tf.convert_to_tensor(images), masks, tf.cast(epoch, tf.int64),
                            tf.cast(batch_index, tf.int64))

    def _augment_masked(self, images, masks, epoch, batch_index):
        out = images
        if self.geometric:
            keys = tf.random.experimental.stateless_split(self.batch_key(epoch, batch_index), num=5, alg=_ALG)
            batch = tf.shape(images)[0]
            tx, ty = _random_shifts(batch, self.shift, keys[0])
            angle = _random_angles(batch, self.rotation, keys[1])
            sign, scale = _random_flips(batch, self.horizontal_flip, keys[2]), tf.ones([batch], tf.float32)
            out = _projective(images, tx, ty, angle, sign, scale)
            moved = _projective(tf.cast(masks, tf.float32)[..., None], tx, ty, angle, sign, scale, "NEAREST")
            masks = tf.cast(tf.round(moved[..., 0]), masks.dtype)
        photometric = Augmenter(noise_std=self.noise_std, cutout=self.cutout, seed=self.seed)
        return photometric._augment(out, epoch, batch_index), masks

    def _transform(self, images: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
        """Shift, flip and rotate every image with one ``ImageProjectiveTransformV3`` call."""
        batch = tf.shape(images)[0]
        tx, ty = _random_shifts(batch, self.shift, keys[0])
        angle = _random_angles(batch, self.rotation, keys[1])
        sign = _random_flips(batch, self.horizontal_flip, keys[2])
        return _projective(images, tx, ty, angle, sign, tf.ones([batch], tf.float32))


def _random_shifts(batch, shift: int, key) -> tuple[tf.Tensor, tf.Tensor]:
    if shift <= 0:
        zeros = tf.zeros([batch], tf.float32)
        return zeros, zeros
    offsets = tf.random.stateless_uniform([batch, 2], seed=key, minval=-shift, maxval=shift + 1, dtype=tf.int32,
                                          alg=_ALG)
    return tf.cast(offsets[:, 0], tf.float32), tf.cast(offsets[:, 1], tf.float32)


def _random_angles(batch, degrees: float, key) -> tf.Tensor:
    if degrees <= 0:
        return tf.zeros([batch], tf.float32)
    limit = degrees * math.pi / 180.0
    return tf.random.stateless_uniform([batch], seed=key, minval=-limit, maxval=limit, alg=_ALG)


def _random_flips(batch, enabled: bool, key) -> tf.Tensor:
    """-1 (mirror) or 1 per image."""
    if not enabled:
        return tf.ones([batch], tf.float32)
    return tf.where(tf.random.stateless_uniform([batch], seed=key, alg=_ALG) < 0.5, -1.0, 1.0)


def _projective(images: tf.Tensor, tx, ty, angle, sign, scale, interpolation: str = "BILINEAR") -> tf.Tensor:
    """Each image shifted by (tx, ty), turned by ``angle``, scaled by ``scale`` about its centre
    and mirrored where ``sign`` is -1, in one ``ImageProjectiveTransformV3`` resampling pass."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    # The op maps each OUTPUT pixel (x, y) to the input point (a0 x + a1 y + a2, b0 x + b1 y + b2).
    # Output = centre + s R(flip(input) - centre) + t, so input = flip(centre + R^-1(output - t - centre) / s).
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos, sin
    a2 = cx - cos * (tx + cx) - sin * (ty + cy)
    b0, b1 = -sin, cos
    b2 = cy + sin * (tx + cx) - cos * (ty + cy)
    a0, a1, a2 = sign * a0, sign * a1, sign * a2 + (1.0 - sign) / 2.0 * (w - 1.0)
    # Bilinear sampling at integer points returns the pixel exactly, so a pure shift or flip
    # is lossless; only rotation and zoom interpolate.
    out = resample_affine(tf.cast(images, tf.float32), tf.stack([a0, a1, a2, b0, b1, b2], axis=1), interpolation)
    return tf.ensure_shape(tf.cast(out, images.dtype), images.shape)


# ----------------------------------------------------------------------------- views for unlabeled images
@dataclass(frozen=True)
class Distortion:
    """How strongly :func:`distort` changes an image: the weak and strong views of
    semi-supervised training and the views of contrastive pretraining.

    Attributes:
        shift: Largest translation, pixels.
        horizontal_flip: Mirror with probability 1/2.
        rotation: Largest rotation, degrees.
        zoom: Scale by a factor in ``[1 - zoom, 1 + zoom]`` (a random resized crop for small images).
        cutout: Side of one blacked-out square at a random place, as a share of the image side.
        brightness: Add a uniform offset in ``[-brightness, brightness]`` x 255 per image.
        contrast: Scale about the image's mean by a factor in ``[1 - contrast, 1 + contrast]``.
        noise_std: Gaussian pixel noise (pixel units), after the rest.
        randaugment_ops: RandAugment operations per image after the shift and flip
            (:func:`bmrun.data.rand_augment.rand_augment`; 0: none).
    """

    shift: int = 0
    horizontal_flip: bool = False
    rotation: float = 0.0
    zoom: float = 0.0
    cutout: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    noise_std: float = 0.0
    randaugment_ops: int = 0


def stateless_key(seed: int, salt: int, *parts) -> tf.Tensor:
    """A stateless RNG key that is a pure function of ``(seed, salt, *parts)`` (ints or scalar tensors)."""
    key = tf.constant([int(seed), int(salt)], tf.int64)
    for part in parts:
        key = tf.random.experimental.stateless_fold_in(key, tf.cast(part, tf.int64), alg=_ALG)
    return key


def distort(images: tf.Tensor, key: tf.Tensor, spec: Distortion) -> tf.Tensor:
    """One random view of each image in a batch of raw images (float, 0..255), in-graph.

    Every random number comes from ``key`` (see :func:`stateless_key`), so the same key gives
    the same views: exact resumes, reproducible runs.
    """
    images = tf.cast(images, tf.float32)
    keys = tf.random.experimental.stateless_split(key, num=8, alg=_ALG)
    batch = tf.shape(images)[0]
    out = images
    if spec.shift > 0 or spec.horizontal_flip or spec.rotation > 0 or spec.zoom > 0:
        tx, ty = _random_shifts(batch, spec.shift, keys[0])
        scale = tf.ones([batch], tf.float32)
        if spec.zoom > 0:
            scale = tf.random.stateless_uniform([batch], seed=keys[3], minval=1.0 - spec.zoom,
                                                maxval=1.0 + spec.zoom, alg=_ALG)
        out = _projective(out, tx, ty, _random_angles(batch, spec.rotation, keys[1]),
                          _random_flips(batch, spec.horizontal_flip, keys[2]), scale)
    if spec.randaugment_ops > 0:  # its own key: the eight above keep their numbers
        out = rand_augment(out, tf.random.experimental.stateless_fold_in(key, 8, alg=_ALG), spec.randaugment_ops)
    if spec.contrast > 0:
        factor = tf.random.stateless_uniform([batch, 1, 1, 1], seed=keys[4], minval=1.0 - spec.contrast,
                                             maxval=1.0 + spec.contrast, alg=_ALG)
        mean = tf.reduce_mean(out, axis=[1, 2, 3], keepdims=True)
        out = mean + (out - mean) * factor
    if spec.brightness > 0:
        out = out + 255.0 * tf.random.stateless_uniform([batch, 1, 1, 1], seed=keys[5], minval=-spec.brightness,
                                                        maxval=spec.brightness, alg=_ALG)
    if spec.contrast > 0 or spec.brightness > 0:
        out = tf.clip_by_value(out, 0.0, 255.0)
    if spec.cutout > 0:
        out = out * _cutout_mask(tf.shape(out), spec.cutout, keys[6])
    if spec.noise_std > 0:
        out = out + tf.random.stateless_normal(tf.shape(out), seed=keys[7], stddev=spec.noise_std, alg=_ALG)
    return tf.ensure_shape(out, images.shape)


def _cutout_mask(shape, size: float, key) -> tf.Tensor:
    """1 everywhere except one square of side ``size`` x height per image (0), centred at random."""
    batch, height, width = shape[0], shape[1], shape[2]
    side = tf.maximum(tf.cast(tf.round(size * tf.cast(height, tf.float32)), tf.int32), 1)
    centres = tf.random.stateless_uniform([batch, 2], seed=key, minval=0, maxval=tf.int32.max, dtype=tf.int32,
                                          alg=_ALG)
    cy = centres[:, 0] % height
    cx = centres[:, 1] % width
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    low_y, low_x = (cy - side // 2)[:, None, None], (cx - side // 2)[:, None, None]
    inside = (rows >= low_y) & (rows < low_y + side) & (cols >= low_x) & (cols < low_x + side)
    return tf.cast(tf.logical_not(inside), tf.float32)[..., None]
