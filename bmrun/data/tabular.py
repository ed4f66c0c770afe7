"""scikit-learn's bundled tabular datasets: ``diabetes`` (regression) and ``breast_cancer`` (binary).

Both ship inside scikit-learn, so they load offline, and both are handled alike, so they share
this module: :data:`DIABETES` and :data:`BREAST_CANCER` are their registry entries. Neither has
an official test split, so a fixed 20% is held out (the same rows for every run). Features are
returned unscaled: ``prepare()`` fits the standardisation on the training split, and the model
applies it itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmrun.data.arrays import RawData, fixed_test_split
from bmrun.data.catalog import BINARY, REGRESSION, TABULAR, InputSpec, TaskSpec
from bmrun.data.dataset import Dataset, DataConfig


@dataclass
class DiabetesConfig(DataConfig):
    """``data=diabetes`` (442 rows: small batches)."""

    batch_size: int = 32


@dataclass
class BreastCancerConfig(DataConfig):
    """``data=breast_cancer`` (569 rows: small batches)."""

    batch_size: int = 32


def load_diabetes(cfg, seed: int) -> RawData:
    """442 patients x 10 baseline features -> disease progression one year later (25..346).

    Args:
        cfg: The ``data`` config.
        seed: Unused; the test split is fixed and ``prepare()`` does the shuffling.
    """
    # scikit-learn: only when this dataset loads, never at config composition
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    # scaled=False: the raw units (age in years, BMI, ...). sklearn's default copy is already
    # centred and scaled over all 442 rows, test rows included, which would leak the test split
    # into the statistics that prepare() fits on the training rows only.
    bunch = sklearn_diabetes(scaled=False)
    return fixed_test_split(bunch.data.astype(np.float32), bunch.target.astype(np.float32))


def load_breast_cancer(cfg, seed: int) -> RawData:
    """569 tumours x 30 cell-nucleus features -> 0 malignant, 1 benign (sklearn's coding)."""
    # scikit-learn: only when this dataset loads, never at config composition
    from sklearn.datasets import load_breast_cancer as sklearn_breast_cancer

    bunch = sklearn_breast_cancer()
    return fixed_test_split(bunch.data.astype(np.float32), bunch.target.astype(np.int64))


DIABETES = Dataset(name="diabetes", config=DiabetesConfig, task=TaskSpec(REGRESSION),
                   inputs=InputSpec(TABULAR, (10,)), summary="scikit-learn diabetes progression",
                   loader=load_diabetes)
BREAST_CANCER = Dataset(name="breast_cancer", config=BreastCancerConfig,
                        task=TaskSpec(BINARY, 2, ("malignant", "benign")), inputs=InputSpec(TABULAR, (30,)),
                        summary="scikit-learn breast cancer", loader=load_breast_cancer)
