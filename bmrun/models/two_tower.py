"""Two-tower recommender: a user tower and an item tower, scored by the dot product of their outputs.

Each tower embeds its id and, with ``model.hidden_dims``, passes the embedding through dense
layers and a final linear projection to ``model.dim`` (the retrieval-model shape: item vectors
can be precomputed and searched). ``model.biases`` adds a user and an item bias to the score.
An id unseen in training gets a zero tower output (and bias): its prediction is bias-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from bmrun.rules import at_least, in_unit_interval
from bmrun.models.interactions import ACCEPTS, HOW, IdFactorsConfig, InteractionFamily, check_interactions


@dataclass
class TwoTowerConfig(IdFactorsConfig):
    """``model=two_tower``: the shared keys (``dim``: the width of the embeddings and of each tower's
    output; ``l2``, ``bias_l2``, ``init_std``) and the towers'.

    Attributes:
        hidden_dims: Dense layers of each tower (empty: the towers are the embeddings).
        activation: Keras activation of the dense layers.
        dropout_rate: Dropout after each dense layer.
        biases: Add user and item biases to the dot product.
    """

    hidden_dims: List[int] = field(default_factory=lambda: [64])
    activation: str = "relu"
    dropout_rate: float = 0.0
    biases: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for width in self.hidden_dims:
            at_least("hidden_dims", width, 1)
        in_unit_interval("dropout_rate", self.dropout_rate)


def _tower(ids, rows: int, config: TwoTowerConfig, side: str):
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # bmrun.models.recommender loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.recommender import IdEmbedding, KnownOnly

    x = IdEmbedding(rows, config.dim, config.l2, config.init_std, name=f"{side}_embedding")(ids)
    for i, width in enumerate(config.hidden_dims):
        x = keras.layers.Dense(width, activation=config.activation, name=f"{side}_dense_{i}")(x)
        if config.dropout_rate:
            x = keras.layers.Dropout(config.dropout_rate, name=f"{side}_dropout_{i}")(x)
    if config.hidden_dims:
        x = keras.layers.Dense(config.dim, name=f"{side}_projection")(x)
        x = KnownOnly(name=f"{side}_known")(x, ids)  # dense biases would give unseen ids a vector
    return x


def body(users, items, config: TwoTowerConfig, rows):
    """Dot product of the two towers' outputs (plus biases), in standardised rating units."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    # bmrun.models.recommender loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.recommender import IdEmbedding

    user_rows, item_rows = rows
    score = keras.layers.Dot(axes=-1, name="affinity")([_tower(users, user_rows, config, "user"),
                                                         _tower(items, item_rows, config, "item")])
    if not config.biases:
        return score
    b_user = IdEmbedding(user_rows, 1, config.bias_l2, 0.0, name="user_bias")(users)
    b_item = IdEmbedding(item_rows, 1, config.bias_l2, 0.0, name="item_bias")(items)
    return keras.layers.Add(name="score")([score, b_user, b_item])


FAMILY = InteractionFamily(name="two_tower", config=TwoTowerConfig, accepts=ACCEPTS, how=HOW, body=body,
                           checks=check_interactions)
