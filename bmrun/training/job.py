"""Everything one training job holds: data, model, optimizer, compiled steps, loop state.

:func:`build_job` creates them in order under the device's distribution strategy;
:func:`bmrun.training.train.train` drives them. ``bmrun-eval`` builds the same data, loss and
evaluator with :func:`build_evaluation` so its metrics are the training loop's own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

import tensorflow as tf

from bmrun import console
from bmrun.config.checks import resolved_loss
from bmrun.data import load_prepared
from bmrun.data.catalog import BINARY
from bmrun.specs import SEGMENTATION
from bmrun.data.pipeline import DataPipeline
from bmrun.methods import METHODS, method_name
from bmrun.models import build_model
from bmrun.run_dir import CHECKPOINTS
from bmrun.tasks import task_for
from bmrun.training.checkpoint import Checkpointer, TrainingState
from bmrun.training.evaluator import Evaluator
from bmrun.training.ema import WeightAverage
from bmrun.training.losses import class_weighted, make_dense_loss, make_loss
from bmrun.training.optim import make_optimizer
from bmrun.training.steps import AdversarialTraining, CompiledSteps
from bmrun.fairness.groups import group_ids, group_names
from bmrun.models.transfer import freeze_backbone, init_from_run

log = logging.getLogger("bmrun")


@dataclass
class Job:
    """The live objects of one training job (see :func:`build_job`)."""

    config: Any
    run_dir: Path
    device: Any  # bmrun.runtime.device.DeviceSetup
    data: Any  # bmrun.data.arrays.PreparedData
    pipeline: DataPipeline
    model: Any
    optimizer: Any
    loss_fn: Callable
    steps: CompiledSteps
    state: TrainingState
    checkpointer: Checkpointer
    resident: bool  # batches gathered in-graph from resident arrays (one device) instead of tf.data
    evaluator: Evaluator
    class_weight: Optional[dict] = None  # data.class_weight=balanced: {class name: weight}
    # What the steps train and the checkpoints hold: the model itself, or (pretrain=) the pretext
    # model built on its backbone. ``model`` is always the classifier that model/ exports.
    trained_model: Any = None
    method: Any = None  # the learning method (bmrun.methods.base.Method)
    average: Any = None  # optimizer.ema_decay: the weights' moving average (WeightAverage), or None
    solved: bool = False  # the model was solved exactly when built: the run takes no gradient step

    def __post_init__(self) -> None:
        if self.trained_model is None:
            self.trained_model = self.model

    @property
    def task(self):
        return self.data.task

    @property
    def num_params(self) -> int:
        return int(sum(int(tf.size(v)) for v in self.trained_model.trainable_variables))

    @property
    def trains_classifier(self) -> bool:
        """False for a pretrain run: no accuracy, no per-example metrics, the pretext loss instead."""
        return self.method.trains_classifier

    def record(self) -> dict:
        """metrics.json fields that say what the run learnt from: label counts, the pretext task."""
        return self.method.record(self.data, self.config)

    def learning_rate(self) -> float:
        rate = self.optimizer.learning_rate
        return float(rate.numpy()) if hasattr(rate, "numpy") else float(rate)

    def distribute(self, dataset):
        """``dataset`` split across replicas when there are several (else unchanged)."""
        return distributor(self.device.strategy)(dataset)

    def describe(self) -> str:
        d = self.data
        return (f"{self.config.model.name} ({self.num_params:,} params) on {self.config.data.name}: "
                f"{len(d.train)} train / {len(d.val)} val / {len(d.test)} test, {self.task.kind}; "
                f"{self.device.description}; run dir {self.run_dir}" + (f"; {d.notes}" if d.notes else ""))


def distributor(strategy) -> Callable:
    """Splits a tf.data dataset across the strategy's replicas (the identity on one device)."""
    if strategy.num_replicas_in_sync == 1 and not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return lambda dataset: dataset
    return strategy.experimental_distribute_dataset


def make_pipeline(config, data, *, shuffle: bool, batch_plan=None, train_groups=None) -> DataPipeline:
    return DataPipeline(data, batch_size=config.data.batch_size, eval_batch_size=config.data.eval_batch_size,
                        shuffle=shuffle, seed=config.seed, limit_train_batches=config.trainer.limit_train_batches,
                        augment=config.augment, batch_plan=batch_plan, train_groups=train_groups)


