"""FixMatch consistency (``trainer.semi_supervised=consistency``): labeled and unlabeled images in one step.

Each batch of labeled images gets an unlabeled batch ``trainer.unlabeled_ratio`` times larger,
drawn from the pool that ``data.label_fraction`` leaves (:class:`UnlabeledBatches`, the
pipeline's batch plan: in-graph and keyed on ``(seed, epoch, batch index)`` like every
augmentation, so resumes are exact). The model's predictions on a *weak* view of each unlabeled
image (a small shift, the augment group's flip) whose probability is above
``trainer.confidence_threshold`` become hard targets for a *strong* view of the same image
(``trainer.strong_view``: ``randaugment``, FixMatch's own — the weak view, then
``trainer.randaugment_ops`` RandAugment operations and Cutout — or ``mild``). The unlabeled loss
(cross-entropy over every unlabeled image, zero where not confident) is weighted by
``trainer.unlabeled_weight``. The pool's own labels never reach the loss: they only measure how
often the confident predictions are right (``train/pseudo_label_accuracy``).
"""

from __future__ import annotations

import tensorflow as tf

from bmrun.data.augment import Distortion, distort, stateless_key
from bmrun.data.pipeline import as_model_input
from bmrun import streams
from bmrun.errors import ConfigError
from bmrun.methods.base import CLASSIFIER_SUMS, Batch, Method, Terms



def views_for(image_side: int, horizontal_flip: bool, strong_view: str,
              randaugment_ops: int) -> tuple[Distortion, Distortion]:
    """The weak and strong views for images ``image_side`` pixels high (28: a weak shift of 2).

    RandAugment is FixMatch's own strong view; the measured comparison with ``mild`` is in
    BENCHMARKS.md (Few labels).
    """
    shift = max(1, round(image_side / 14))
    weak = Distortion(shift=shift, horizontal_flip=horizontal_flip)
    if strong_view == "randaugment":
        return weak, Distortion(shift=shift, horizontal_flip=horizontal_flip, randaugment_ops=randaugment_ops,
                                cutout=0.5)
    strong = Distortion(shift=2 * shift, horizontal_flip=horizontal_flip, rotation=10.0, zoom=0.1, cutout=0.3,
                        brightness=0.1, contrast=0.3, noise_std=5.0)
    return weak, strong


class UnlabeledBatches:
    """The batch plan of a consistency run: ``(x, y) -> (x, y, u_weak, u_strong, u_y)``.

    Args:
        pool: The unlabeled pool (:attr:`bmrun.data.arrays.PreparedData.unlabeled`), resident.
        batch_size: Unlabeled images per step (labeled batch size x ``trainer.unlabeled_ratio``).
        seed: The run's seed.
        horizontal_flip: Whether the views may mirror images (``augment.horizontal_flip``).
        strong_view: ``trainer.strong_view`` (``randaugment`` or ``mild``).
        randaugment_ops: ``trainer.randaugment_ops``.
    """

    def __init__(self, pool, *, batch_size: int, seed: int, horizontal_flip: bool, strong_view: str,
                 randaugment_ops: int):
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.size = len(pool)
        self.weak, self.strong = views_for(int(pool.x.shape[1]), horizontal_flip, strong_view, randaugment_ops)
        with tf.device("/cpu:0"):
            self._x = tf.Variable(pool.x, trainable=False, name="unlabeled_x")
            self._y = tf.Variable(pool.y, trainable=False, name="unlabeled_y")

    def __call__(self, x, y, epoch, index) -> tuple:
        key = stateless_key(self.seed, streams.UNLABELED, epoch, index)
        keys = tf.random.experimental.stateless_split(key, num=3, alg="philox")
        # Drawn with replacement: each step's draw is a pure function of (seed, epoch, index).
        idx = tf.random.stateless_uniform([self.batch_size], seed=keys[0], minval=0, maxval=self.size,
                                          dtype=tf.int32, alg="philox")
        images = as_model_input(tf.gather(self._x, idx))
        return x, y, distort(images, keys[1], self.weak), distort(images, keys[2], self.strong), tf.gather(self._y, idx)


