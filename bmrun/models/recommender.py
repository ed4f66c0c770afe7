"""The Keras model of the recommender families, and the id-embedding layer they share.

:class:`RecommenderModel` takes raw ``(user id, item id)`` string pairs and returns ratings: two
``StringLookup`` layers (vocabularies = the training split's ids, saved in the model's config)
give row indices, the family's ``body`` scores them (that much is the model's ``backbone``), and
a fixed rescaling returns the rating units. Outside training the prediction is clipped to the
training ratings' range (as Surprise does), which never hurts RMSE. Imports Keras at the top: family modules import it inside
``build`` only (see :mod:`bmrun.models.interactions`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import keras
from keras import ops
from bmrun import registry


@keras.saving.register_keras_serializable(package="bmrun")
class IdEmbedding(keras.layers.Layer):
    """Rows of a ``(rows, dim)`` table for index tensors; row 0 (unseen ids) reads as zeros.

    Args:
        rows: Table height, the unseen row included.
        dim: Width (1 for a bias).
        l2: Penalty ``l2 * mean over the batch of |row|^2``, added while training: rows are
            shrunk in proportion to how often they are seen, the classic MF regulariser.
        stddev: Std of the normal initialisation (0 = zeros).
    """

    def __init__(self, rows: int, dim: int, l2: float = 0.0, stddev: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        self.rows, self.dim, self.l2, self.stddev = int(rows), int(dim), float(l2), float(stddev)

    def build(self, input_shape):
        initializer = keras.initializers.RandomNormal(stddev=self.stddev) if self.stddev else "zeros"
        self.embeddings = self.add_weight(shape=(self.rows, self.dim), name="embeddings", initializer=initializer)

    def call(self, indices, training=None):
        indices = ops.cast(indices, "int32")
        rows = ops.take(self.embeddings, indices, axis=0)
        rows = rows * ops.cast(ops.expand_dims(ops.greater(indices, 0), -1), rows.dtype)
        if training and self.l2:
            self.add_loss(self.l2 * ops.mean(ops.sum(ops.square(rows), axis=-1)))
        return rows

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self) -> dict:
        return {**super().get_config(), "rows": self.rows, "dim": self.dim, "l2": self.l2, "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="bmrun")
class KnownOnly(keras.layers.Layer):
    """``x`` where the id was seen in training, zeros where it was not (index 0)."""

    def call(self, x, indices):
        return x * ops.cast(ops.expand_dims(ops.greater(ops.cast(indices, "int32"), 0), -1), x.dtype)


@keras.saving.register_keras_serializable(package="bmrun")
class ClipOutsideTraining(keras.layers.Layer):
    """Clip predictions to ``[low, high]`` at inference; identity while training (keeps gradients)."""

    def __init__(self, low: float, high: float, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)

    def call(self, x, training=None):
        return x if training else ops.clip(x, self.low, self.high)

    def get_config(self) -> dict:
        return {**super().get_config(), "low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="bmrun")
class RecommenderModel(keras.Model):
    """A recommender over ``(user id, item id)`` string pairs (config = constructor arguments).

    Args:
        family: The registered :class:`~bmrun.models.interactions.InteractionFamily`.
        user_ids, item_ids: The training split's ids: row i+1 of the tables belongs to id i.
        target_mean, target_std: Training ratings' statistics; the body predicts standardised
            ratings.
        rating_range: ``[min, max]`` of the training ratings (inference clips to it), or None.
        **arguments: The family's config keys.
    """

    def __init__(self, family: str, *, user_ids: Sequence[str], item_ids: Sequence[str], target_mean: float,
                 target_std: float, rating_range: Optional[Sequence[float]] = None, name: Optional[str] = None,
                 trainable: bool = True, **arguments):
        entry = registry.model(family)
        config = entry.config(name=family, **arguments)
        user_ids, item_ids = [str(u) for u in user_ids], [str(i) for i in item_ids]
        inputs = keras.Input(shape=(2,), dtype="string", name="inputs")
        lookup = dict(num_oov_indices=1, mask_token=None, output_mode="int")
        users = keras.layers.StringLookup(vocabulary=user_ids, name="user_index", **lookup)(inputs[:, 0])
        items = keras.layers.StringLookup(vocabulary=item_ids, name="item_index", **lookup)(inputs[:, 1])
        score = entry.body(users, items, config, (len(user_ids) + 1, len(item_ids) + 1))
        body = keras.Model(inputs, score, name=f"{name or family}_backbone")
        outputs = keras.layers.Rescaling(scale=float(target_std), offset=float(target_mean), dtype="float32",
                                         name="target_scale")(score)
        if rating_range is not None:
            outputs = ClipOutsideTraining(*rating_range, name="rating_range")(outputs)
        super().__init__(inputs=inputs, outputs=outputs, name=name or family, trainable=trainable)
        self.family = family
        self.arguments = {key: getattr(config, key) for key in vars(config) if key not in ("name", "init_from",
                                                                                             "freeze")}
        self.user_ids, self.item_ids = user_ids, item_ids
        self.target_mean, self.target_std = float(target_mean), float(target_std)
        self.rating_range = list(rating_range) if rating_range is not None else None
        # Not tracked, as BasicModel's: its layers are this model's own.
        object.__setattr__(self, "_backbone", body)

    @property
    def backbone(self) -> keras.Model:
        """The id pairs to the standardised score; the head is the fixed rescaling (and clipping)."""
        return self._backbone

    def get_config(self) -> dict:
        return {"family": self.family, "name": self.name, "trainable": self.trainable, "user_ids": self.user_ids,
                "item_ids": self.item_ids, "target_mean": self.target_mean, "target_std": self.target_std,
                "rating_range": self.rating_range, **self.arguments}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)
