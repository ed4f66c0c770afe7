"""The pieces a pretrain run swaps into the training loop: its batch plan, model and steps.

:func:`pretext_task` picks the task (:mod:`~bmrun.pretrain.contrastive` or
:mod:`~bmrun.pretrain.autoencoder`); :class:`PretextBatches` makes each training batch's pretext
inputs in-graph, keyed on ``(seed, epoch, batch index)`` (exact resumes);
:func:`pretext_model` puts the task's head on the backbone of the very model a supervised run
builds, so every backbone layer keeps its name and ``model.init_from=<pretrain run>`` copies it;
:class:`PretextSteps` trains and evaluates the pretext loss with the shared loop machinery.
"""

from __future__ import annotations

import tensorflow as tf

from bmrun.data.augment import stateless_key
from bmrun.training.steps import CompiledSteps

_SALT = 0x5E1F  # the views' own random numbers
_EVAL_KEY = 0x5E1E  # validation and test views: one fixed draw, so every evaluation compares alike


def pretext_task(config, data):
    """The ``pretrain`` group's task for prepared image data."""
    from bmrun.pretrain.autoencoder import MaskedAutoencoder
    from bmrun.pretrain.contrastive import Contrastive

    shape = tuple(data.inputs.shape)
    if config.pretrain.name == "contrastive":
        return Contrastive(config.pretrain, horizontal_flip=config.augment.horizontal_flip)
    return MaskedAutoencoder(config.pretrain, image_shape=shape)


def backbone_output(model):
    """The tensor the model's head reads: the backbone's features (any family, plugins too)."""
    from bmrun.models.backbones import features

    return features(model)


def pretext_model(task, model):
    """A Keras model sharing ``model``'s backbone layers (same objects, same names), topped by the
    task's head (projection MLP or decoder) instead of the classifier."""
    import keras

    return keras.Model(model.inputs, task.head(backbone_output(model)), name=f"{model.name}_pretext")


class PretextBatches:
    """Batch plan of a pretrain run: ``(x, y) -> the task's inputs`` (labels dropped)."""

    def __init__(self, task, seed: int):
        self.task, self.seed = task, int(seed)

    def __call__(self, x, y, epoch, index) -> tuple:
        return self.task.inputs(x, stateless_key(self.seed, _SALT, epoch, index))


class PretextSteps(CompiledSteps):
    """Compiled steps that learn the pretext task; named sums ``loss_sum`` and ``count`` only.

    Args:
        task: The pretext task.
        seed: The run's seed (fixes the views of validation and test images).
        *args, **kwargs: As for :class:`~bmrun.training.steps.CompiledSteps` (``model`` is the
            pretext model).
    """

    def __init__(self, task, seed: int, *args, **kwargs):
        self.pretext, self.seed = task, int(seed)
        super().__init__(*args, **kwargs)
        self.sum_names = ("loss_sum", "count")

    def _train_step(self, *inputs) -> dict:
        with tf.GradientTape() as tape:
            per_example = self.pretext.per_example_loss(self.model, inputs, training=True)
            loss = tf.reduce_sum(per_example) / self.global_batch_size + self._penalty()
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.variables)
        self.optimizer.apply(grads, self.variables)
        return {"loss_sum": tf.reduce_sum(per_example), "count": tf.cast(tf.shape(per_example)[0], tf.float32)}

    def _zero_eval_sums(self) -> dict:
        zero = tf.constant(0.0, tf.float64)
        return {"loss_sum": zero, "count": zero}

    def _eval_step(self, x, y) -> dict:
        inputs = self.pretext.inputs(x, stateless_key(self.seed, _EVAL_KEY))
        per_example = self.pretext.per_example_loss(self.model, inputs, training=False)
        return {"loss_sum": tf.reduce_sum(tf.cast(per_example, tf.float64)),
                "count": tf.cast(tf.shape(per_example)[0], tf.float64)}

    def train_metrics(self, sums: dict) -> dict:
        return {"loss": float(sums["loss_sum"]) / max(float(sums["count"]), 1.0)}

    def eval_metrics(self, sums: dict) -> dict:
        return {"loss": float(sums["loss_sum"]) / max(float(sums["count"]), 1.0)}
