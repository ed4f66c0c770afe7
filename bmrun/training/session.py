"""Everything one training job holds: data, model, optimizer, compiled loop and reporting sinks.

:func:`build_session` wires the pieces together; :mod:`bmrun.training.run` drives it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import tensorflow as tf

from bmrun import console
from bmrun.artifacts.export import export_model
from bmrun.artifacts.run_files import History
from bmrun.artifacts.tensorboard import TensorBoardLogger, truncate_events
from bmrun.config.checks import resolved_loss
from bmrun.data import load_prepared
from bmrun.data.pipeline import DataPipeline
from bmrun.errors import RunDirError
from bmrun.insight.tensorboard_images import build_insight
from bmrun.models import build_model
from bmrun.training.checkpoint import Checkpointer, TrainingState
from bmrun.training.fit import EpochLoop, describe_best
from bmrun.training.losses import make_loss
from bmrun.training.loop import AdversarialTraining, CompiledLoop
from bmrun.training.optim import make_optimizer
from bmrun.training.signals import StopRequest

log = logging.getLogger("bmrun")


class Session:
    """The live objects of one job (see :func:`build_session`)."""

    def __init__(self, config, run_dir: Path, device, scratch_dir: Optional[Path]):
        self.config, self.run_dir, self.device = config, Path(run_dir), device
        writes = scratch_dir is None
        self.data = load_prepared(config.data, config.seed)
        self.task = self.data.task
        self.pipeline = DataPipeline(self.data, batch_size=config.data.batch_size,
                                     eval_batch_size=config.data.eval_batch_size, shuffle=config.data.shuffle,
                                     seed=config.seed, limit_train_batches=config.trainer.limit_train_batches,
                                     augment=config.augment)
        total_steps = self.pipeline.steps_per_epoch * config.trainer.max_epochs
        strategy = device.strategy
        with strategy.scope():
            self.model = self._build_model(config, announce=writes)
            self.trainable = self._trainable_variables()
            self.optimizer = make_optimizer(config.optimizer, total_steps=total_steps,
                                            steps_per_epoch=self.pipeline.steps_per_epoch,
                                            precision=config.device.precision)
            self.optimizer.build(self.trainable)
        self.num_params = int(sum(int(tf.size(v)) for v in self.model.trainable_variables))
        loss_fn = make_loss(resolved_loss(config), num_classes=self.task.num_classes,
                            label_smoothing=config.loss.label_smoothing, target_std=self.data.target_std)
        jit = config.device.xla and not (config.model.name == "rnn" and device.platform == "gpu")
        if config.device.xla and not jit:
            log.warning("XLA is off for RNNs on GPU: cuDNN's LSTM/GRU kernels do not run under XLA")
        trainer = config.trainer
        adversarial = None if trainer.adversarial == "none" else AdversarialTraining(
            trainer.adversarial, trainer.adv_epsilon, trainer.adv_steps, trainer.adv_step_size, trainer.adv_fraction)
        self.loop = CompiledLoop(self.model, loss_fn, self.optimizer, self.task, strategy,
                                 global_batch_size=config.data.batch_size, jit_compile=jit,
                                 trainable_variables=self.trainable, adversarial=adversarial,
                                 batch_at=self.pipeline.batch_at, l2=config.loss.l2)
        single_device = strategy.num_replicas_in_sync == 1 and config.device.name not in ("multi_gpu", "multi_worker")
        resident = config.data.feed == "resident" or (config.data.feed == "auto" and single_device)
        self.state = TrainingState()
        checkpoint_dir = (scratch_dir or self.run_dir) / "checkpoints"
        self.checkpointer = Checkpointer(checkpoint_dir, self.model, self.optimizer, self.state)
        self.tensorboard = TensorBoardLogger(self.run_dir / "tensorboard", enabled=config.logger.tensorboard and writes)
        self.history = History(self.run_dir) if writes else _NullHistory()
        self.progress = console.TrainingProgress(config.logger.progress_bar and writes, config.trainer.max_epochs)
        self.stop = StopRequest()
        self.insight = build_insight(config.logger, self.tensorboard, model=self.model, pipeline=self.pipeline,
                                     loss_fn=loss_fn, variables=self.trainable)
        self.epoch_loop = EpochLoop(loop=self.loop, pipeline=self.pipeline, strategy=strategy, state=self.state,
                                    checkpointer=self.checkpointer, trainer_cfg=config.trainer,
                                    progress=self.progress, tensorboard=self.tensorboard, history=self.history,
                                    stop=self.stop, learning_rate=self._current_lr,
                                    extra_epoch_logs=self.insight.on_epoch_end if self.insight else None,
                                    resident=resident)

    def _build_model(self, config, *, announce: bool):
        """The model, started from ``model.init_from``'s weights, with ``model.freeze`` applied.

        A resumed run skips init_from: its checkpoint holds the weights (and the source run may
        be gone). Freezing still applies, so the optimizer's variables match the checkpoint's.
        """
        model = build_model(config.model, self.data)
        if config.model.init_from or config.model.freeze != "none":
            from bmrun.models.transfer import freeze_backbone, init_from_run

            if config.model.init_from and not config.resume:
                report = init_from_run(model, config.model.init_from, config.data)
                if announce:
                    console.err.print(f"[dim]{report.summary()}[/]")
            if config.model.freeze == "backbone":
                if not config.model.init_from:
                    log.warning("model.freeze=backbone without model.init_from trains a head on random features")
                freeze_backbone(model)
        return model

    def _trainable_variables(self) -> list:
        """What the optimizer updates: a frozen backbone's layers are not trainable, so with
        ``model.freeze=backbone`` these are the head's kernel and bias only."""
        return list(self.model.trainable_variables)

    def _current_lr(self) -> float:
        return float(self.optimizer.learning_rate.numpy()) if hasattr(self.optimizer.learning_rate, "numpy") \
            else float(self.optimizer.learning_rate)

    def describe(self) -> str:
        d = self.data
        return (f"{self.config.model.name} ({self.num_params:,} params) on {self.config.data.name}: "
                f"{len(d.train)} train / {len(d.val)} val / {len(d.test)} test, {self.task.kind}; "
                f"{self.device.description}; run dir {self.run_dir}" + (f"; {d.notes}" if d.notes else ""))

    def restore_for_resume(self) -> None:
        """Load the latest checkpoint and cut history/TensorBoard back to its step."""
        if not self.checkpointer.restore_latest():
            raise RunDirError(f"{self.run_dir} has no checkpoint to resume from (checkpoints/ is empty); "
                              f"start a new run instead.")
        epoch, step = int(self.state.epoch.numpy()), int(self.state.global_step.numpy())
        if epoch >= self.config.trainer.max_epochs:
            raise RunDirError(f"{self.run_dir} already finished {epoch} epochs; to train further pass "
                              f"trainer.max_epochs=<more than {epoch}> with resume=.")
        self.history.truncate(epoch)
        truncate_events(self.run_dir / "tensorboard", step)
        console.err.print(f"[dim]resuming {self.run_dir} at epoch {epoch + 1}, step {step}[/]")

    def final_test(self) -> dict[str, Any]:
        """Test metrics of the best weights (``trainer.test_with=best``) or the last ones."""
        if self.config.trainer.test_with == "best":
            self.checkpointer.restore_best()
        metrics, _ = self.epoch_loop.evaluate("test")
        epsilon = self.config.trainer.adv_eval_epsilon
        if epsilon:  # robust accuracy: the same test set, each image pushed by FGSM
            correct, count = self.loop.evaluate_fgsm(self.epoch_loop.test_dataset(),
                                                     tf.constant(epsilon, tf.float32)).numpy()
            metrics.update(adv_accuracy=float(correct / max(count, 1.0)), adv_epsilon=epsilon)
        self.tensorboard.scalars("test", metrics, int(self.state.global_step.numpy()))
        if self.insight:
            self.insight.on_test_end(int(self.state.global_step.numpy()))
        return metrics

    def best_summary(self) -> dict[str, Any]:
        best = describe_best(self.state)
        return {"best_epoch": best["best_epoch"], "monitor": self.epoch_loop.monitor,
                "monitor_best": best["best_value"], "tested_weights": self.config.trainer.test_with}

    def partial_metrics(self) -> dict[str, Any]:
        rows = self.history.rows
        return {"epochs": int(self.state.epoch.numpy()), "global_step": int(self.state.global_step.numpy()),
                "history_rows": len(rows)}

    def export(self) -> dict[str, dict[str, Any]]:
        """Write ``model/`` (Keras file, SavedModel, the TFLite copies of ``logger.tflite``).

        Returns:
            metrics.json's ``export`` section: each artifact's ``bytes`` and, for TFLite
            files, their test accuracy (or mse), or the ``error`` that stopped them.
        """
        model_dir = self.run_dir / "model"
        result: dict[str, dict[str, Any]] = {name: {"bytes": size}
                                             for name, size in export_model(self.model, model_dir).items()}
        if self.config.logger.tflite:
            from bmrun.artifacts.tflite import export_tflite

            result.update(export_tflite(self.model, model_dir, self.config.logger.tflite, self.data.test.x,
                                        self.data.test.y, self.task))
        return result

    def log_hparams(self, metrics: dict) -> None:
        """TensorBoard HParams session of the finished run (``logger.hparams``, needs ``logger.tensorboard``)."""
        if not (self.config.logger.hparams and self.tensorboard.enabled):
            return
        from bmrun.sweep.hparams import log_run_hparams

        log_run_hparams(self.run_dir / "tensorboard", self.config, metrics)

    def close(self) -> None:
        self.tensorboard.close()


class _NullHistory:
    rows: list = []

    def append(self, row) -> None:
        pass

    def truncate(self, epochs_done: int) -> None:
        pass


def build_session(config, run_dir: Path, device, *, scratch_dir: Optional[Path] = None) -> Session:
    """Load data, build model/optimizer/loop under the device's strategy, open the sinks."""
    return Session(config, run_dir, device, scratch_dir)
