"""Convolutional network for images: [Conv2D -> (BatchNorm) -> act -> MaxPool] x N -> Dense head.

The default (one block of 32 filters, ``valid`` padding, Dense(64)) is the classic small MNIST
CNN; ``padding="same"`` keeps the image size through each convolution, so deeper stacks still
fit small images such as the 8x8 digits.
"""

from __future__ import annotations

from typing import Sequence

import keras

from bmrun.models.base import BasicModel


@keras.saving.register_keras_serializable(package="bmrun")
class CNN(BasicModel):
    """Convolutional blocks then dense layers.

    Args:
        filters: Filters of each convolutional block (one block per entry).
        kernel_size: Side of the square convolution kernels.
        padding: ``valid`` (Keras's default; each convolution trims kernel_size - 1 pixels) or
            ``same``.
        pool_size: Max-pooling window and stride after each block (1 = no pooling).
        dense_dims: Widths of the dense layers before the head.
        batch_norm: Batch normalisation after each convolution.
        activation: Keras activation name.
        dropout_rate: Dropout after the flatten and after each dense layer.
        **common: See :class:`BasicModel`.
    """

    def __init__(self, filters: Sequence[int] = (32,), kernel_size: int = 3, padding: str = "valid",
                 pool_size: int = 2,
                 dense_dims: Sequence[int] = (64,), batch_norm: bool = False, activation: str = "relu",
                 dropout_rate: float = 0.0, **common):
        def body(x):
            for i, width in enumerate(filters):
                x = keras.layers.Conv2D(width, kernel_size, padding=padding, use_bias=not batch_norm,
                                        name=f"conv_{i}")(x)
                if batch_norm:
                    x = keras.layers.BatchNormalization(name=f"bn_{i}")(x)
                x = keras.layers.Activation(activation, name=f"act_{i}")(x)
                if pool_size > 1:
                    x = keras.layers.MaxPooling2D(pool_size, name=f"pool_{i}")(x)
            x = keras.layers.Flatten(name="flatten")(x)
            if dropout_rate:
                x = keras.layers.Dropout(dropout_rate, name="dropout_flat")(x)
            for i, width in enumerate(dense_dims):
                x = keras.layers.Dense(width, activation=activation, name=f"dense_{i}")(x)
                if dropout_rate:
                    x = keras.layers.Dropout(dropout_rate, name=f"dropout_{i}")(x)
            return x

        super().__init__(body, **common)
        self.filters = list(filters)
        self.kernel_size = kernel_size
        self.padding = padding
        self.pool_size = pool_size
        self.dense_dims = list(dense_dims)
        self.batch_norm = batch_norm
        self.activation = activation
        self.dropout_rate = dropout_rate

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "padding": self.padding,
                "pool_size": self.pool_size, "dense_dims": self.dense_dims, "batch_norm": self.batch_norm,
                "activation": self.activation, "dropout_rate": self.dropout_rate}
