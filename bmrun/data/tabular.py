"""scikit-learn's bundled tabular datasets: ``diabetes`` (regression) and ``breast_cancer`` (binary).

Both ship inside scikit-learn, so they load offline. Neither has an official test split, so a
fixed 20% is held out (the same rows for every run). Features are returned unscaled: ``prepare()``
fits the standardisation on the training split, and the model applies it itself.
"""

from __future__ import annotations

import numpy as np

from bmrun.data.arrays import RawData, fixed_test_split
from bmrun.errors import DataError


def load(cfg, seed: int) -> RawData:
    """Load the dataset named by ``cfg.name`` with its fixed 20% test split.

    Args:
        cfg: The ``data`` config; ``cfg.name`` is ``diabetes`` or ``breast_cancer``.
        seed: Unused; the test split is fixed and ``prepare()`` does the shuffling.

    Returns:
        float32 features; float32 targets (diabetes) or int64 labels 0/1 (breast_cancer).
    """
    if cfg.name not in LOADERS:
        raise DataError(f"bmrun.data.tabular has no dataset {cfg.name!r}; it loads: {', '.join(LOADERS)}.")
    x, y = LOADERS[cfg.name]()
    return fixed_test_split(x, y)


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """442 patients x 10 baseline features -> disease progression one year later (25..346)."""
    from sklearn.datasets import load_diabetes

    # scaled=False: the raw units (age in years, BMI, ...). sklearn's default copy is already
    # centred and scaled over all 442 rows, test rows included, which would leak the test split
    # into the statistics that prepare() fits on the training rows only.
    bunch = load_diabetes(scaled=False)
    return bunch.data.astype(np.float32), bunch.target.astype(np.float32)


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """569 tumours x 30 cell-nucleus features -> 0 malignant, 1 benign (sklearn's coding)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64)


LOADERS = {"diabetes": diabetes, "breast_cancer": breast_cancer}
