"""The compiled training and evaluation steps: one loop serves every model and strategy.

``train_steps(iterator, n)`` runs ``n`` optimizer steps inside one ``tf.function`` call: the
Python dispatch cost is paid once per call, not per step, and the host reads back a handful
of sums only at the end of the call. ``train_steps_resident(order, epoch, start, n)`` does the
same without tf.data: each batch is gathered inside the graph from the resident arrays (per
step this saves tf.data's hand-off between threads, which dominates small models). The step itself may be XLA-compiled. Evaluation runs a
whole split in one call and returns sums (a confusion matrix, or regression moments) from
which :mod:`bmrun.training.metrics` derives every reported metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import tensorflow as tf

from bmrun.data.catalog import MULTICLASS, REGRESSION, TaskSpec
from bmrun.training import adversarial as attacks


@dataclass(frozen=True)
class AdversarialTraining:
    """How each training batch is attacked (see :mod:`bmrun.training.adversarial`)."""

    kind: str  # fgsm | pgd
    epsilon: float
    steps: int
    step_size: float
    fraction: float

TRAIN_SUMS = ("loss_sum", "correct", "count", "first_bad_step")


class CompiledLoop:
    """Owns the traced train/eval functions of one model.

    Args:
        model: A built Keras model returning logits (or values for regression).
        loss_fn: Per-example loss ``loss_fn(y, outputs) -> [batch]``.
        optimizer: Keras optimizer, already built on ``model.trainable_variables``.
        task: The dataset's task spec (how to count correct predictions).
        strategy: ``tf.distribute`` strategy the model and optimizer were created under.
        global_batch_size: Examples per step over all replicas; per-example losses are summed
            and divided by it, which gives the right gradient scale under any replica count.
        jit_compile: XLA-compile the step function.
        trainable_variables: Variables to update (a frozen backbone leaves some out).
        adversarial: Train on adversarial examples made inside the step (None = clean data).
        batch_at: ``batch_at(order, epoch, index) -> (x, y)``, the in-graph batch source of
            ``train_steps_resident`` (see :meth:`bmrun.data.pipeline.DataPipeline.batch_at`).
        l2: Coefficient of the L2 penalty ``l2 * sum(w**2)`` on kernels and embeddings (biases,
            normalisation and other parameters are left alone, as Keras's regularizers do).
    """

    def __init__(self, model, loss_fn: Callable, optimizer, task: TaskSpec, strategy, *,
                 global_batch_size: int, jit_compile: bool = False, trainable_variables=None,
                 adversarial: Optional[AdversarialTraining] = None, batch_at: Optional[Callable] = None,
                 l2: float = 0.0):
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.task = task
        self.strategy = strategy
        self.global_batch_size = float(global_batch_size)
        self.variables = list(trainable_variables if trainable_variables is not None else model.trainable_variables)
        self.adversarial = adversarial
        self.l2 = l2
        self._penalised = [v for v in self.variables if v.path.rsplit("/", 1)[-1] in ("kernel", "embeddings")]
        self.trace_count = {"train": 0, "eval": 0}
        step = tf.function(self._train_step, jit_compile=True) if jit_compile else self._train_step
        self._step = step
        self.batch_at = batch_at
        self.train_steps = tf.function(self._train_steps)
        self.train_steps_resident = tf.function(self._train_steps_resident)
        self.evaluate = tf.function(self._evaluate)
        self.evaluate_fgsm = tf.function(self._evaluate_fgsm)
        self._evaluate_tensors = None

    # ------------------------------------------------------------------ training
    def _attack(self, x, y):
        spec = self.adversarial
        if spec.kind == "fgsm":
            x_adv = attacks.fgsm(self.model, self.loss_fn, x, y, spec.epsilon)
        else:  # the random start is a pure function of the step: exact resumes
            seed = tf.stack([tf.cast(self.optimizer.iterations, tf.int32), tf.constant(20150, tf.int32)])
            x_adv = attacks.pgd(self.model, self.loss_fn, x, y, spec.epsilon, spec.steps, spec.step_size, seed)
        return attacks.mix(x, x_adv, spec.fraction)

    def _train_step(self, x, y):
        if self.adversarial is not None:
            x = self._attack(x, y)
        with tf.GradientTape() as tape:
            outputs = self.model(x, training=True)
            per_example = self.loss_fn(y, outputs)
            loss = tf.reduce_sum(per_example) / self.global_batch_size
            if self.model.losses:  # weight regularisers: each replica adds its share
                loss += tf.add_n(self.model.losses) / self.strategy.num_replicas_in_sync
            if self.l2 and self._penalised:
                penalty = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in self._penalised])
                loss += self.l2 * penalty / self.strategy.num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.variables)
        self.optimizer.apply(grads, self.variables)
        loss_sum = tf.reduce_sum(tf.cast(per_example, tf.float32))
        count = tf.cast(tf.shape(per_example)[0], tf.float32)
        return tf.stack([loss_sum, self._correct(y, outputs), count])

    def _train_steps(self, iterator, num_steps):
        return self._run_steps(lambda i: next(iterator), num_steps)

    def _train_steps_resident(self, order, epoch, start, num_steps):
        return self._run_steps(lambda i: self.batch_at(order, epoch, start + i), num_steps)

    def _run_steps(self, next_batch: Callable, num_steps):
        """``num_steps`` optimizer steps; returns (loss sum, correct, count, first bad step or -1)."""
        self.trace_count["train"] += 1  # Python side effect: runs once per trace, not per call
        sums = tf.zeros([3], tf.float32)
        first_bad = tf.constant(-1, tf.int32)
        for i in tf.range(num_steps):
            x, y = next_batch(i)
            per_replica = self.strategy.run(self._step, args=(x, y))
            step_sums = self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
            bad = tf.logical_not(tf.math.is_finite(step_sums[0]))
            first_bad = tf.where(tf.logical_and(bad, first_bad < 0), i, first_bad)
            sums += step_sums
        return tf.concat([sums, [tf.cast(first_bad, tf.float32)]], axis=0)

    def _correct(self, y, outputs):
        if self.task.kind == MULTICLASS:
            predicted = tf.argmax(outputs, axis=-1, output_type=tf.int32)
            return tf.reduce_sum(tf.cast(tf.equal(predicted, tf.cast(y, tf.int32)), tf.float32))
        if self.task.kind == REGRESSION:
            return tf.constant(0.0)
        predicted = tf.cast(tf.squeeze(outputs, -1) > 0, tf.int32)
        return tf.reduce_sum(tf.cast(tf.equal(predicted, tf.cast(y, tf.int32)), tf.float32))

    # ------------------------------------------------------------------ evaluation
    def _eval_step(self, x, y):
        outputs = self.model(x, training=False)
        loss_sum = tf.reduce_sum(tf.cast(self.loss_fn(y, outputs), tf.float64))
        count = tf.cast(tf.shape(outputs)[0], tf.float64)
        if self.task.kind == REGRESSION:
            pred = tf.cast(tf.squeeze(outputs, -1), tf.float64)
            true = tf.cast(y, tf.float64)
            moments = [tf.reduce_sum(tf.square(true - pred)), tf.reduce_sum(tf.abs(true - pred)),
                       tf.reduce_sum(true), tf.reduce_sum(tf.square(true))]
            return tf.concat([[loss_sum, count], tf.stack(moments)], axis=0)
        num_classes = self.task.num_classes
        if self.task.kind == MULTICLASS:
            predicted = tf.argmax(outputs, axis=-1, output_type=tf.int32)
        else:
            predicted = tf.cast(tf.squeeze(outputs, -1) > 0, tf.int32)
        confusion = tf.math.confusion_matrix(tf.cast(y, tf.int32), predicted, num_classes=num_classes,
                                             dtype=tf.float64)
        return tf.concat([[loss_sum, count], tf.reshape(confusion, [-1])], axis=0)

    def _evaluate_fgsm(self, dataset, epsilon):
        """(correct, count) of predictions on FGSM examples at ``epsilon`` (robust accuracy)."""
        def step(x, y):
            outputs = self.model(attacks.fgsm(self.model, self.loss_fn, x, y, epsilon), training=False)
            return tf.stack([self._correct(y, outputs), tf.cast(tf.shape(outputs)[0], tf.float32)])

        sums = tf.zeros([2], tf.float32)
        for x, y in dataset:
            sums += self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(step, args=(x, y)), axis=None)
        return sums

    def _eval_width(self) -> int:
        return 6 if self.task.kind == REGRESSION else 2 + self.task.num_classes ** 2

    def _evaluate(self, dataset):
        self.trace_count["eval"] += 1
        sums = tf.zeros([self._eval_width()], tf.float64)
        for x, y in dataset:
            per_replica = self.strategy.run(self._eval_step, args=(x, y))
            sums += self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return sums

    def evaluate_tensors(self, x: tf.Tensor, y: tf.Tensor, batch_size: int):
        """Evaluate a whole split held as tensors, batch by batch in-graph (single device).

        Skips tf.data: building and tracing an eval pipeline costs more than the evaluation
        itself on small splits, and this path traces once for val and test alike.
        """
        if self._evaluate_tensors is None:
            spec = [tf.TensorSpec([None, *x.shape[1:]], x.dtype), tf.TensorSpec([None, *y.shape[1:]], y.dtype)]
            self._evaluate_tensors = tf.function(self._evaluate_in_graph, input_signature=spec)
            self._eval_batch_size = batch_size
        return self._evaluate_tensors(x, y)

    def _evaluate_in_graph(self, x, y):
        self.trace_count["eval"] += 1
        batch = self._eval_batch_size
        sums = tf.zeros([self._eval_width()], tf.float64)
        num_batches = (tf.shape(x)[0] + batch - 1) // batch
        for i in tf.range(num_batches):
            sums += self._eval_step(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        return sums
