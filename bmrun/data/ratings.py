"""``data=ratings``: user-item ratings for recommenders (``model=factorization``, ``model=two_tower``).

Each example is a (user id, item id) pair -- the ids as strings, whatever they looked like in the
file -- and its label is the rating (a regression target). The model maps ids to embedding rows
itself (a lookup built from the training split and saved inside it), so a saved model takes the
original ids and an id it never saw lands on its bias-only path instead of an index error.

Where the ratings come from:

* ``data.path``: a file read by :mod:`bmrun.data.ratings_file` (CSV with a header naming
  ``data.user`` / ``data.item`` / ``data.rating`` [/ ``data.timestamp``] columns, or MovieLens'
  ``u.data`` / ``ratings.dat``);
* no path: ratings generated from the seed-free known model
  ``r = 3.5 + b_u + b_i + p_u . q_i + noise`` (``data.synthetic_*``), whose best achievable test
  RMSE is the noise std: a recipe that works gets close to ``data.synthetic_noise``.

Splits: ``data.split=random`` holds out ``data.test_fraction`` of the interactions (seeded by
``seed``); ``data.split=time`` holds out each user's latest ``data.test_fraction`` of theirs
(users with one interaction keep it for training). ``prepare()`` then carves the validation split
from the training one (``data.val_fraction``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.data.arrays import RawData
from bmrun.data.catalog import INTERACTIONS, REGRESSION, InputSpec, TaskSpec
from bmrun.data.dataset import DataConfig, Dataset
from bmrun.data.ratings_file import Interactions, read_interactions
from bmrun.errors import ConfigError, DataError

# The generated data is the same for every seed: runs that differ only in `seed` then differ
# in their split and initialisation, not in the problem itself.
GENERATOR_SEED = 20240917


@dataclass
class RatingsConfig(DataConfig):
    """``data=ratings``.

    Attributes:
        user, item, rating: Column names in ``data.path`` (headerless MovieLens files ignore them).
        timestamp: Column of event times (numbers), needed by ``split=time`` for CSV files.
        split: ``random`` (seeded) or ``time`` (each user's latest interactions are the test set).
        test_fraction: Share of the interactions (per user, for ``time``) held out for testing.
        synthetic_users, synthetic_items, synthetic_ratings, synthetic_rank, synthetic_noise:
            Size, latent rank and noise std of the generated ratings (no ``data.path``).
        ranking_k: Cut-off of the ranking metrics (``recall_at_<k>``, ``ndcg_at_<k>``).
    """

    user: str = "user_id"
    item: str = "item_id"
    rating: str = "rating"
    timestamp: Optional[str] = None
    split: str = "random"  # random | time
    test_fraction: float = 0.2
    batch_size: int = 64  # small batches: ~4x the updates per epoch, which sparse embedding rows need
    eval_batch_size: int = 8192
    normalize: bool = False  # ids are not features: nothing to standardise
    synthetic_users: int = 400
    synthetic_items: int = 250
    synthetic_ratings: int = 60000
    synthetic_rank: int = 4
    synthetic_noise: float = 0.5
    ranking_k: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        choice("split", self.split, ("random", "time"))
        in_unit_interval("test_fraction", self.test_fraction)
        if self.test_fraction == 0:
            raise ConfigError("test_fraction", "must be > 0: the test split would be empty")
        for key in ("synthetic_users", "synthetic_items", "synthetic_ratings", "synthetic_rank", "ranking_k"):
            at_least(key, getattr(self, key), 1)
        if self.synthetic_noise < 0:
            raise ConfigError("synthetic_noise", f"must be >= 0, got {self.synthetic_noise}")
        if self.synthetic_ratings > self.synthetic_users * self.synthetic_items:
            raise ConfigError("synthetic_ratings", f"{self.synthetic_ratings} ratings do not fit "
                              f"{self.synthetic_users} users x {self.synthetic_items} items")
        if self.normalize:
            raise ConfigError("normalize", "ids are not features; data=ratings has nothing to normalise")


def generate(cfg: RatingsConfig) -> Interactions:
    """Ratings from a known low-rank model plus Gaussian noise (std ``synthetic_noise``).

    Factor scales give a dot product of std 0.8, user biases 0.3 and item biases 0.4 (in
    rating units, around a mean of 3.5): a MovieLens-like spread where biases alone leave
    about twice the noise floor's error.
    """
    rng = np.random.default_rng(GENERATOR_SEED)
    n_users, n_items, rank = cfg.synthetic_users, cfg.synthetic_items, cfg.synthetic_rank
    scale = (0.64 / rank) ** 0.25  # each factor's std, so that std(p . q) = 0.8
    users_f = rng.normal(0.0, scale, (n_users, rank))
    items_f = rng.normal(0.0, scale, (n_items, rank))
    user_bias, item_bias = rng.normal(0.0, 0.3, n_users), rng.normal(0.0, 0.4, n_items)
    cells = rng.choice(n_users * n_items, size=cfg.synthetic_ratings, replace=False)
    u, i = cells // n_items, cells % n_items
    ratings = 3.5 + user_bias[u] + item_bias[i] + np.einsum("nk,nk->n", users_f[u], items_f[i])
    ratings += rng.normal(0.0, cfg.synthetic_noise, len(cells))
    stamps = rng.uniform(0.0, 1e6, len(cells))
    return Interactions(np.char.add("u", u.astype(str)), np.char.add("i", i.astype(str)),
                        ratings.astype(np.float32), stamps)


def split_test(events: Interactions, cfg: RatingsConfig, seed: int) -> np.ndarray:
    """A boolean mask of the test interactions (see the module docstring)."""
    n = len(events)
    test = np.zeros(n, bool)
    if cfg.split == "random":
        order = np.random.default_rng(seed).permutation(n)
        test[order[:int(round(n * cfg.test_fraction))]] = True
        return test
    if events.timestamps is None:
        raise ConfigError("data.timestamp", "data.split=time needs event times: name the column with "
                          "data.timestamp=<column> (headerless MovieLens files have one)")
    # Per user, latest last; ties keep file order (a stable sort).
    order = np.lexsort((events.timestamps, events.users))
    users_sorted = events.users[order]
    starts = np.flatnonzero(np.r_[True, users_sorted[1:] != users_sorted[:-1]])
    ends = np.r_[starts[1:], n]
    for start, end in zip(starts, ends):
        count = end - start
        n_test = min(int(round(count * cfg.test_fraction)), count - 1)
        if n_test > 0:
            test[order[end - n_test:end]] = True
    return test


def load(cfg: RatingsConfig, seed: int) -> RawData:
    """The ratings of ``data.path`` (or generated), split into train and test."""
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not path.is_file():
            raise DataError(f"data.path={cfg.path}: no such file (data=ratings reads a CSV of interactions, "
                            f"or MovieLens' u.data).")
        events = read_interactions(path, user=cfg.user, item=cfg.item, rating=cfg.rating,
                                   timestamp=cfg.timestamp if cfg.timestamp else
                                   ("timestamp" if cfg.split == "time" and _has_column(path, "timestamp") else None))
        source = str(path)
    else:
        events = generate(cfg)
        source = (f"generated: {cfg.synthetic_users} users x {cfg.synthetic_items} items, rank "
                  f"{cfg.synthetic_rank}, noise std {cfg.synthetic_noise} (the best achievable test RMSE)")
    test = split_test(events, cfg, seed)
    if test.all() or not test.any():
        raise DataError(f"{source}: {len(events)} interactions are too few to split into train and test.")
    pairs = np.stack([events.users, events.items], axis=1)
    ratings = events.ratings
    notes = f"ratings {ratings.min():g}..{ratings.max():g}, {len(np.unique(events.users))} users, " \
            f"{len(np.unique(events.items))} items; {source}"
    return RawData(pairs[~test], ratings[~test], pairs[test], ratings[test], notes=notes)


def _has_column(path: Path, name: str) -> bool:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return name in handle.readline()


DATASET = Dataset(name="ratings", config=RatingsConfig, task=TaskSpec(REGRESSION),
                  inputs=InputSpec(INTERACTIONS, (2,)), summary="user-item ratings (CSV, MovieLens, or generated)",
                  loader=load)
