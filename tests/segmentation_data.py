"""Small folders of scans and masks for the segmentation tests (Pillow, no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_png(path: Path, values: np.ndarray, mode: str = None) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values, mode=mode).save(path)


def make_scans(root: Path, count: int = 24, size=(20, 20), classes: int = 2, seed: int = 0) -> Path:
    """``root/scans/images/sNNN.png`` and ``root/masks/sNNN.png``: bright discs (class 1..) on a dark
    noisy background; two-class masks are written binary (0/255), more as indices."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size[0], :size[1]]
    for i in range(count):
        mask = np.zeros(size, np.uint8)
        for _ in range(3):
            cy, cx = rng.integers(0, size[0]), rng.integers(0, size[1])
            radius = rng.integers(2, max(size) // 4 + 2)
            mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius] = rng.integers(1, classes)
        image = np.clip(50 + 70 * mask + rng.normal(0, 10, size), 0, 255).astype(np.uint8)
        save_png(root / "scans" / "images" / f"s{i:03d}.png", image)
        save_png(root / "masks" / f"s{i:03d}.png", mask * 255 if classes == 2 else mask)
    return root
