"""Biased matrix factorization: ``rating = mean + b_user + b_item + p_user . q_item``.

The classic explicit-feedback recommender (Koren, Bell & Volinsky 2009; Surprise's ``SVD``),
trained with the compiled loop on the standardised ratings. ``model.l2`` shrinks the factors
and ``model.bias_l2`` the biases, each row in proportion to how often it appears in a batch.
An id unseen in training has zero factors and bias: its prediction is bias-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from bmrun.models.interactions import ACCEPTS, HOW, IdFactorsConfig, InteractionFamily, check_interactions


@dataclass
class FactorizationConfig(IdFactorsConfig):
    """``model=factorization``: the shared keys (``dim``, ``l2``, ``bias_l2``, ``init_std``), with a
    stronger factor penalty than the shared default (BENCHMARKS.md, "Ratings by the plain command")."""

    l2: float = 0.07


def body(users, items, config: FactorizationConfig, rows):
    """Dot product of the two factor rows plus both biases (standardised rating units)."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # bmrun.models.recommender loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.recommender import IdEmbedding

    user_rows, item_rows = rows
    p = IdEmbedding(user_rows, config.dim, config.l2, config.init_std, name="user_factors")(users)
    q = IdEmbedding(item_rows, config.dim, config.l2, config.init_std, name="item_factors")(items)
    b_user = IdEmbedding(user_rows, 1, config.bias_l2, 0.0, name="user_bias")(users)
    b_item = IdEmbedding(item_rows, 1, config.bias_l2, 0.0, name="item_bias")(items)
    dot = keras.layers.Dot(axes=-1, name="affinity")([p, q])
    return keras.layers.Add(name="score")([dot, b_user, b_item])


FAMILY = InteractionFamily(name="factorization", config=FactorizationConfig, accepts=ACCEPTS, how=HOW, body=body,
                           checks=check_interactions)
