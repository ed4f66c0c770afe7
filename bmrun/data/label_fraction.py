"""``data.label_fraction``: keep the labels of a stratified, seeded share of the training split.

The rest of the training split becomes the *unlabeled pool*: a purely supervised run drops it,
``trainer.semi_supervised`` trains on its images (its labels are kept for monitoring only: the
accuracy of the pseudo-labels), and ``pretrain=`` ignores labels and uses every training image.
Validation and test splits are never touched. NumPy only.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from bmrun import streams
from bmrun.data.splits import Split, stratified_pick, take
from bmrun.data.catalog import TaskSpec
from bmrun.errors import ConfigError



def class_quotas(labels: np.ndarray, fraction: float, num_classes: int) -> np.ndarray:
    """Labels kept per class: ``round(fraction * n)`` in all, shared out in proportion to the
    class sizes (largest remainders first, ties to the lower class index)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.int64)
    total = int(round(fraction * len(labels)))
    exact = fraction * counts.astype(np.float64)
    quotas = np.floor(exact).astype(np.int64)
    order = np.lexsort((np.arange(num_classes), -(exact - quotas)))  # largest remainder first
    for index in order[: max(total - int(quotas.sum()), 0)]:
        quotas[index] += 1
    return np.minimum(quotas, counts)


def split_labels(train: Split, fraction: float, seed: int, task: TaskSpec) -> tuple[Split, Optional[Split]]:
    """The labeled part of ``train`` and the unlabeled pool (None when ``fraction`` is 1).

    Args:
        train: The training split (after ``data.limit`` and the validation carve).
        fraction: Share of the training split whose labels are kept, in (0, 1].
        seed: The run's seed: the same seed keeps the same examples.
        task: The dataset's task (classification: the draw is stratified by class).

    Raises:
        ConfigError: A class would keep no label (names the class and the smallest fraction
            that labels every class), or the task has no classes to stratify by.
    """
    if fraction >= 1.0:
        return train, None
    if not task.is_classification:
        raise ConfigError("data.label_fraction", f"keeps a stratified share of the labels of a classification "
                                                 f"task; this dataset is {task.kind}. Use data.limit instead.")
    labels = np.asarray(train.y, np.int64).reshape(-1)
    num_classes = task.num_classes or int(labels.max()) + 1
    quotas = class_quotas(labels, fraction, num_classes)
    counts = np.bincount(labels, minlength=num_classes)
    empty = [c for c in range(num_classes) if counts[c] > 0 and quotas[c] == 0]
    if empty:
        names = task.class_names
        which = ", ".join(f"{c} ({names[c]})" if names else str(c) for c in empty)
        smallest = math.ceil(1e4 / counts[counts > 0].min()) / 1e4
        raise ConfigError("data.label_fraction", f"{fraction} keeps no label of class {which}: "
                          f"{int(counts[empty[0]])} of its {len(labels)} training examples would all be unlabeled. "
                          f"The smallest fraction that labels every class here is {smallest}.")
    keep = stratified_pick(labels, np.random.default_rng([seed, streams.LABEL_FRACTION]), lambda c, _: quotas[c])
    mask = np.zeros(len(labels), bool)
    mask[keep] = True
    labeled, pool = np.flatnonzero(mask), np.flatnonzero(~mask)
    return (Split(take(train.x, labeled), train.y[labeled]), Split(take(train.x, pool), train.y[pool]))
