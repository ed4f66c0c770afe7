"""Convolutional network for images: [Conv2D -> (BatchNorm) -> act -> MaxPool] x N -> Dense head.

The default for images (one block of 32 filters, ``valid`` padding, flatten, Dense(64)) is the
classic small MNIST CNN; ``padding="same"`` keeps the image size through each convolution, so
deeper stacks still fit small images such as the 8x8 digits. Over an audio spectrogram the
``auto`` settings give three ``same`` blocks of 32, 64 and 128 filters and a max over
time instead of the flatten: a word is the same word wherever it is in the clip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.specs import AUDIO, SERIES
from bmrun.data.catalog import IMAGE
from bmrun.errors import ConfigError
from bmrun.models.family import Family, ModelConfig


@dataclass
class CnnConfig(ModelConfig):
    """``model=cnn``.

    Attributes:
        filters: Filters of each convolutional block (one block per entry). Unset (``null``):
            ``[32]`` for images, ``[32, 64, 128]`` over an audio spectrogram.
        kernel_size: Side of the square convolution kernels.
        padding: ``valid`` (each convolution trims kernel_size - 1 pixels), ``same``, or
            ``auto``: ``same`` over an audio spectrogram, else ``valid``.
        pool_size: Max-pooling window and stride after each block (1 = no pooling).
        hidden_dims: Widths of the dense layers before the head.
        batch_norm: Batch normalisation after each convolution.
        activation: Keras activation name.
        dropout_rate: Dropout after the flatten and after each dense layer.
        pooling: How the last block's maps become the head's features: ``flatten`` (every
            position its own weights), ``avg`` or ``max`` (global pooling: where a pattern occurs
            does not matter), ``time_max`` (the max over the first axis, time of a spectrogram,
            keeping the second: when a sound occurs does not matter, its pitch does), or ``auto``:
            ``time_max`` over an audio spectrogram, else ``flatten``.
    """

    filters: Optional[List[int]] = None  # null: [32] for images, [32, 64, 128] for spectrograms
    kernel_size: int = 3
    padding: str = "auto"  # auto | valid | same
    pool_size: int = 2
    hidden_dims: List[int] = field(default_factory=lambda: [64])
    batch_norm: bool = False
    activation: str = "relu"
    dropout_rate: float = 0.0
    pooling: str = "auto"  # auto | flatten | avg | max | time_max

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.filters is not None and not self.filters:
            raise ConfigError("filters", "needs at least one convolution")
        for width in list(self.filters or ()) + list(self.hidden_dims):
            at_least("filters/hidden_dims", width, 1)
        at_least("kernel_size", self.kernel_size, 1)
        choice("padding", self.padding, ("auto", "valid", "same"))
        at_least("pool_size", self.pool_size, 1)
        in_unit_interval("dropout_rate", self.dropout_rate)
        choice("pooling", self.pooling, ("auto", "flatten", "avg", "max", "time_max"))


def resolved(config: CnnConfig, spectrogram: bool) -> tuple[list, str, str]:
    """The ``auto`` settings made concrete: (filters, padding, pooling).

    Args:
        config: The family's settings.
        spectrogram: Whether the model reads the log-mel spectrogram of an audio input.
    """
    # Over a spectrogram, a deeper stack and a max over time: the flatten head memorised the training
    # voices, a global average diluted the word with the clip's silence, and a max over frequency
    # too lost the pitch (BENCHMARKS.md, "Speech").
    filters = list(config.filters) if config.filters is not None else ([32, 64, 128] if spectrogram else [32])
    padding = config.padding if config.padding != "auto" else ("same" if spectrogram else "valid")
    pooling = config.pooling if config.pooling != "auto" else ("time_max" if spectrogram else "flatten")
    return filters, padding, pooling


def checks(config, task, inputs) -> None:
    """Refuse blocks that shrink the image to nothing, and XLA's non-deterministic MaxPool."""
    model = config.model
    if inputs.kind == SERIES:  # causal 1-D convolutions keep the window's length
        return
    filters, padding, _ = resolved(model, inputs.spectrogram)
    side = min(inputs.shape[:2])
    for _ in filters:  # what each block leaves of the image
        side -= model.kernel_size - 1 if padding == "valid" else 0
        side = side // model.pool_size if side >= 1 else 0
    if side < 1:
        raise ConfigError("model.filters", f"{len(filters)} convolution/pooling blocks shrink a "
                          f"{inputs.shape[0]}x{inputs.shape[1]} image to nothing; use fewer blocks, "
                          f"model.padding=same or model.pool_size=1")
    if config.trainer.deterministic and config.device.xla and model.pool_size > 1:
        raise ConfigError("device.xla", "XLA has no deterministic MaxPool gradient; with "
                          "trainer.deterministic=true use device.xla=false (or model.pool_size=1)")


def body(x, config: CnnConfig, inputs):
    """Convolutional blocks, flatten (or pooling), dense layers (``inputs.dense``: the last blocks' maps)."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # bmrun.models.batch_norm loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.batch_norm import FusedBatchNormalization

    filters, padding, pooling = resolved(config, inputs.spectrogram)
    if inputs.kind == SERIES:
        x = _causal_blocks(x, filters, config)
    for i, width in enumerate(filters if inputs.kind != SERIES else ()):
        x = keras.layers.Conv2D(width, config.kernel_size, padding=padding, use_bias=not config.batch_norm,
                                name=f"conv_{i}")(x)
        if config.batch_norm:
            x = FusedBatchNormalization(name=f"bn_{i}")(x)
        x = keras.layers.Activation(config.activation, name=f"act_{i}")(x)
        if config.pool_size > 1:
            x = keras.layers.MaxPooling2D(config.pool_size, name=f"pool_{i}")(x)
    if inputs.dense:  # segmentation: the maps themselves; the task's head upsamples them with the act_ skips
        return x
    if pooling == "time_max" and inputs.kind != SERIES:  # one row of maps left, then flattened
        x = keras.layers.MaxPooling2D((x.shape[1], 1), name="time_max")(x)
    if pooling in ("max", "avg") and inputs.kind != SERIES:  # global: one value per feature map
        pool = keras.layers.GlobalMaxPooling2D if pooling == "max" else keras.layers.GlobalAveragePooling2D
        x = pool(name="global_pool")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    if config.dropout_rate:
        x = keras.layers.Dropout(config.dropout_rate, name="dropout_flat")(x)
    for i, width in enumerate(config.hidden_dims):
        x = keras.layers.Dense(width, activation=config.activation, name=f"dense_{i}")(x)
        if config.dropout_rate:
            x = keras.layers.Dropout(config.dropout_rate, name=f"dropout_{i}")(x)
    return x


def _causal_blocks(x, filters: list, config: CnnConfig):
    """A series: 1-D convolutions over time, causal (a step sees only itself and earlier steps)
    and dilated 1, 2, 4, ... so a few blocks cover a long window."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    for i, width in enumerate(filters):
        x = keras.layers.Conv1D(width, config.kernel_size, padding="causal", dilation_rate=2 ** i,
                                name=f"causal_conv_{i}")(x)
        x = keras.layers.Activation(config.activation, name=f"act_{i}")(x)
    return x


FAMILY = Family(name="cnn", config=CnnConfig, accepts=frozenset({IMAGE, SERIES, AUDIO}),
                how="images, audio spectrograms, or series as causal 1-D convolutions over time", body=body,
                checks=checks)
