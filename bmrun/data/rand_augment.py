"""RandAugment as FixMatch uses it (Cubuk et al. 2020; Sohn et al. 2020): the strong view.

Each image gets ``ops`` operations in a row, each drawn uniformly from the pool below at its own
random magnitude (FixMatch's "RA" samples the magnitude instead of fixing it, so no magnitude
has to be tuned). The pool is PIL's, on float images 0..255 of any channel count: identity,
autocontrast, equalize, posterize, solarize, contrast, brightness, sharpness, rotate (±30°),
shear x/y (±0.3), translate x/y (±30% of the side); colour images add colour (saturation).

The batch is small (28x28 images, a few hundred per step), so every operation runs on the whole
batch and each image keeps the result its draw picked: one vectorised pass per round, no
per-image control flow. All random numbers come from one stateless key, as in
:func:`bmrun.data.augment.distort`, so a view is a pure function of (seed, step).
"""

from __future__ import annotations

import math

import tensorflow as tf

_ALG = "philox"

_ROTATION_DEGREES = 30.0  # the largest magnitude of each geometric operation, as in FixMatch's pool
_SHEAR = 0.3
_TRANSLATE = 0.3  # share of the image side
_ENHANCE = 0.95  # contrast, brightness, sharpness, colour: a factor in [1 - 0.95, 1 + 0.95]


def _autocontrast(x, magnitude, signed):
    """Stretch each image so its darkest pixel is 0 and its brightest 255."""
    low = tf.reduce_min(x, axis=[1, 2, 3], keepdims=True)
    high = tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
    return tf.where(high > low, (x - low) * 255.0 / tf.maximum(high - low, 1e-3), x)


def _equalize(x, magnitude, signed):
    """Histogram equalisation of each image (over all its channels): its grey levels spread evenly."""
    batch = tf.shape(x)[0]
    levels = tf.reshape(tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.int32), [batch, -1])
    pixels = tf.cast(tf.shape(levels)[1], tf.float32)
    # One bincount for the whole batch: image i's levels are counted in bins 256 i .. 256 i + 255.
    offsets = levels + 256 * tf.range(batch)[:, None]
    counts = tf.math.bincount(tf.reshape(offsets, [-1]), minlength=256 * batch, maxlength=256 * batch)
    cdf = tf.cast(tf.cumsum(tf.reshape(counts, [batch, 256]), axis=1), tf.float32)
    first = tf.reduce_min(tf.where(cdf > 0, cdf, pixels), axis=1, keepdims=True)  # the darkest level's count
    table = tf.clip_by_value((cdf - first) * 255.0 / tf.maximum(pixels - first, 1.0), 0.0, 255.0)
    return tf.reshape(tf.gather(table, levels, batch_dims=1), tf.shape(x))


def _posterize(x, magnitude, signed):
    """Keep 8 down to 4 bits per pixel (4 at the largest magnitude)."""
    bits = 8.0 - tf.round(4.0 * magnitude)
    step = tf.pow(2.0, 8.0 - bits)[:, None, None, None]
    return tf.floor(x / step) * step


def _solarize(x, magnitude, signed):
    """Invert every pixel above a threshold that falls from 256 (no change) to 0 (all inverted)."""
    threshold = (256.0 * (1.0 - magnitude))[:, None, None, None]
    return tf.where(x < threshold, x, 255.0 - x)


def _blend(x, anchor, signed):
    """PIL's ImageEnhance: ``anchor + factor (x - anchor)``, factor ``1 ± 0.95 magnitude``."""
    factor = (1.0 + _ENHANCE * signed)[:, None, None, None]
    return tf.clip_by_value(anchor + factor * (x - anchor), 0.0, 255.0)


def _contrast(x, magnitude, signed):
    return _blend(x, tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True), signed)


def _brightness(x, magnitude, signed):
    return _blend(x, tf.zeros_like(x), signed)


def _sharpness(x, magnitude, signed):
    """Blend with PIL's smoothing filter (centre 5, neighbours 1): factors above 1 sharpen."""
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, tf.shape(x)[3], 1])
    return _blend(x, tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME"), signed)


def _colour(x, magnitude, signed):
    """Saturation: blend with the image's grey version (ITU-R 601 luma)."""
    grey = tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114]), axis=-1, keepdims=True)
    return _blend(x, grey, signed)


def resample_affine(x, rows, interpolation: str = "BILINEAR"):
    """Resample each image (float32) at ``input = A @ (x, y, 1)``; ``rows`` = ``[batch, 6]``, outside is
    black. The one resampling op of every view (:func:`bmrun.data.augment.distort` uses it too);
    ``NEAREST`` for masks, whose class indices must not blend."""
    transforms = tf.concat([rows, tf.zeros([tf.shape(x)[0], 2])], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.shape(x)[1:3], fill_value=0.0,
        interpolation=interpolation, fill_mode="CONSTANT")
    return tf.ensure_shape(out, x.shape)


