"""U-Net for segmentation: an encoder-decoder CNN with skip connections, one feature vector per pixel.

Each of ``depth`` encoder levels is two 3x3 convolutions then a 2x2 max-pool, doubling the
filters; the decoder mirrors it with 2x2 transposed convolutions, concatenating the encoder's
features of the same scale (the skip connections keep the fine detail the pooling dropped). The
task's head (:class:`bmrun.tasks.segmentation.Segmentation`) is a 1x1 convolution to the class
logits. An image whose sides are not multiples of the stride ``2 ** depth`` is zero-padded at the
bottom and right (after normalisation, so the padding is the mean pixel) and the features are
cropped back: any image size works and the mask has the image's size.
"""

from __future__ import annotations

from dataclasses import dataclass

from bmrun.data.catalog import IMAGE
from bmrun.errors import ConfigError
from bmrun.models.family import Family, ModelConfig
from bmrun.rules import at_least
from bmrun.specs import SEGMENTATION


@dataclass
class UnetConfig(ModelConfig):
    """``model=unet``.

    Attributes:
        filters: Filters of the first level (doubled at each level down).
        depth: Encoder levels (poolings); the network's stride is ``2 ** depth``.
        batch_norm: Batch normalisation after each convolution.
        activation: Keras activation name.
    """

    filters: int = 16
    depth: int = 3
    batch_norm: bool = True
    activation: str = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("filters", self.filters, 1)
        at_least("depth", self.depth, 1)


def checks(config, task, inputs) -> None:
    """A mask per pixel needs masks; the levels must leave at least one pixel."""
    if task.kind != SEGMENTATION:
        raise ConfigError("model", f"model=unet predicts a class for every pixel; data={config.data.name} is a "
                                   f"{task.kind} task. Give masks (data=image_folder data.masks=<folder>) or pick "
                                   f"model=cnn for one label per image.")
    side = min(inputs.shape[:2])
    if side < 2 ** config.model.depth:
        raise ConfigError("model.depth", f"{config.model.depth} levels halve a {inputs.shape[0]}x{inputs.shape[1]} "
                                         f"image {config.model.depth} times, past one pixel; use model.depth="
                                         f"{max(side.bit_length() - 1, 1)} or less.")


def padding(size: int, stride: int) -> int:
    """Pixels added so ``size`` becomes a multiple of ``stride``."""
    return -size % stride


def body(x, config: UnetConfig, inputs):
    """Pad, encode, decode with skips, crop back: ``[height, width, filters]`` features."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # bmrun.models.batch_norm loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.batch_norm import FusedBatchNormalization

    def block(x, width, name):
        for j in range(2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=not config.batch_norm,
                                    name=f"{name}_conv_{j}")(x)
            if config.batch_norm:
                x = FusedBatchNormalization(name=f"{name}_bn_{j}")(x)
            x = keras.layers.Activation(config.activation, name=f"{name}_act_{j}")(x)
        return x

    stride = 2 ** config.depth
    pad_h, pad_w = padding(inputs.shape[0], stride), padding(inputs.shape[1], stride)
    if pad_h or pad_w:
        x = keras.layers.ZeroPadding2D(((0, pad_h), (0, pad_w)), name="pad")(x)
    skips = []
    for level in range(config.depth):
        x = block(x, config.filters * 2 ** level, f"down_{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{level}")(x)
    x = block(x, config.filters * 2 ** config.depth, "bottom")
    for level in reversed(range(config.depth)):
        width = config.filters * 2 ** level
        x = keras.layers.Conv2DTranspose(width, 2, strides=2, name=f"up_{level}")(x)
        x = keras.layers.Concatenate(name=f"skip_{level}")([x, skips[level]])
        x = block(x, width, f"dec_{level}")
    if pad_h or pad_w:
        x = keras.layers.Cropping2D(((0, pad_h), (0, pad_w)), name="crop")(x)
    return x


FAMILY = Family(name="unet", config=UnetConfig, accepts=frozenset({IMAGE}), how="images with masks", body=body,
                checks=checks)
