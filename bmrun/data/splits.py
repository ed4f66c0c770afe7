"""A split of examples, and the one stratified splitter: a seeded share of every class (of all rows for regression).

The test split of a CSV table and of an image folder, and the labeled share of
``data.label_fraction``, are all :func:`stratified_pick`: the same draw, so the three agree on
what "stratified" means (each class in class order, its members permuted, the first ``count``
kept) and each stays a pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


def stratified_pick(labels: Optional[np.ndarray], rng: np.random.Generator, count: Callable[[int, int], int],
                    size: Optional[int] = None) -> np.ndarray:
    """Sorted indices of the examples picked from each class.

    Args:
        labels: Each example's class id, or None to treat all ``size`` examples as one group.
        rng: The seeded generator that orders each class's members.
        count: ``count(class id, members)`` -> how many of that class to pick.
        size: Number of examples when ``labels`` is None.
    """
    if labels is None:
        groups = {0: np.arange(int(size))}
    else:
        labels = np.asarray(labels).reshape(-1)
        groups = {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}
    picked = [rng.permutation(members)[:count(c, len(members))] for c, members in groups.items()]
    return np.sort(np.concatenate(picked)).astype(np.int64) if picked else np.zeros(0, np.int64)


def share(fraction: float) -> Callable[[int, int], int]:
    """``count`` for :func:`stratified_pick`: ``fraction`` of every class, rounded."""
    return lambda _, members: int(round(members * fraction))


@dataclass
class Split:
    x: np.ndarray  # or, for table inputs, a dict of column arrays
    y: np.ndarray
    groups: Optional[dict] = None  # data.sensitive: {column: group of each example}
    texts: Optional[dict] = None  # text pairs: the raw sources and references (bmrun.data.tokens)

    def __len__(self) -> int:
        return len(self.y)


def take(x, index):
    """Rows ``index`` of an array, or of every column of a table (a dict of arrays)."""
    if isinstance(x, dict):
        return {name: values[index] for name, values in x.items()}
    return x[index]
