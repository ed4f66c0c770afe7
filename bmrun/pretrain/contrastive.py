"""``pretrain=contrastive``: SimCLR (Chen et al., 2020) for small images.

Two random views of every image (shift, zoom, flip, rotation, cutout, contrast, brightness,
noise: :func:`bmrun.data.augment.distort`) go through the backbone and a projection MLP; the
NT-Xent loss pulls each image's two embeddings together and pushes them away from the other
``2N - 2`` embeddings of the batch. The projection head is discarded after pretraining: the
backbone's features, not the projections, transfer best (SimCLR, section 4.2).
"""

from __future__ import annotations

import tensorflow as tf

from bmrun.data.augment import Distortion, distort
import keras


def nt_xent(z_a: tf.Tensor, z_b: tf.Tensor, temperature: float) -> tf.Tensor:
    """The normalised-temperature cross-entropy of a batch of embedding pairs, per image.

    Args:
        z_a, z_b: ``[N, d]`` embeddings of the two views of the same N images.
        temperature: Divides the cosine similarities.

    Returns:
        ``[N]``: for each image, the mean over its two views of the cross-entropy of picking its
        other view among the batch's ``2N - 1`` other embeddings. About ``log(2N - 1)`` for
        unrelated embeddings; near 0 when the two views agree and differ from the rest.
    """
    z = tf.math.l2_normalize(tf.cast(tf.concat([z_a, z_b], axis=0), tf.float32), axis=-1)
    n = tf.shape(z_a)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits = logits - 1e9 * tf.eye(2 * n)  # an embedding is never its own candidate
    positives = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(positives, logits)
    return (losses[:n] + losses[n:]) / 2.0


class Contrastive:
    """The contrastive pretext task (see the module docstring).

    Args:
        config: The ``pretrain`` group.
        horizontal_flip: Whether views may mirror images (``augment.horizontal_flip``).
    """

    loss_name = "nt_xent"

    def __init__(self, config, *, horizontal_flip: bool):
        self.temperature = float(config.temperature)
        self.projection_dims = list(config.projection_dims)
        self.view = Distortion(shift=config.view_shift, horizontal_flip=horizontal_flip, rotation=10.0,
                               zoom=config.view_zoom, cutout=0.3, brightness=0.2, contrast=0.4, noise_std=8.0)

    def head(self, features):
        """The projection MLP after the backbone's features (ReLU between layers, linear last)."""

        x = features
        for i, width in enumerate(self.projection_dims):
            last = i == len(self.projection_dims) - 1
            x = keras.layers.Dense(width, activation=None if last else "relu", dtype="float32",
                                   name=f"projection_{i}")(x)
        return x

    def inputs(self, images, key) -> tuple:
        """Two independent views of each image."""
        keys = tf.random.experimental.stateless_split(key, num=2, alg="philox")
        return distort(images, keys[0], self.view), distort(images, keys[1], self.view)

    def per_example_loss(self, model, inputs: tuple, training: bool) -> tf.Tensor:
        view_a, view_b = inputs
        n = tf.shape(view_a)[0]
        embeddings = model(tf.concat([view_a, view_b], axis=0), training=training)
        return nt_xent(embeddings[:n], embeddings[n:], self.temperature)
