"""The family form of recommenders: models that read (user id, item id) pairs (no TensorFlow).

``model=factorization`` and ``model=two_tower`` score interactions rather than read features, so
they do not go through :class:`~bmrun.models.base.BasicModel` (input normalisation, a dense
head): :class:`InteractionFamily` builds a :class:`~bmrun.models.recommender.RecommenderModel`,
which maps ids to embedding rows with lookups built from the training split, calls the family's
``body(users, items, config, rows)`` on the row indices, and rescales the result to ratings.

Row 0 of every table is the *unseen* id (users or items absent from the training split): its
embeddings and biases are held at zero, so such an id gets the bias-only prediction -- global
mean plus the other side's bias -- instead of an index error (cold start).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bmrun.data.catalog import INTERACTIONS
from bmrun.errors import ConfigError
from bmrun.rules import at_least
from bmrun.models.family import Family, ModelConfig, arguments

ACCEPTS = frozenset({INTERACTIONS})
HOW = "(user id, item id) pairs: data=ratings"


@dataclass
class IdFactorsConfig(ModelConfig):
    """Keys both recommender families share: the id embeddings and their penalties.

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
            at_least(key, getattr(self, key), 0.0)


def vocabularies(pairs: np.ndarray) -> tuple[list[str], list[str]]:
    """Sorted distinct user ids and item ids of the training pairs (row i+1 of each table)."""
    return [str(u) for u in np.unique(pairs[:, 0])], [str(i) for i in np.unique(pairs[:, 1])]


def check_interactions(config: Any, task: Any, inputs: Any) -> None:
    """What the generic pipeline offers but a recommender cannot use, refused before loading."""
    if config.model.init_from or config.model.freeze != "none":
        key = "model.init_from" if config.model.init_from else "model.freeze"
        raise ConfigError(key, f"model={config.model.name} has no backbone to transfer; leave {key} unset")
    if config.device.xla:
        raise ConfigError("device.xla", f"model={config.model.name} looks ids up in string tables, which XLA "
                                        f"cannot compile; use device.xla=false")


@dataclass(frozen=True)
class InteractionFamily(Family):
    """A :class:`Family` whose ``body(users, items, config, rows)`` maps row-index tensors
    (``[batch]`` int, 0 = unseen) to a ``[batch, 1]`` score in standardised rating units;
    ``rows`` is ``(user rows, item rows)``, the unseen row included."""

    def build(self, model_cfg: Any, data: Any):
        # bmrun.models.recommender loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.models.recommender import RecommenderModel

        users, items = vocabularies(data.train.x)
        y = data.train.y
        return RecommenderModel(self.name, user_ids=users, item_ids=items, target_mean=data.target_mean,
                                target_std=data.target_std, rating_range=[float(y.min()), float(y.max())],
                                **arguments(model_cfg))
