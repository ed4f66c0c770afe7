"""Datasets: one module per dataset (``bmrun/data/<name>.py``: config, specs, loader), found
through :mod:`bmrun.registry`; NumPy preparation (``arrays``) and tf.data pipelines
(``pipeline``, the only part that imports TensorFlow)."""

from __future__ import annotations

from bmrun import registry
from bmrun.data.arrays import PreparedData, prepare
from bmrun.data.catalog import describe


def load_prepared(data_cfg, seed: int, *, all_labels: bool = False) -> PreparedData:
    """Load the dataset named by ``data_cfg.name`` and split/normalise it for training.

    Args:
        data_cfg: The validated ``data`` config group.
        seed: Run seed; fixes the subset chosen by ``limit`` and the validation split.
        all_labels: Ignore ``data.label_fraction`` (pretraining uses every training image).

    Returns:
        Train/val/test splits plus the normalisation statistics of the training split.
    """
    raw = registry.dataset(data_cfg.name).load(data_cfg, seed)
    task, inputs = describe(data_cfg)  # after the load: a plugin's specs come from its arrays
    return prepare(raw, task, inputs, val_fraction=data_cfg.val_fraction, limit=data_cfg.limit,
                   normalize=data_cfg.normalize, seed=seed, classes=data_cfg.classes,
                   label_fraction=1.0 if all_labels else getattr(data_cfg, "label_fraction", 1.0))
