"""Convolutional network for images: [Conv2D -> (BatchNorm) -> act -> MaxPool] x N -> Dense head.

The default (one block of 32 filters, ``valid`` padding, Dense(64)) is the classic small MNIST
CNN; ``padding="same"`` keeps the image size through each convolution, so deeper stacks still
fit small images such as the 8x8 digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.specs import AUDIO, SERIES
from bmrun.data.catalog import IMAGE
from bmrun.errors import ConfigError
from bmrun.models.family import Family, ModelConfig


@dataclass
class CnnConfig(ModelConfig):
    """``model=cnn``.

    Attributes:
        filters: Filters of each convolutional block (one block per entry).
        kernel_size: Side of the square convolution kernels.
        padding: ``valid`` (each convolution trims kernel_size - 1 pixels) or ``same``.
        pool_size: Max-pooling window and stride after each block (1 = no pooling).
        hidden_dims: Widths of the dense layers before the head.
        batch_norm: Batch normalisation after each convolution.
        activation: Keras activation name.
        dropout_rate: Dropout after the flatten and after each dense layer.
    """

    filters: List[int] = field(default_factory=lambda: [32])
    kernel_size: int = 3
    padding: str = "valid"  # valid | same
    pool_size: int = 2
    hidden_dims: List[int] = field(default_factory=lambda: [64])
    batch_norm: bool = False
    activation: str = "relu"
    dropout_rate: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.filters:
            raise ConfigError("filters", "needs at least one convolution")
        for width in list(self.filters) + list(self.hidden_dims):
            at_least("filters/hidden_dims", width, 1)
        at_least("kernel_size", self.kernel_size, 1)
        choice("padding", self.padding, ("valid", "same"))
        at_least("pool_size", self.pool_size, 1)
        in_unit_interval("dropout_rate", self.dropout_rate)


def checks(config, task, inputs) -> None:
    """Refuse blocks that shrink the image to nothing, and XLA's non-deterministic MaxPool."""
    model = config.model
    if inputs.kind == SERIES:  # causal 1-D convolutions keep the window's length
        return
    side = min(inputs.shape[:2])
    for _ in model.filters:  # what each block leaves of the image
        side -= model.kernel_size - 1 if model.padding == "valid" else 0
        side = side // model.pool_size if side >= 1 else 0
    if side < 1:
        raise ConfigError("model.filters", f"{len(model.filters)} convolution/pooling blocks shrink a "
                          f"{inputs.shape[0]}x{inputs.shape[1]} image to nothing; use fewer blocks, "
                          f"model.padding=same or model.pool_size=1")
    if config.trainer.deterministic and config.device.xla and model.pool_size > 1:
        raise ConfigError("device.xla", "XLA has no deterministic MaxPool gradient; with "
                          "trainer.deterministic=true use device.xla=false (or model.pool_size=1)")


def body(x, config: CnnConfig, inputs):
    """Convolutional blocks, flatten, dense layers (``inputs.dense``: the last blocks' maps)."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # bmrun.models.batch_norm loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.batch_norm import FusedBatchNormalization

    if inputs.kind == SERIES:
        x = _causal_blocks(x, config)
    for i, width in enumerate(config.filters if inputs.kind != SERIES else ()):
        x = keras.layers.Conv2D(width, config.kernel_size, padding=config.padding, use_bias=not config.batch_norm,
                                name=f"conv_{i}")(x)
        if config.batch_norm:
            x = FusedBatchNormalization(name=f"bn_{i}")(x)
        x = keras.layers.Activation(config.activation, name=f"act_{i}")(x)
        if config.pool_size > 1:
            x = keras.layers.MaxPooling2D(config.pool_size, name=f"pool_{i}")(x)
    if inputs.dense:  # segmentation: the maps themselves; the task's head upsamples them with the act_ skips
        return x
    x = keras.layers.Flatten(name="flatten")(x)
    if config.dropout_rate:
        x = keras.layers.Dropout(config.dropout_rate, name="dropout_flat")(x)
    for i, width in enumerate(config.hidden_dims):
        x = keras.layers.Dense(width, activation=config.activation, name=f"dense_{i}")(x)
        if config.dropout_rate:
            x = keras.layers.Dropout(config.dropout_rate, name=f"dropout_{i}")(x)
    return x


def _causal_blocks(x, config: CnnConfig):
    """A series: 1-D convolutions over time, causal (a step sees only itself and earlier steps)
    and dilated 1, 2, 4, ... so a few blocks cover a long window."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    for i, width in enumerate(config.filters):
        x = keras.layers.Conv1D(width, config.kernel_size, padding="causal", dilation_rate=2 ** i,
                                name=f"causal_conv_{i}")(x)
        x = keras.layers.Activation(config.activation, name=f"act_{i}")(x)
    return x


FAMILY = Family(name="cnn", config=CnnConfig, accepts=frozenset({IMAGE, SERIES, AUDIO}),
                how="images, audio spectrograms, or series as causal 1-D convolutions over time", body=body,
                checks=checks)
