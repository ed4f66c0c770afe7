"""Biased matrix factorization: ``rating = mean + b_user + b_item + p_user . q_item``.

The classic explicit-feedback recommender (Koren, Bell & Volinsky 2009; Surprise's ``SVD``),
trained with the compiled loop on the standardised ratings. ``model.l2`` shrinks the factors
and ``model.bias_l2`` the biases, each row in proportion to how often it appears in a batch.
An id unseen in training has zero factors and bias: its prediction is bias-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from bmrun.config.rules import at_least
from bmrun.errors import ConfigError
from bmrun.models.family import ModelConfig
from bmrun.models.interactions import ACCEPTS, HOW, InteractionFamily, check_interactions


@dataclass
class FactorizationConfig(ModelConfig):
    """``model=factorization``.

    Attributes:
        dim: Latent factors per user and item.
        l2: L2 penalty on the factors (per row, averaged over the batch).
        bias_l2: L2 penalty on the user and item biases.
        init_std: Std of the factors' normal initialisation.
    """

    dim: int = 32
    l2: float = 0.05
    bias_l2: float = 0.001
    init_std: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("dim", self.dim, 1)
        for key in ("l2", "bias_l2", "init_std"):
            if getattr(self, key) < 0:
                raise ConfigError(key, f"must be >= 0, got {getattr(self, key)}")


def body(users, items, config: FactorizationConfig, rows):
    """Dot product of the two factor rows plus both biases (standardised rating units)."""
    import keras

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
