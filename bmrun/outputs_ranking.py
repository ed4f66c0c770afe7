"""The ranking view of a rating model: top-k lists per user, ``recall_at_k`` and ``ndcg_at_k``.

Beside :mod:`bmrun.outputs` because it does the same job -- what a model's outputs mean as
metrics -- for recommenders; kept out of it because it needs more than a batch of outputs: it
scores every candidate item for each test user (host-side, in batches, after the test
evaluation), masks the items the user already rated in training, and compares the top k with
the user's held-out interactions. ``bmrun-predict --user`` ranks items with the same code.

Definitions (per user with at least one held-out interaction, then averaged over those users):
candidates are the items of the training split (items the model has rows for) minus the
user's training and validation items; ``recall_at_k`` = held-out items in the top k / held-out
items; ``ndcg_at_k`` = DCG of the top k (gain 1 per held-out item, discount 1/log2(rank + 1))
over the best DCG reachable with that many held-out items.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Sequence

import numpy as np

PAIRS_PER_CALL = 131072  # (user, item) pairs scored per model call: ~1 MB of ratings, a few MB of ids


class PairScorer:
    """Scores ``(user id, item id)`` string pairs with a recommender, in batches, compiled once."""

    def __init__(self, model):
        import tensorflow as tf  # only with a model in hand: bmrun-predict's parser imports this module

        self._call = tf.function(lambda pairs: model(pairs, training=False),
                                 input_signature=[tf.TensorSpec([None, 2], tf.string)])

    def __call__(self, pairs: np.ndarray) -> np.ndarray:
        out = [np.asarray(self._call(pairs[i:i + PAIRS_PER_CALL])).reshape(-1)
               for i in range(0, len(pairs), PAIRS_PER_CALL)]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def user_item_scores(self, users: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """``[len(users), len(items)]`` predicted ratings."""
        users, items = np.asarray(users, dtype=str), np.asarray(items, dtype=str)
        pairs = np.stack([np.repeat(users, len(items)), np.tile(items, len(users))], axis=1)
        return self(pairs).reshape(len(users), len(items))


def top_k(scores: np.ndarray, k: int, exclude: Iterable[int] = ()) -> np.ndarray:
    """Column indices of the ``k`` best scores of one row, best first, ``exclude`` left out."""
    scores = np.array(scores, dtype=np.float64)
    scores[list(exclude)] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    best = np.argpartition(-scores, k - 1)[:k] if k > 0 else np.zeros(0, np.int64)
    return best[np.argsort(-scores[best], kind="stable")]


def recall_ndcg(ranked: Sequence[int], relevant: set, k: int) -> tuple[float, float]:
    """recall@k and NDCG@k of one user's ranked list against their relevant items."""
    hits = [1.0 if item in relevant else 0.0 for item in list(ranked)[:k]]
    dcg = sum(hit / np.log2(rank + 2) for rank, hit in enumerate(hits))
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return sum(hits) / len(relevant), dcg / ideal


def seen_items(pairs: np.ndarray) -> dict[str, set]:
    """``{user id: {item ids}}`` of interaction pairs."""
    seen: dict[str, set] = defaultdict(set)
    for user, item in pairs:
        seen[str(user)].add(str(item))
    return seen


def ranking_metrics(model, data: Any, k: int = 10, users_per_call: int = 64) -> dict[str, float]:
    """``recall_at_<k>``, ``ndcg_at_<k>`` (and ``ranking_users``) of ``model`` on ``data.test``.

    Args:
        model: A recommender taking ``[batch, 2]`` string id pairs.
        data: :class:`~bmrun.data.arrays.PreparedData` of ``data=ratings``.
        k: List length.
        users_per_call: Test users scored together (their pairs are built on the host).
    """
    items = np.unique(data.train.x[:, 1]).astype(str)
    column = {item: i for i, item in enumerate(items)}
    seen = seen_items(np.concatenate([data.train.x, data.val.x]))
    relevant = seen_items(data.test.x)
    users = sorted(relevant)
    scorer = PairScorer(model)
    recalls, ndcgs = [], []
    for start in range(0, len(users), users_per_call):
        chunk = users[start:start + users_per_call]
        scores = scorer.user_item_scores(chunk, items)
        for user, row in zip(chunk, scores):
            excluded = [column[item] for item in seen.get(user, ()) if item in column]
            ranked = items[top_k(row, k, excluded)]
            recall, ndcg = recall_ndcg(ranked, relevant[user], k)
            recalls.append(recall)
            ndcgs.append(ndcg)
    if not recalls:
        return {}
    return {f"recall_at_{k}": float(np.mean(recalls)), f"ndcg_at_{k}": float(np.mean(ndcgs)),
            "ranking_users": float(len(recalls))}
