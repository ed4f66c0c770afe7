"""Write Fashion-MNIST as an image folder: ``<out>/train/<class>/*.png``, ``<out>/test/<class>/*.png``.

The example behind ``bmrun experiment=fashion_folder_cnn``: the same 70,000 images as
``data=fashion_mnist``, read back through ``data=image_folder``. Needs Debian's
dataset-fashion-mnist (``/usr/share/datasets/fashion-mnist``) or ``--idx <folder with the four
IDX .gz files>``; no TensorFlow, no network (PNG files are written with zlib).

    python examples/make_image_folder.py data/fashion_folder
    python examples/make_image_folder.py data/fashion_rgb --scale 4 --rgb --limit 60000   # a big one

``--scale`` repeats each pixel (nearest-neighbour upscaling) and ``--rgb`` writes three channels:
the benchmark's way to make a folder whose float32 decode is several GiB.
"""

from __future__ import annotations

import argparse
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

CLASS_NAMES = ("t-shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
               "ankle_boot")
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def png_bytes(image: np.ndarray) -> bytes:
    """A PNG of a uint8 image (H x W gray or H x W x 3 RGB), no compression filters."""
    height, width = image.shape[:2]
    color_type = 2 if image.ndim == 3 else 0

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write (train/ and test/ inside)")
    parser.add_argument("--idx", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--scale", type=int, default=1, help="upscale each image by this factor")
    parser.add_argument("--rgb", action="store_true", help="write 3-channel PNGs")
    parser.add_argument("--limit", type=int, default=0, help="at most this many training images (0 = all)")
    args = parser.parse_args()
    for split, (images_file, labels_file) in FILES.items():
        images, labels = read_idx(args.idx / images_file), read_idx(args.idx / labels_file)
        if args.limit and split == "train":
            images, labels = images[:args.limit], labels[:args.limit]
        for name in CLASS_NAMES:
            (args.out / split / name).mkdir(parents=True, exist_ok=True)
        for i, (image, label) in enumerate(zip(images, labels)):
            if args.scale > 1:
                image = image.repeat(args.scale, 0).repeat(args.scale, 1)
            if args.rgb:
                image = np.stack([image, image, image], axis=-1)
            (args.out / split / CLASS_NAMES[label] / f"{i:05d}.png").write_bytes(png_bytes(image))
        print(f"{split}: {len(images)} images -> {args.out / split}")


if __name__ == "__main__":
    main()
