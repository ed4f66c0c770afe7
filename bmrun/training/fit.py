"""The epoch loop around :class:`~bmrun.training.loop.CompiledLoop`.

Per compiled call it reads back a few sums (loss, accuracy, a non-finite-loss marker), updates
the progress bar and TensorBoard, and honours checkpoint cadence and stop requests. Per epoch
it validates, tracks the best model, applies early stopping and checkpoints.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from bmrun.errors import DivergedError, TrainingInterrupted
from bmrun.objective import objective_direction
from bmrun.training.metrics import eval_metrics, train_metrics


@dataclass
class FitResult:
    """What the epoch loop measured."""

    epochs: int = 0
    train: dict = field(default_factory=dict)
    val: dict = field(default_factory=dict)
    epoch_samples_per_s: list = field(default_factory=list)
    compile_s: float = 0.0
    stopped_early: bool = False


class EpochLoop:
    """Drives training over epochs. Built by :func:`bmrun.training.run.train`.

    Args:
        loop: The compiled steps.
        pipeline: Data pipeline (per-epoch order, eval datasets).
        strategy: Distribution strategy (distributes the datasets).
        state: Loop position and early-stopping record (checkpointed).
        checkpointer: Saves checkpoints and the best weights.
        trainer_cfg: Validated ``trainer`` config group.
        progress, tensorboard, history: Reporting sinks.
        stop: Polled Ctrl-C/SIGTERM flag.
        learning_rate: Callable giving the current learning rate (for logging).
    """

    def __init__(self, *, loop, pipeline, strategy, state, checkpointer, trainer_cfg, progress, tensorboard,
                 history, stop, learning_rate, extra_epoch_logs=None, resident: bool = False):
        self.loop, self.pipeline, self.strategy, self.state = loop, pipeline, strategy, state
        self.checkpointer, self.cfg, self.progress = checkpointer, trainer_cfg, progress
        self.tensorboard, self.history, self.stop = tensorboard, history, stop
        self.learning_rate = learning_rate
        self.extra_epoch_logs = extra_epoch_logs
        self.resident = resident  # batches gathered in-graph (single device) instead of tf.data
        self.task = pipeline.data.task
        # auto: one call per logging interval, so the host syncs only when it has something to
        # log. Measured (BENCHMARKS.md): 50 fused steps run softmax regression 2.7x and the CNN
        # 1.3x faster than one step per call; 200 steps gain nothing more.
        self.steps_per_call = trainer_cfg.steps_per_call or trainer_cfg.log_every_n_steps
        self.has_val = len(pipeline.data.val) > 0
        monitor = trainer_cfg.early_stopping.monitor
        if not self.has_val and monitor.startswith("val/"):
            monitor = "train/" + monitor.split("/", 1)[1]
        self.monitor = monitor
        mode = trainer_cfg.early_stopping.mode
        self.mode = objective_direction(monitor) if mode == "auto" else mode
        self._val_dataset = self._distribute(pipeline.eval_dataset("val")) if self.has_val and not resident else None

    def _distribute(self, dataset):
        if self.strategy.num_replicas_in_sync == 1 and not isinstance(
                self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return dataset
        return self.strategy.experimental_distribute_dataset(dataset)

    def test_dataset(self):
        """The test split, distributed like every evaluation dataset."""
        return self._distribute(self.pipeline.eval_dataset("test"))

    def evaluate(self, split: str) -> tuple[dict, np.ndarray]:
        """Metrics (and raw sums) of the current weights on ``val`` or ``test``."""
        if self.resident:
            x, y = self.pipeline.eval_tensors(split)
            sums = self.loop.evaluate_tensors(x, y, self.pipeline.eval_batch_size).numpy()
        else:
            dataset = self._val_dataset if split == "val" else self._distribute(self.pipeline.eval_dataset(split))
            sums = self.loop.evaluate(dataset).numpy()
        return eval_metrics(sums, self.task), sums

    def run(self, max_epochs: int) -> FitResult:
        result = FitResult()
        state, steps_per_epoch = self.state, self.pipeline.steps_per_epoch
        first_call, first_steps = True, 0
        step_times: list[float] = []
        for epoch in range(int(state.epoch.numpy()), max_epochs):
            skip = int(state.step_in_epoch.numpy())
            next_steps = self._batch_source(epoch, skip)
            self.progress.start_epoch(epoch, steps_per_epoch, skip)
            sums = state.epoch_sums.numpy() if skip else np.zeros(3)
            train_seconds, timed_samples, epoch_start = 0.0, 0.0, time.perf_counter()
            done = skip
            while done < steps_per_epoch:
                n = self._call_size(steps_per_epoch - done, int(state.global_step.numpy()))
                start = time.perf_counter()
                out = next_steps(done, n).numpy()
                seconds = time.perf_counter() - start
                if first_call:
                    result.compile_s, first_call, first_steps = seconds, False, n
                else:
                    train_seconds += seconds
                    timed_samples += out[2]
                    step_times.append(seconds / n)
                self._check_finite(out, n)
                sums += out[:3]
                state.epoch_sums.assign(sums)
                done += n
                state.global_step.assign_add(n)
                state.step_in_epoch.assign(done)
                window = train_metrics(out[0], out[1], out[2], self.task)
                rate = out[2] / seconds if seconds > 0 else 0.0
                self.progress.advance(n, window["loss"], rate)
                step = int(state.global_step.numpy())
                self.tensorboard.scalars("train", {**window, "learning_rate": self.learning_rate(),
                                                   "samples_per_s": rate}, step)
                every = self.cfg.checkpoint_every_n_steps
                if every and step % every == 0 and done < steps_per_epoch:
                    self.checkpointer.save(step)
                if self.stop.requested:
                    self._interrupt(step)
            result.train = train_metrics(sums[0], sums[1], sums[2], self.task)
            if train_seconds > 0:  # every call but the run's first, which carries compile time
                result.epoch_samples_per_s.append(float(timed_samples / train_seconds))
            val = self.evaluate("val")[0] if self.has_val else {}
            result.val, result.epochs = val, epoch + 1
            step = int(state.global_step.numpy())
            self.tensorboard.scalars("val", val, step)
            improved = self._track_best(epoch, result.train, val)
            state.epoch.assign(epoch + 1)
            state.step_in_epoch.assign(0)
            state.epoch_sums.assign(np.zeros(3))
            epoch_seconds = time.perf_counter() - epoch_start
            self.history.append({"epoch": epoch + 1, "step": step,
                                 **{f"train_{k}": v for k, v in result.train.items()},
                                 **{f"val_{k}": v for k, v in val.items()},
                                 "learning_rate": self.learning_rate(), "epoch_s": epoch_seconds,
                                 "samples_per_s": result.epoch_samples_per_s[-1] if result.epoch_samples_per_s else ""})
            if self.extra_epoch_logs:
                self.extra_epoch_logs(epoch, step)
            self.checkpointer.save(step)
            note = "  *best" if improved else ""
            self.progress.epoch_line(epoch, result.train, val,
                                     result.epoch_samples_per_s[-1] if result.epoch_samples_per_s else 0.0,
                                     epoch_seconds, note)
            self.tensorboard.flush()
            if self.stop.requested:
                self._interrupt(step)
            if self._should_stop_early():
                result.stopped_early = True
                break
        if step_times and result.compile_s:
            # The first call paid tracing and graph optimisation; subtract its share of work.
            steady = statistics.median(step_times)
            result.compile_s = max(result.compile_s - steady * first_steps, 0.0)
        return result

    def _batch_source(self, epoch: int, skip: int):
        """``run(done, n)``: train the epoch's next ``n`` steps, from batch ``done`` on."""
        if self.resident:
            order, epoch_t = self.pipeline.order_tensor(epoch), tf.constant(epoch, tf.int64)
            return lambda done, n: self.loop.train_steps_resident(order, epoch_t, tf.constant(done, tf.int32),
                                                                  tf.constant(n, tf.int32))
        iterator = iter(self._distribute(self.pipeline.train_dataset(epoch, skip)))
        return lambda done, n: self.loop.train_steps(iterator, tf.constant(n, tf.int32))

    def _call_size(self, remaining: int, global_step: int) -> int:
        n = min(self.steps_per_call, remaining)
        every = self.cfg.checkpoint_every_n_steps
        if every:  # end calls on checkpoint steps so resumed runs restart exactly there
            n = min(n, every - global_step % every)
        return max(n, 1)

    def _check_finite(self, out: np.ndarray, n: int) -> None:
        first_bad = int(out[3])
        if first_bad >= 0:
            step = int(self.state.global_step.numpy()) + first_bad + 1
            raise DivergedError(step, self.checkpointer.latest)

    def _interrupt(self, step: int) -> None:
        self.checkpointer.save(step)
        raise TrainingInterrupted(self.stop.signum, f"stopped at step {step}; checkpoint saved")

    def _monitored(self, train: dict, val: dict) -> Optional[float]:
        split, name = self.monitor.split("/", 1)
        value = (val if split == "val" else train).get(name)
        return None if value is None or not math.isfinite(value) else float(value)

    def _track_best(self, epoch: int, train: dict, val: dict) -> bool:
        value = self._monitored(train, val)
        if value is None:
            return False
        best = float(self.state.best_value.numpy())
        delta = self.cfg.early_stopping.min_delta
        better = math.isnan(best) or (value < best - delta if self.mode == "min" else value > best + delta)
        if better:
            self.state.best_value.assign(value)
            self.state.best_epoch.assign(epoch + 1)
            self.state.epochs_without_improvement.assign(0)
            self.checkpointer.save_best()
        else:
            self.state.epochs_without_improvement.assign_add(1)
        return better

    def _should_stop_early(self) -> bool:
        early = self.cfg.early_stopping
        return bool(early.enabled and int(self.state.epochs_without_improvement.numpy()) >= max(early.patience, 1))


def describe_best(state) -> dict[str, Any]:
    best_epoch = int(state.best_epoch.numpy())
    return {"best_epoch": best_epoch if best_epoch > 0 else None,
            "best_value": float(state.best_value.numpy()) if best_epoch > 0 else None}
