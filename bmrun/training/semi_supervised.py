"""Semi-supervised training (``trainer.semi_supervised``): labeled and unlabeled images in one step.

Each training batch of labeled images gets an unlabeled batch ``trainer.unlabeled_ratio`` times
larger, drawn from the unlabeled pool that ``data.label_fraction`` leaves (:class:`UnlabeledBatches`,
the pipeline's batch plan: it runs in-graph, keyed on ``(seed, epoch, batch index)`` like every
augmentation, so resumes are exact). :class:`SemiSupervisedSteps` replaces the supervised step:

* ``consistency`` (FixMatch, Sohn et al. 2020): the model's predictions on a *weak* view of each
  unlabeled image (a small shift, the augment group's flip) whose probability is above
  ``trainer.confidence_threshold`` become hard targets for a *strong* view of the same image
  (``trainer.strong_view``: ``randaugment``, FixMatch's own, the weak view then
  ``trainer.randaugment_ops`` RandAugment operations and Cutout; or ``mild``: a larger shift,
  rotation, zoom, a smaller cutout, contrast, brightness, noise).
* ``pseudo_label`` (Lee 2013): the same targets, learnt on the weak view itself.

The unlabeled loss (cross-entropy over every unlabeled image, zero where not confident) is
weighted by ``trainer.unlabeled_weight``. ``trainer.teacher=ema`` lets the moving average of the
weights (``optimizer.ema_decay``, evaluated in inference mode) label the weak view instead of the
model itself: a steadier teacher whose mistakes the student does not reinforce step by step.
``trainer.distribution_alignment`` divides the teacher's probabilities by their running mean
over the pool (and renormalises) before the threshold, so classes the model is shy of still
get targets. ``trainer.similarity_weight`` adds SimMatch's labeled-neighbour votes and instance
loss (:mod:`bmrun.training.similarity`). ``trainer.flexible_thresholds`` (FlexMatch's curriculum
pseudo-labelling, Zhang et al. 2021) lowers the threshold of the classes the model is still
learning: it remembers, for each pool image, the class it was last confidently given, and scales
the threshold of class c by ``b / (2 - b)``, ``b`` being c's count over the largest count (or over
the images never yet confident, while they are more). Early on every prediction is a target; later the classes that
collect few confident images (Fashion-MNIST's shirts) keep getting some. The pool's own labels
never reach the loss: they only measure how often the confident predictions are right
(``train/pseudo_label_accuracy``).
"""

from __future__ import annotations

import tensorflow as tf

from bmrun.data.augment import Distortion, distort, stateless_key
from bmrun.training import similarity
from bmrun.training.steps import CompiledSteps

_SALT = 0x55F1  # the unlabeled stream's own random numbers (same seed as the labeled batches)


def views_for(image_side: int, horizontal_flip: bool, strong_view: str,
              randaugment_ops: int) -> tuple[Distortion, Distortion]:
    """The weak and strong views for images ``image_side`` pixels high (28: a weak shift of 2).

    RandAugment's strength is FixMatch's: with 600 Fashion-MNIST labels it scored 0.8 points above
    the mild view on average over four seeds (higher at each), whose distortions leave the student
    little to learn that the teacher does not already know.
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
    """The batch plan of a semi-supervised run: ``(x, y) -> (x, y, u_weak, u_strong, u_y, u_index)``
    (``u_index``: where in the pool each unlabeled image is).

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
        from bmrun.data.pipeline import as_model_input

        self.batch_size, self.seed = int(batch_size), int(seed)
        self.size = len(pool)
        self.weak, self.strong = views_for(int(pool.x.shape[1]), horizontal_flip, strong_view, randaugment_ops)
        self._as_input = as_model_input
        with tf.device("/cpu:0"):
            self._x = tf.Variable(pool.x, trainable=False, name="unlabeled_x")
            self._y = tf.Variable(pool.y, trainable=False, name="unlabeled_y")

    def __call__(self, x, y, epoch, index) -> tuple:
        key = stateless_key(self.seed, _SALT, epoch, index)
        keys = tf.random.experimental.stateless_split(key, num=3, alg="philox")
        # Drawn with replacement: each step's draw is a pure function of (seed, epoch, index).
        idx = tf.random.stateless_uniform([self.batch_size], seed=keys[0], minval=0, maxval=self.size,
                                          dtype=tf.int32, alg="philox")
        images = self._as_input(tf.gather(self._x, idx))
        return (x, y, distort(images, keys[1], self.weak), distort(images, keys[2], self.strong),
                tf.gather(self._y, idx), idx)


