"""scikit-learn's bundled 8x8 digits: the offline default dataset (no file, no download)."""

from __future__ import annotations

import numpy as np

from bmrun.data.arrays import RawData, fixed_test_split


def load(cfg, seed: int) -> RawData:
    """Load the 1,797 digits as uint8 images (0..255) with a fixed 20% test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # sklearn stores intensities 0..16; scale to 0..255 so every image dataset looks alike.
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return fixed_test_split(images, bunch.target.astype(np.int64))
