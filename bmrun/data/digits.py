"""scikit-learn's bundled 8x8 digits: the offline default dataset (no file, no download)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmrun.data.arrays import RawData, fixed_test_split
from bmrun.data.catalog import IMAGE, MULTICLASS, InputSpec, TaskSpec
from bmrun.data.dataset import Dataset, DataConfig

CLASS_NAMES = tuple(str(i) for i in range(10))


@dataclass
class DigitsConfig(DataConfig):
    """``data=digits`` (1,797 examples: small batches give enough steps per epoch)."""

    batch_size: int = 64


def load(cfg, seed: int) -> RawData:
    """Load the 1,797 digits as uint8 images (0..255) with a fixed 20% test split."""
    # scikit-learn: only when this dataset loads, never at config composition
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # sklearn stores intensities 0..16; scale to 0..255 so every image dataset looks alike.
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return fixed_test_split(images, bunch.target.astype(np.int64))


DATASET = Dataset(name="digits", config=DigitsConfig, task=TaskSpec(MULTICLASS, 10, CLASS_NAMES),
                  inputs=InputSpec(IMAGE, (8, 8, 1)), summary="scikit-learn 8x8 digits", loader=load)