class SemiSupervisedSteps(CompiledSteps):
    """The compiled steps of a semi-supervised run (see the module docstring).

    Args:
        mode: ``consistency`` or ``pseudo_label``.
        threshold: Confidence above which a prediction becomes a target.
        weight: Weight of the unlabeled loss.
        unlabeled_ratio: Unlabeled images per labeled image in a step.
        teacher: ``model`` (the model labels its own weak views) or ``ema`` (the moving average
            of its weights does: needs ``ema`` among the keyword arguments, built with a shadow).
        distribution_alignment: Align the teacher's probabilities with a uniform class prior.
        flexible_thresholds: FlexMatch's per-class thresholds (needs ``pool_size``).
        pool_size: Images in the unlabeled pool.
        embedder: With similarity matching: the model with a projection head
            (:func:`~bmrun.training.similarity.with_projection`) sharing the classifier's layers.
        similarity_weight: Weight of the instance loss (0: no similarity matching).
        similarity_temperature: Temperature of the similarities to the label bank.
        neighbour_weight: Share of each pseudo-label taken from the labeled neighbours.
        bank_size: Labeled embeddings the bank holds.
        **kwargs: As for :class:`~bmrun.training.steps.CompiledSteps`.
    """

    def __init__(self, *args, mode: str, threshold: float, weight: float, unlabeled_ratio: int,
                 teacher: str = "model", distribution_alignment: bool = False, flexible_thresholds: bool = False,
                 pool_size: int = 0, embedder=None, similarity_weight: float = 0.0,
                 similarity_temperature: float = 0.1, neighbour_weight: float = 0.0, bank_size: int = 0, **kwargs):
        self.mode, self.threshold, self.weight = mode, float(threshold), float(weight)
        self.unlabeled_batch_size = float(unlabeled_ratio) * kwargs["global_batch_size"]
        super().__init__(*args, **kwargs)
        self.teacher = self.ema.shadow if teacher == "ema" else None
        self.embedder, self.bank = embedder, None
        self.similarity_weight, self.temperature = float(similarity_weight), float(similarity_temperature)
        self.neighbour_weight = float(neighbour_weight)
        if embedder is not None:
            self.bank = similarity.LabelBank(bank_size, int(embedder.outputs[1].shape[-1]), self.task.num_classes)
        self.alignment = None
        if distribution_alignment:  # the running mean of the teacher's probabilities (checkpointed)
            classes = self.task.num_classes
            self.alignment = tf.Variable(tf.fill([classes], 1.0 / classes), trainable=False,
                                         name="mean_unlabeled_prediction",
                                         aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.pool_classes = None
        if flexible_thresholds:  # per pool image: the class last predicted above the threshold, -1 never (checkpointed)
            self.pool_classes = tf.Variable(tf.fill([int(pool_size)], -1), trainable=False, name="pool_classes",
                                            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.sum_names = ("loss_sum", "correct", "count", "unlabeled_loss_sum", "confident", "unlabeled_count",
                          "pseudo_correct") + (("similarity_loss_sum",) if embedder is not None else ())

    def _forward(self, network, images, training: bool) -> tuple:
        """``(logits in float32, embeddings or None)``; the embedder replaces the classifier when set."""
        if self.embedder is None:
            return tf.cast(network(images, training=training), tf.float32), None
        logits, embeddings = network(images, training=training)
        return tf.cast(logits, tf.float32), embeddings

    def _train_step(self, x, y, u_weak, u_strong, u_y, u_index) -> dict:
        labeled = tf.shape(y)[0]
        student = self.model if self.embedder is None else self.embedder
        weak_embedding = None
        if self.teacher is not None:  # the averaged weights, in inference mode
            weak_logits, weak_embedding = self._forward(self.teacher, u_weak, training=False)
        elif self.mode == "consistency":
            # Targets from the weak view, without a gradient: only the strong view learns from them.
            weak_logits, weak_embedding = self._forward(student, u_weak, training=True)
        with tf.GradientTape() as tape:
            # One pass over labeled and unlabeled images: batch normalisation sees them together.
            learner = u_strong if self.mode == "consistency" else u_weak
            outputs, embeddings = self._forward(student, tf.concat([x, learner], axis=0), training=True)
            labeled_outputs, unlabeled_logits = outputs[:labeled], outputs[labeled:]
            if self.mode == "pseudo_label" and self.teacher is None:
                weak_logits = unlabeled_logits
            probabilities = self._aligned(tf.nn.softmax(tf.stop_gradient(weak_logits)))
            instance_loss = tf.zeros_like(probabilities[:, 0])
            if self.bank is not None and weak_embedding is not None:
                probabilities, instance_loss = similarity.match(
                    self.bank, probabilities, tf.stop_gradient(weak_embedding), embeddings[labeled:],
                    temperature=self.temperature, neighbour_weight=self.neighbour_weight)
            confidence, targets = tf.reduce_max(probabilities, axis=-1), tf.argmax(probabilities, axis=-1,
                                                                                    output_type=tf.int32)
            confident = tf.cast(confidence > self._thresholds(targets, confidence, u_index), tf.float32)
            unlabeled_loss = confident * tf.nn.sparse_softmax_cross_entropy_with_logits(targets, unlabeled_logits)
            per_example = self.loss_fn(y, labeled_outputs)
            loss = (tf.reduce_sum(per_example) / self.global_batch_size
                    + (self.weight * tf.reduce_sum(unlabeled_loss) + self.similarity_weight
                       * tf.reduce_sum(instance_loss)) / self.unlabeled_batch_size)
            loss += self._penalty()
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.variables)
        self.optimizer.apply(grads, self.variables)
        if self.bank is not None:  # this batch's labeled embeddings replace the oldest
            self.bank.push(tf.stop_gradient(embeddings[:labeled]), y)
        hits = tf.cast(tf.equal(targets, tf.reshape(tf.cast(u_y, tf.int32), [-1])), tf.float32)
        sums = {"loss_sum": tf.reduce_sum(tf.cast(per_example, tf.float32)),
                "correct": self._correct(y, labeled_outputs),
                "count": tf.cast(tf.shape(per_example)[0], tf.float32),
                "unlabeled_loss_sum": tf.reduce_sum(unlabeled_loss),
                "confident": tf.reduce_sum(confident),
                "unlabeled_count": tf.cast(tf.shape(confident)[0], tf.float32),
                "pseudo_correct": tf.reduce_sum(hits * confident)}
        if self.bank is not None:
            sums["similarity_loss_sum"] = tf.reduce_sum(instance_loss)
        return sums

    def _aligned(self, probabilities):
        """``trainer.distribution_alignment``: probabilities x (uniform / running mean), renormalised."""
        if self.alignment is None:
            return probabilities
        self.alignment.assign(0.999 * self.alignment + 0.001 * tf.reduce_mean(probabilities, axis=0))
        aligned = probabilities / (tf.cast(self.task.num_classes, tf.float32) * self.alignment)
        return aligned / tf.reduce_sum(aligned, axis=-1, keepdims=True)

    def _thresholds(self, targets, confidence, pool_index):
        """Each unlabeled image's threshold: ``trainer.confidence_threshold``, or with
        ``trainer.flexible_thresholds`` its class's FlexMatch threshold (the memory is then updated)."""
        if self.pool_classes is None:
            return self.threshold
        classes = self.task.num_classes
        counts = tf.cast(tf.math.bincount(self.pool_classes + 1, minlength=classes + 1, maxlength=classes + 1),
                         tf.float32)  # [never confident, class 0, class 1, ...]
        learning = counts[1:] / tf.maximum(tf.maximum(tf.reduce_max(counts[1:]), counts[0]), 1.0)
        thresholds = learning / (2.0 - learning) * self.threshold
        sure = confidence > self.threshold
        remembered = tf.tensor_scatter_nd_update(self.pool_classes, tf.boolean_mask(pool_index, sure)[:, None],
                                                 tf.boolean_mask(targets, sure))
        self.pool_classes.assign(remembered)
        return tf.gather(thresholds, targets)

    def trackables(self) -> dict:
        """State the checkpoint keeps besides model and optimizer (the alignment's running mean,
        FlexMatch's memory of the pool)."""
        state = {} if self.alignment is None else {"mean_unlabeled_prediction": self.alignment}
        if self.pool_classes is not None:
            state["pool_classes"] = self.pool_classes
        if self.bank is not None:
            state.update(self.bank.trackables())
        return state

    def train_metrics(self, sums: dict) -> dict:
        """Besides loss and accuracy on the labeled images: ``unlabeled_loss``, ``mask_rate`` (share
        of unlabeled images confident enough to train on) and ``pseudo_label_accuracy`` (share of
        those targets that match the withheld label; absent while none is confident)."""
        metrics = super().train_metrics(sums)
        count = max(float(sums["unlabeled_count"]), 1.0)
        metrics["unlabeled_loss"] = float(sums["unlabeled_loss_sum"]) / count
        metrics["mask_rate"] = float(sums["confident"]) / count
        if "similarity_loss_sum" in sums:
            metrics["similarity_loss"] = float(sums["similarity_loss_sum"]) / count
        if float(sums["confident"]) > 0:
            metrics["pseudo_label_accuracy"] = float(sums["pseudo_correct"]) / float(sums["confident"])
        return metrics