class Consistency(Method):
    """FixMatch's loss terms (see the module docstring).

    Args:
        plan: The run's :class:`UnlabeledBatches`.
        threshold: Confidence above which a prediction becomes a target.
        weight: Weight of the unlabeled loss.
        unlabeled_batch_size: Unlabeled images per step over all replicas (the loss's divisor).
    """

    name = "consistency"
    sum_names = CLASSIFIER_SUMS + ("unlabeled_loss_sum", "confident", "unlabeled_count", "pseudo_correct")

    def __init__(self, plan: UnlabeledBatches, *, threshold: float, weight: float, unlabeled_batch_size: int):
        self.plan = plan
        self.threshold, self.weight = float(threshold), float(weight)
        self.unlabeled_batch_size = float(unlabeled_batch_size)

    @classmethod
    def from_config(cls, config, data) -> "Consistency":
        pool, trainer = data.unlabeled, config.trainer
        if pool is None or len(pool) == 0:
            raise ConfigError("trainer.semi_supervised", f"data.label_fraction={config.data.label_fraction} left no "
                                                         f"unlabeled training image; lower it.")
        if getattr(pool.x, "streamed", False):
            raise ConfigError("trainer.semi_supervised", "draws unlabeled images from memory, but this image folder "
                              "is streamed from disk (larger than data.memory_budget); raise data.memory_budget so it "
                              "is held in memory, or train without trainer.semi_supervised.")
        unlabeled = config.data.batch_size * trainer.unlabeled_ratio
        plan = UnlabeledBatches(pool, batch_size=unlabeled, seed=config.seed,
                                horizontal_flip=config.augment.horizontal_flip, strong_view=trainer.strong_view,
                                randaugment_ops=trainer.randaugment_ops)
        return cls(plan, threshold=trainer.confidence_threshold, weight=trainer.unlabeled_weight,
                   unlabeled_batch_size=unlabeled)

    def batch_plan(self):
        return self.plan

    def unpack(self, batch: tuple) -> Batch:
        x, y, u_weak, u_strong, u_y = batch
        return Batch(x, y, (u_weak, u_strong, u_y))

    def targets(self, model, batch: Batch):
        """Targets from the weak view, without a gradient: only the strong view learns from them."""
        weak_logits = tf.cast(model(batch.extra[0], training=True), tf.float32)
        probabilities = tf.nn.softmax(weak_logits)
        confidence = tf.reduce_max(probabilities, axis=-1)
        return tf.argmax(probabilities, axis=-1, output_type=tf.int32), tf.cast(confidence > self.threshold, tf.float32)

    def loss_terms(self, model, loss_fn, batch: Batch, targets, global_batch_size: float) -> Terms:
        labeled = tf.shape(batch.y)[0]
        _, u_strong, u_y = batch.extra
        target, confident = targets
        # One pass over labeled and unlabeled images: batch normalisation sees them together.
        outputs = tf.cast(model(tf.concat([batch.x, u_strong], axis=0), training=True), tf.float32)
        labeled_outputs, unlabeled_logits = outputs[:labeled], outputs[labeled:]
        unlabeled_loss = confident * tf.nn.sparse_softmax_cross_entropy_with_logits(target, unlabeled_logits)
        hits = tf.cast(tf.equal(target, tf.reshape(tf.cast(u_y, tf.int32), [-1])), tf.float32)
        sums = {"unlabeled_loss_sum": tf.reduce_sum(unlabeled_loss), "confident": tf.reduce_sum(confident),
                "unlabeled_count": tf.cast(tf.shape(confident)[0], tf.float32),
                "pseudo_correct": tf.reduce_sum(hits * confident)}
        return Terms(loss_fn(batch.y, labeled_outputs), labeled_outputs,
                     self.weight * tf.reduce_sum(unlabeled_loss) / self.unlabeled_batch_size, sums)

    def train_metrics(self, sums: dict) -> dict:
        """``unlabeled_loss``, ``mask_rate`` (share of unlabeled images confident enough to train
        on) and ``pseudo_label_accuracy`` (share of those targets that match the withheld label;
        absent while none is confident)."""
        count = max(float(sums["unlabeled_count"]), 1.0)
        metrics = {"unlabeled_loss": float(sums["unlabeled_loss_sum"]) / count,
                   "mask_rate": float(sums["confident"]) / count}
        if float(sums["confident"]) > 0:
            metrics["pseudo_label_accuracy"] = float(sums["pseudo_correct"]) / float(sums["confident"])
        return metrics

    def record(self, data, config) -> dict:
        return {**super().record(data, config), "semi_supervised": self.name}
