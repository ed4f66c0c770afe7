"""``pretrain=autoencoder``: masked-image reconstruction with a small decoder.

Each image loses a random ``pretrain.mask_ratio`` of its ``patch_size`` x ``patch_size``
patches (set to 0) and, optionally, gets Gaussian noise on the rest; the backbone encodes what
is left and a two-layer dense decoder rebuilds every pixel (on the 0..1 scale). The loss is the
mean squared error per image. Only the backbone is kept for fine-tuning.
"""

from __future__ import annotations

import tensorflow as tf
import keras


class MaskedAutoencoder:
    """The reconstruction pretext task (see the module docstring).

    Args:
        config: The ``pretrain`` group.
        image_shape: ``(height, width, channels)`` of the images.
    """

    loss_name = "masked_reconstruction_mse"

    def __init__(self, config, *, image_shape):
        self.mask_ratio = float(config.mask_ratio)
        self.patch = int(config.patch_size)
        self.noise_std = float(config.noise_std)
        self.decoder_dim = int(config.decoder_dim)
        self.shape = tuple(int(d) for d in image_shape)

    def head(self, features):
        """The decoder: Dense(decoder_dim, relu) -> Dense(pixels, sigmoid) -> image shape."""

        pixels = self.shape[0] * self.shape[1] * self.shape[2]
        x = keras.layers.Dense(self.decoder_dim, activation="relu", dtype="float32", name="decoder_hidden")(features)
        x = keras.layers.Dense(pixels, activation="sigmoid", dtype="float32", name="decoder_pixels")(x)
        return keras.layers.Reshape(self.shape, name="decoder_image")(x)

    def inputs(self, images, key) -> tuple:
        """``(masked and noised images, the originals)``."""
        keys = tf.random.experimental.stateless_split(key, num=2, alg="philox")
        images = tf.cast(images, tf.float32)
        height, width = self.shape[0], self.shape[1]
        grid = [tf.shape(images)[0], -(-height // self.patch), -(-width // self.patch), 1]
        keep = tf.random.stateless_uniform(grid, seed=keys[0], alg="philox") >= self.mask_ratio
        keep = tf.repeat(tf.repeat(tf.cast(keep, tf.float32), self.patch, axis=1), self.patch, axis=2)
        masked = images * keep[:, :height, :width, :]
        if self.noise_std > 0:
            masked += keep[:, :height, :width, :] * tf.random.stateless_normal(
                tf.shape(images), seed=keys[1], stddev=self.noise_std, alg="philox")
        return masked, images

    def per_example_loss(self, model, inputs: tuple, training: bool) -> tf.Tensor:
        masked, originals = inputs
        rebuilt = tf.cast(model(masked, training=training), tf.float32)
        return tf.reduce_mean(tf.square(rebuilt - originals / 255.0), axis=[1, 2, 3])
