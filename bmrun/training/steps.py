"""The compiled training steps: one set serves every model, method and strategy.

``train_steps(iterator, n)`` runs ``n`` optimizer steps inside one ``tf.function`` call: the
Python dispatch cost is paid once per call, not per step, and the host reads back a few named
sums only at the end of the call. ``train_steps_resident(order, epoch, start, n)`` does the same
without tf.data: each batch is gathered inside the graph from the resident arrays (per step this
saves tf.data's hand-off between threads, which dominates small models). The step itself may be
XLA-compiled. Evaluation is :mod:`bmrun.training.evaluator`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import tensorflow as tf

from bmrun import streams
from bmrun.fairness.penalty import Multiplier, base_rate_scale, demographic_parity_gap
from bmrun.methods.base import Method
from bmrun.tasks import task_for
from bmrun.tasks.base import Task
from bmrun.training import adversarial as attacks


@dataclass(frozen=True)
class AdversarialTraining:
    """How each training batch is attacked (see :mod:`bmrun.training.adversarial`)."""

    kind: str  # fgsm | pgd
    epsilon: float
    steps: int
    step_size: float
    fraction: float


def sum_over_replicas(strategy, per_replica):
    """Each named sum added up over the replicas (unchanged on one device)."""
    return tf.nest.map_structure(lambda v: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None), per_replica)


def add_sums(total: dict, extra: dict) -> dict:
    return {k: total[k] + extra[k] for k in total}


def fold_range(count, body: Callable, state):
    """``for i in range(count): state = body(i, state)`` as one graph loop; returns ``state``.
    Written out so the compiled functions need no AutoGraph, whose conversions cost every start
    (BENCHMARKS.md, "Why `experiment=fashion_speedrun` is set as it is")."""
    count = tf.convert_to_tensor(count)
    _, state = tf.while_loop(lambda i, _: i < count, lambda i, s: (i + 1, body(i, s)),
                             (tf.zeros([], count.dtype), state))
    return state


class CompiledSteps:
    """Owns the traced train/eval functions of one model.

    The one train step composes the learning method's loss terms (:mod:`bmrun.methods`) with the
    options every method shares: adversarial examples, the fairness penalty, L2 and the weights'
    moving average. :mod:`bmrun.methods.catalog` refuses the pairs that do not compose.

    Args:
        model: The Keras model the method trains: the task's model (logits, or values for
            regression), or a pretext model sharing its backbone.
        loss_fn: Per-example loss ``loss_fn(y, outputs) -> [batch]``.
        optimizer: Keras optimizer, already built on the trainable variables (None: eval only).
        task: The task kind (:mod:`bmrun.tasks`: how to count correct predictions, the metrics).
        strategy: ``tf.distribute`` strategy the model and optimizer were created under.
        global_batch_size: Examples per step over all replicas; per-example losses are summed
            and divided by it, which gives the right gradient scale under any replica count.
        method: The learning method (:class:`bmrun.methods.base.Method`; None: supervised).
        jit_compile: XLA-compile the step function.
        trainable_variables: Variables to update (a frozen backbone leaves some out).
        adversarial: Train on adversarial examples made inside the step (None = clean data).
        batch_at: ``batch_at(order, epoch, index) -> (x, y)``, the in-graph batch source of
            ``train_steps_resident`` (see :meth:`bmrun.data.pipeline.DataPipeline.batch_at`).
        l2: Coefficient of the L2 penalty ``l2 * sum(w**2)`` on kernels and embeddings (biases,
            normalisation and other parameters are left alone, as Keras's regularizers do).
        fairness_penalty: λ of the demographic-parity penalty (:mod:`bmrun.fairness.penalty`),
            or its starting value when ``fairness.max_gap`` moves it between epochs: it lives
            in ``fairness_multiplier``, a checkpointed variable the step reads.
        fairness_groups: Number of groups of ``loss.fairness_group`` (0: no group travels with
            the batches). When set, every training batch is ``(x, y, group_ids)`` and the steps
            return the penalty's own named sum, ``fairness_penalty_sum``.
        ema: The moving average of the weights (``optimizer.ema_decay``) that follows every step.
    """

    def __init__(self, model, loss_fn: Callable, optimizer, task: Task, strategy, *,
                 global_batch_size: int, method: Optional[Method] = None, jit_compile: bool = False,
                 trainable_variables=None, adversarial: Optional[AdversarialTraining] = None,
                 batch_at: Optional[Callable] = None, l2: float = 0.0,
                 fairness_penalty: float = 0.0, fairness_groups: int = 0, ema=None):
        self.method = method if method is not None else Method()
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.task = task if isinstance(task, Task) else task_for(task)  # a TaskSpec is read as its kind's Task
        self.strategy = strategy
        self.global_batch_size = float(global_batch_size)
        self.variables = list(trainable_variables if trainable_variables is not None else model.trainable_variables)
        self.adversarial = adversarial
        self.l2 = l2
        self.fairness_groups = int(fairness_groups)
        self.fairness_multiplier = Multiplier(fairness_penalty) if self.fairness_groups else None
        self.ema = ema  # bmrun.training.ema.WeightAverage, or None
        self._penalised = [v for v in self.variables if v.path.rsplit("/", 1)[-1] in ("kernel", "embeddings")]
        self.trace_count = 0
        # What each training step returns (and a checkpoint keeps for the epoch in progress).
        self.sum_names = self.method.sum_names + (("fairness_penalty_sum",) if self.fairness_groups else ())
        self._step = tf.function(self._train_step, jit_compile=True) if jit_compile else self._train_step
        self.batch_at = batch_at
        self.train_steps = tf.function(self._train_steps)
        # No AutoGraph where the loops are written out (fold_range); iterating a tf.data
        # iterator or dataset still needs its conversion.
        self.train_steps_resident = tf.function(self._train_steps_resident, autograph=False)

    # ------------------------------------------------------------------ training
    def _attack(self, x, y):
        spec = self.adversarial
        if spec.kind == "fgsm":
            x_adv = attacks.fgsm(self.model, self.loss_fn, x, y, spec.epsilon)
        else:  # the random start is a pure function of the step: exact resumes
            seed = tf.stack([tf.cast(self.optimizer.iterations, tf.int32), tf.constant(streams.PGD_START, tf.int32)])
            x_adv = attacks.pgd(self.model, self.loss_fn, x, y, spec.epsilon, spec.steps, spec.step_size, seed)
        return attacks.mix(x, x_adv, spec.fraction)

    def _train_step(self, *batch) -> dict:
        """One optimizer step: the method's loss terms plus every option's."""
        group_ids = batch[-1] if self.fairness_groups else None  # the pipeline appends them last
        batch = self.method.unpack(batch[:-1] if self.fairness_groups else batch)
        if self.adversarial is not None:  # the labeled images, whatever the method does besides
            batch.x = self._attack(batch.x, batch.y)
        targets = self.method.targets(self.model, batch)  # no gradient: outside the tape
        with tf.GradientTape() as tape:
            terms = self.method.loss_terms(self.model, self.loss_fn, batch, targets, self.global_batch_size)
            loss = tf.reduce_sum(terms.per_example) / self.global_batch_size + terms.extra_loss + self._penalty()
            if group_ids is not None:
                gap = demographic_parity_gap(terms.outputs, group_ids, self.fairness_groups)
                fairness = self.fairness_multiplier.value * gap * base_rate_scale(batch.y)
                loss += fairness / self.strategy.num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.variables)
        self.optimizer.apply(grads, self.variables)
        self.method.after_update(batch, terms)
        count = tf.cast(tf.shape(terms.per_example)[0], tf.float32)
        sums = {"loss_sum": tf.reduce_sum(tf.cast(terms.per_example, tf.float32)), "count": count, **terms.sums}
        if terms.outputs is not None:
            sums["correct"] = self.task.correct(batch.y, terms.outputs)
        if group_ids is not None:  # batch-size weighted, like the loss: sum / count is the mean
            sums["fairness_penalty_sum"] = fairness * count
        return {name: sums[name] for name in self.sum_names}

    def _penalty(self):
        """This replica's share of the weight regularisers and of ``loss.l2`` (inside the tape)."""
        penalty = tf.constant(0.0)
        if self.model.losses:  # weight regularisers: each replica adds its share
            penalty += tf.add_n(self.model.losses) / self.strategy.num_replicas_in_sync
        if self.l2 and self._penalised:
            squares = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in self._penalised])
            penalty += self.l2 * squares / self.strategy.num_replicas_in_sync
        return penalty

    def _train_steps(self, iterator, num_steps):
        return self._run_steps(lambda i: next(iterator), num_steps)

    def _train_steps_resident(self, order, epoch, start, num_steps):
        return self._run_steps(lambda i: self.batch_at(order, epoch, start + i), num_steps)

    def _run_steps(self, next_batch: Callable, num_steps) -> dict:
        """``num_steps`` optimizer steps; returns ``{loss_sum, correct, count, first_bad_step}``
        (``first_bad_step``: index in this call of the first non-finite loss, or -1)."""
        self.trace_count += 1  # Python side effect: runs once per trace, not per call
        num_steps = tf.cast(num_steps, tf.int32)

        def one_step(i, state):
            sums, first_bad = state
            batch = next_batch(i)  # (x, y), what the pipeline's batch plan makes of them, or (x, y, group_ids)
            step = sum_over_replicas(self.strategy, self.strategy.run(self._step, args=tuple(batch)))
            if self.ema is not None:  # after the update (the variables order the two)
                self.ema.update(self.optimizer.iterations)
            bad = tf.logical_not(tf.math.is_finite(step["loss_sum"]))
            return add_sums(sums, step), tf.where(tf.logical_and(bad, first_bad < 0), i, first_bad)

        zero = ({name: tf.constant(0.0) for name in self.sum_names}, tf.constant(-1, tf.int32))
        sums, first_bad = fold_range(num_steps, one_step, zero)
        return {**sums, "first_bad_step": first_bad}

    def trackables(self) -> dict:
        """State of the method's own, and the fairness multiplier, that checkpoints keep."""
        own = self.fairness_multiplier.trackables() if self.fairness_multiplier is not None else {}
        return {**self.method.trackables(), **own}

    def train_metrics(self, sums: dict) -> dict:
        """Reported training metrics of named sums (a call's, or an epoch's running ones)."""
        if not self.method.trains_classifier:
            return {"loss": float(sums["loss_sum"]) / max(float(sums["count"]), 1.0)}
        return {**self.task.train_metrics(sums), **self.method.train_metrics(sums)}
