"""A table where neither modality alone is enough: an image, a price, a season, a text.

Used by ``benchmarks/multimodal.py`` and the tests. Each row's image is a small grayscale PNG of
a shape (or a Fashion-MNIST picture when given); the target depends on the image's class *and*
on the price/season columns, so the fused model must read both.
"""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

SEASONS = ("spring", "summer", "autumn", "winter")


def png_bytes(image: np.ndarray) -> bytes:
    """A grayscale uint8 image as PNG (no imaging library needed)."""
    height, width = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def shape_image(kind: int, rng: np.random.Generator, side: int = 16) -> np.ndarray:
    """A bright square (0) or a bright horizontal bar (1) at a random place, on noise."""
    image = rng.integers(0, 60, (side, side)).astype(np.uint8)
    top, left = rng.integers(0, side // 2, 2)
    if kind == 0:
        image[top:top + side // 3, left:left + side // 3] = 230
    else:
        image[top:top + 2, 1:side - 1] = 230
    return image


def write_table(folder: Path, rows: int, *, seed: int = 0, images: Optional[np.ndarray] = None,
                image_classes: Optional[np.ndarray] = None, missing_every: int = 0, text: bool = True,
                side: int = 16) -> Path:
    """``folder/table.csv`` and ``folder/img/*.png``; returns the CSV's path.

    The target is ``(image class is "high") XOR (price > 50)``, flipped in winter: neither the
    image nor the table alone predicts it better than chance, together they do exactly.
    """
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    path = folder / "table.csv"
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["photo", "price", "season", "title", "label"])
        for i in range(rows):
            if images is not None:
                image, high = images[i], int(image_classes[i]) >= 5
            else:
                high = bool(rng.integers(0, 2))
                image = shape_image(int(high), rng, side)
            name = f"img/{i}.png"
            if not (missing_every and i % missing_every == 0):
                (folder / name).write_bytes(png_bytes(image))
            price = float(rng.uniform(0, 100))
            season = SEASONS[int(rng.integers(0, 4))]
            label = (high != (price > 50)) != (season == "winter")
            title = rng.choice(["plain", "basic", "classic", "new"]) + " item"
            out.writerow([name, f"{price:.2f}", season, title, "yes" if label else "no"] if text else
                         [name, f"{price:.2f}", season, "", "yes" if label else "no"])
    return path