def penalty_groups(config, data) -> tuple[Optional[np.ndarray], int]:
    """The training examples' group ids of ``loss.fairness_group`` and the number of groups, or
    ``(None, 0)`` when the run has no demographic-parity penalty (binary tasks only: config
    validation refuses a penalty on other tasks)."""
    column = config.loss.fairness_group
    if column is None or data.task.kind != BINARY or not data.train.groups:
        return None, 0

    names = group_names(data.train.groups[column])
    return group_ids(data.train.groups[column], names), len(names)


def make_loss_fn(config, data) -> Callable:
    if data.task.kind == SEGMENTATION:  # per-pixel losses weigh each pixel by its class
        return make_dense_loss(resolved_loss(config), num_classes=data.task.num_classes,
                               class_weights=balanced_weights(config, data),
                               label_smoothing=config.loss.label_smoothing)
    loss = make_loss(resolved_loss(config), num_classes=data.task.num_classes,
                     label_smoothing=config.loss.label_smoothing, target_std=data.target_std)
    weights = balanced_weights(config, data)
    return loss if weights is None else class_weighted(loss, weights)


def balanced_weights(config, data) -> Optional[np.ndarray]:
    """``data.class_weight=balanced``: ``n / (classes * n_class)`` from the training split, else None.

    A class absent from the training split gets weight 0 (there is nothing to weigh).
    """
    if getattr(config.data, "class_weight", "none") != "balanced" or data.task.num_classes is None:
        return None
    y, counts = np.asarray(data.train.y), np.zeros(data.task.num_classes, np.float64)
    for start in range(0, len(y), 256):  # masks: pixels counted in chunks, never one int64 copy of them all
        counts += np.bincount(y[start:start + 256].reshape(-1).astype(np.int64), minlength=data.task.num_classes)
    weights = np.divide(y.size, data.task.num_classes * counts, out=np.zeros_like(counts), where=counts > 0)
    return weights.astype(np.float32)


def class_weight_record(config, data) -> Optional[dict]:
    """metrics.json's ``class_weight``: ``{class name: weight}``."""
    weights = balanced_weights(config, data)
    if weights is None:
        return None
    names = data.task.class_names or [str(i) for i in range(len(weights))]
    return {str(name): round(float(w), 6) for name, w in zip(names, weights)}


def build_job(config, run_dir: Path, device, *, checkpoint_root: Path, announce: bool) -> Job:
    """Load data, build model/optimizer/steps under the device's strategy, open the checkpoints.

    Args:
        config: The validated run config.
        run_dir: The run dir.
        device: The process's :class:`~bmrun.runtime.device.DeviceSetup`.
        checkpoint_root: Folder that holds ``checkpoints/`` (the run dir, or a worker's scratch dir).
        announce: Print what ``model.init_from`` copied (the writing process only).
    """
    data = load_prepared(config.data, config.seed, all_labels=config.pretrain.enabled)  # pretraining: every image
    method = METHODS[method_name(config)].load().from_config(config, data)
    train_groups, num_groups = penalty_groups(config, data)
    pipeline = make_pipeline(config, data, shuffle=config.data.shuffle, batch_plan=method.batch_plan(),
                             train_groups=train_groups)
    steps_per_epoch = pipeline.steps_per_epoch
    strategy = device.strategy
    with strategy.scope():
        model = _build_model(config, data, announce=announce)
        trained = method.training_model(model)
        # A frozen backbone's layers are not trainable: with model.freeze=backbone the optimizer
        # holds (and the steps update) the head's kernel and bias only.
        trainable = list(trained.trainable_variables)
        optimizer = make_optimizer(config.optimizer, total_steps=steps_per_epoch * config.trainer.max_epochs,
                                   steps_per_epoch=steps_per_epoch, precision=device.precision)
        optimizer.build(trainable)
        average = WeightAverage(trained, config.optimizer.ema_decay) if config.optimizer.ema_decay else None
    loss_fn = make_loss_fn(config, data)
    jit = config.device.xla and not (config.model.name == "rnn" and device.platform == "gpu")
    if config.device.xla and not jit:
        log.warning("XLA is off for RNNs on GPU: cuDNN's LSTM/GRU kernels do not run under XLA")
    trainer = config.trainer
    adversarial = None if trainer.adversarial == "none" else AdversarialTraining(
        trainer.adversarial, trainer.adv_epsilon, trainer.adv_steps, trainer.adv_step_size, trainer.adv_fraction)
    task = task_for(data.task)
    steps = CompiledSteps(trained, loss_fn, optimizer, task, strategy, method=method,
                          global_batch_size=config.data.batch_size, jit_compile=jit, trainable_variables=trainable,
                          adversarial=adversarial, batch_at=pipeline.batch_at, l2=config.loss.l2,
                          fairness_penalty=config.loss.fairness_penalty, fairness_groups=num_groups, ema=average)
    single_device = strategy.num_replicas_in_sync == 1 and config.device.name not in ("multi_gpu", "multi_worker")
    resident = config.data.feed == "resident" or (config.data.feed == "auto" and single_device)
    resident = resident and not pipeline.streaming  # streamed image files come through tf.data
    evaluator = make_evaluator(config, trained, loss_fn, task, data, pipeline, strategy, method=method,
                               resident=resident)
    state = TrainingState(steps.sum_names)
    checkpointer = Checkpointer(Path(checkpoint_root) / CHECKPOINTS, trained, optimizer, state,
                                keep=config.trainer.keep_checkpoints,
                                extra={**steps.trackables(), **(average.trackables() if average else {})})
    return Job(config, Path(run_dir), device, data, pipeline, model, optimizer, loss_fn, steps, state, checkpointer,
               resident, evaluator, class_weight_record(config, data), trained_model=trained, method=method,
               average=average, solved=_solved(config, model))