def _rotate(height, width, signed):
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    angle = signed * _ROTATION_DEGREES * math.pi / 180.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    return tf.stack([cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy], axis=1)


def _shear_x(height, width, signed):
    one, zero = tf.ones_like(signed), tf.zeros_like(signed)
    return tf.stack([one, _SHEAR * signed, -_SHEAR * signed * (height - 1.0) / 2.0, zero, one, zero], axis=1)


def _shear_y(height, width, signed):
    one, zero = tf.ones_like(signed), tf.zeros_like(signed)
    return tf.stack([one, zero, zero, _SHEAR * signed, one, -_SHEAR * signed * (width - 1.0) / 2.0], axis=1)


def _translate_x(height, width, signed):
    one, zero = tf.ones_like(signed), tf.zeros_like(signed)
    return tf.stack([one, zero, _TRANSLATE * signed * width, zero, one, zero], axis=1)


def _translate_y(height, width, signed):
    one, zero = tf.ones_like(signed), tf.zeros_like(signed)
    return tf.stack([one, zero, zero, zero, one, _TRANSLATE * signed * height], axis=1)


def _identity(x, magnitude, signed):
    return x


# Each takes (images, magnitude in [0, 1], signed magnitude in [-1, 1]), both [batch].
PIXEL_OPERATIONS = {
    "identity": _identity, "autocontrast": _autocontrast, "equalize": _equalize, "posterize": _posterize,
    "solarize": _solarize, "contrast": _contrast, "brightness": _brightness, "sharpness": _sharpness,
    "colour": _colour,
}
# Each takes (height, width, signed magnitude [batch]) and gives the affine map's rows [batch, 6]:
# whichever one an image draws, the batch is resampled once.
GEOMETRIC_OPERATIONS = {
    "rotate": _rotate, "shear_x": _shear_x, "shear_y": _shear_y, "translate_x": _translate_x,
    "translate_y": _translate_y,
}


def _moved(function):
    def operation(x, magnitude, signed):
        size = tf.cast(tf.shape(x)[1:3], tf.float32)
        return resample_affine(x, function(size[0], size[1], signed))
    return operation


# Every operation as a function of images (what the tests check one by one).
OPERATIONS = {**PIXEL_OPERATIONS, **{name: _moved(f) for name, f in GEOMETRIC_OPERATIONS.items()}}


def operations_for(channels: int) -> tuple[str, ...]:
    """The pool for images with ``channels`` channels (colour only where there is colour)."""
    return tuple(name for name in OPERATIONS if name != "colour" or channels == 3)


def rand_augment(images: tf.Tensor, key: tf.Tensor, ops: int) -> tf.Tensor:
    """``ops`` random operations per image of a batch ``[batch, height, width, channels]`` (0..255).

    Args:
        images: Float images.
        key: Stateless RNG key (see :func:`bmrun.data.augment.stateless_key`).
        ops: Operations applied in a row to each image (FixMatch: 2).

    Returns:
        The transformed batch, same shape, float32, within 0..255.
    """
    out = tf.cast(images, tf.float32)
    names = operations_for(int(out.shape[-1]))
    pixel = [name for name in names if name in PIXEL_OPERATIONS]
    geometric = [name for name in names if name in GEOMETRIC_OPERATIONS]
    # A drawn operation's place among the candidates (the resampled batch is the last), and
    # among the geometric maps (the identity map after them).
    candidate = tf.constant([pixel.index(n) if n in pixel else len(pixel) for n in names])
    geometric_index = tf.constant([geometric.index(n) if n in geometric else len(geometric) for n in names])
    batch = tf.shape(out)[0]
    height, width = tf.unstack(tf.cast(tf.shape(out)[1:3], tf.float32))
    identity = tf.tile(tf.constant([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]), [batch, 1])
    keys = tf.random.experimental.stateless_split(key, num=3 * ops, alg=_ALG)
    for i in range(ops):
        choice = tf.random.stateless_uniform([batch], seed=keys[3 * i], maxval=len(names), dtype=tf.int32, alg=_ALG)
        magnitude = tf.random.stateless_uniform([batch], seed=keys[3 * i + 1], alg=_ALG)
        signed = magnitude * tf.where(tf.random.stateless_uniform([batch], seed=keys[3 * i + 2], alg=_ALG) < 0.5,
                                      -1.0, 1.0)
        maps = tf.stack([GEOMETRIC_OPERATIONS[n](height, width, signed) for n in geometric] + [identity], axis=1)
        moved = resample_affine(out, tf.gather(maps, tf.gather(geometric_index, choice), axis=1, batch_dims=1))
        candidates = tf.stack([PIXEL_OPERATIONS[n](out, magnitude, signed) for n in pixel] + [moved], axis=1)
        out = tf.gather(candidates, tf.gather(candidate, choice), axis=1, batch_dims=1)  # each image its own draw
    return tf.ensure_shape(out, images.shape)
