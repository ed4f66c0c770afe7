"""Self-supervised pretraining (``pretrain=contrastive|autoencoder``) as a learning method.

:func:`pretext_task` picks the task (:mod:`~bmrun.pretrain.contrastive` or
:mod:`~bmrun.pretrain.autoencoder`); the batch plan makes each training batch's pretext inputs
in-graph, keyed on ``(seed, epoch, batch index)`` (exact resumes); :func:`pretext_model` puts the
task's head on the backbone of the very model a supervised run builds
(:func:`bmrun.models.backbones.with_head`), so ``model.init_from=<pretrain run>`` copies it. Validation and test score the
pretext loss on one fixed draw of views, so every evaluation compares alike.
"""

from __future__ import annotations

import tensorflow as tf

from bmrun import streams
from bmrun.data.augment import stateless_key
from bmrun.methods.base import Batch, Method, Terms
from bmrun.models.backbones import with_head
from bmrun.pretrain.autoencoder import MaskedAutoencoder
from bmrun.pretrain.contrastive import Contrastive



def pretext_task(config, data):
    """The ``pretrain`` group's task for prepared image data."""
    if config.pretrain.name == "contrastive":
        return Contrastive(config.pretrain, horizontal_flip=config.augment.horizontal_flip)
    return MaskedAutoencoder(config.pretrain, image_shape=tuple(data.inputs.shape))


def pretext_model(task, model):
    """A Keras model sharing ``model``'s backbone (same layers, same variables), topped by the
    task's head (projection MLP or decoder) instead of the task's own head."""
    return with_head(model, task.head, name=f"{model.name}_pretext")


class PretextBatches:
    """Batch plan of a pretrain run: ``(x, y) -> the task's inputs`` (labels dropped)."""

    def __init__(self, task, seed: int):
        self.task, self.seed = task, int(seed)

    def __call__(self, x, y, epoch, index) -> tuple:
        return self.task.inputs(x, stateless_key(self.seed, streams.PRETEXT_VIEWS, epoch, index))


class Pretext(Method):
    """Learns a pretext task on the backbone; named sums ``loss_sum`` and ``count`` only.

    Args:
        task: The pretext task (:class:`~bmrun.pretrain.contrastive.Contrastive` or
            :class:`~bmrun.pretrain.autoencoder.MaskedAutoencoder`).
        seed: The run's seed (keys the views).
    """

    sum_names = ("loss_sum", "count")
    trains_classifier = False

    def __init__(self, task, seed: int, name: str):
        self.task, self.seed, self.name = task, int(seed), name

    @classmethod
    def from_config(cls, config, data) -> "Pretext":
        return cls(pretext_task(config, data), config.seed, config.pretrain.name)

    @property
    def loss_name(self) -> str:
        return self.task.loss_name

    def batch_plan(self):
        return PretextBatches(self.task, self.seed)

    def training_model(self, model):
        return pretext_model(self.task, model)

    def unpack(self, batch: tuple) -> Batch:
        return Batch(None, None, tuple(batch))

    def loss_terms(self, model, loss_fn, batch: Batch, targets, global_batch_size: float) -> Terms:
        return Terms(self.task.per_example_loss(model, batch.extra, training=True))

    def eval_per_example(self, model, x) -> tf.Tensor:
        """The pretext loss of each image's fixed views (validation and test)."""
        inputs = self.task.inputs(x, stateless_key(self.seed, streams.PRETEXT_EVAL))
        return self.task.per_example_loss(model, inputs, training=False)

    def record(self, data, config) -> dict:
        # Labels ignored: every training image is a pretext example.
        return {"pretrain": {"task": self.name, "loss": self.task.loss_name, "images": len(data.train)}}
