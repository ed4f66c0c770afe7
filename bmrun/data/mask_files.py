"""One mask file read as class indices, and the 16-bit images segmentation refuses (Pillow, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from bmrun.errors import DataError

_RGB_HINT = ("convert it to one channel of class indices (0 = background, 1, 2, ...), e.g. with Pillow: "
             "Image.fromarray(indices.astype('uint8')).save(path), where indices maps each colour to its class; "
             "a palette ('P' mode) PNG is read as its indices")


def read_mask(path: Path) -> Optional[np.ndarray]:
    """The ``[height, width]`` uint8 class indices of one mask; None when it is not a readable image.

    Raises:
        DataError: A colour mask (not one grey channel), or values past 255.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow reads palette indices as they are

    try:
        with Image.open(path) as image:
            mode = image.mode
            values = np.asarray(image)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    if mode in ("RGB", "RGBA", "LA") and values.ndim == 3:
        colour = values[..., :3] if mode != "LA" else values[..., :1]
        if mode == "LA" or (np.array_equal(colour[..., 0], colour[..., 1])
                            and np.array_equal(colour[..., 0], colour[..., 2])):
            return colour[..., 0].astype(np.uint8)
        raise DataError(f"{path} is an RGB mask (colours, not class indices); {_RGB_HINT}.")
    if values.dtype != np.uint8 and values.size and (values.min() < 0 or values.max() > 255):
        raise DataError(f"{path} has mask values up to {int(values.max())}; masks hold class indices 0..255 "
                        f"(8-bit PNG).")
    return values.astype(np.uint8)


def refuse_16_bit(image: Path) -> None:
    """Refuse a 16-bit PNG (read from its header), saying how to convert it.

    Raises:
        DataError: ``image`` is a PNG of 16 bits a channel.
    """
    if image.suffix.lower() != ".png":
        return
    with open(image, "rb") as handle:
        head = handle.read(26)
    if len(head) >= 25 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16:
        raise DataError(f"{image} is a 16-bit PNG; bmrun reads 8-bit images. Convert it, e.g. with Pillow: "
                        f"Image.fromarray((np.asarray(Image.open(p)) // 256).astype('uint8')).save(p) (or rescale "
                        f"its own range to 0..255 first if it uses only part of 16 bits).")