def _solved(config, model) -> bool:
    """Whether the model's exact solution (``model.solved``, a linear model on a table) is the run's
    model: only when the run's objective is the plain loss the solve minimised. Any further term
    (label smoothing, ``loss.l2``, fairness, class weights, adversarial or semi-supervised training)
    or a start from another run's weights makes the solution a start, trained on as usual."""
    loss, trainer = config.loss, config.trainer
    extra_terms = (loss.label_smoothing or loss.l2 or loss.fairness_penalty or config.fairness.max_gap is not None
                   or getattr(config.data, "class_weight", "none") != "none" or trainer.adversarial != "none"
                   or trainer.semi_supervised != "none" or config.pretrain.enabled or config.model.init_from)
    plain_loss = loss.name in ("auto", "cross_entropy", "binary_cross_entropy", "mse")
    return bool(getattr(model, "solved", False)) and plain_loss and not extra_terms


def _build_model(config, data, *, announce: bool):
    """The model, started from ``model.init_from``'s weights, with ``model.freeze`` applied.

    A resumed run skips init_from: its checkpoint holds the weights (and the source run may
    be gone). Freezing still applies, so the optimizer's variables match the checkpoint's.
    """
    model = build_model(config.model, data)
    if config.model.init_from or config.model.freeze != "none":
        if config.model.init_from and not config.resume:
            report = init_from_run(model, config.model.init_from, config.data)
            if announce:
                console.err.print(f"[dim]{report.summary()}[/]")
        if config.model.freeze == "backbone":
            if not config.model.init_from:
                log.warning("model.freeze=backbone without model.init_from trains a head on random features")
            freeze_backbone(model)
    return model


def make_evaluator(config, model, loss_fn, task, data, pipeline, strategy, *, method=None,
                   resident: bool = True) -> Evaluator:
    """The run's one :class:`~bmrun.training.evaluator.Evaluator` (training and ``bmrun-eval`` alike)."""
    return Evaluator(model, loss_fn, task, data, pipeline, strategy, method=method,
                     tta_flip=config.augment.tta == "flip", resident=resident, distribute=distributor(strategy),
                     adv_eval_epsilon=config.trainer.adv_eval_epsilon, ranking_k=getattr(config.data, "ranking_k", None),
                     beam_size=config.test.beam_size)


def build_evaluation(config, model) -> Evaluator:
    """The evaluator of a trained ``model`` on ``config``'s data, as its training run evaluated."""
    data = load_prepared(config.data, config.seed)
    pipeline = make_pipeline(config, data, shuffle=False)
    return make_evaluator(config, model, make_loss_fn(config, data), task_for(data.task), data, pipeline,
                          tf.distribute.get_strategy())
