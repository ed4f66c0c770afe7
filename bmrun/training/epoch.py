"""The epoch loop: compiled calls within an epoch, then the end-of-epoch step.

:meth:`EpochLoop.train_epoch` runs the epoch's remaining steps as a few compiled calls
(:meth:`EpochLoop.run_call`: train ``n`` steps, read back their named sums, check for a
non-finite loss, report, honour checkpoint cadence and stop requests), then
:meth:`EpochLoop.end_epoch` validates, tracks the best model, writes history and a checkpoint.
"""

from __future__ import annotations

import contextlib

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import tensorflow as tf

from bmrun.config.schema import EarlyStoppingConfig
from bmrun.errors import DivergedError, TrainingInterrupted
from bmrun.fairness import constraint
from bmrun.objective import objective_direction


@dataclass
class Throughput:
    """Compile time and steady-state speed. The run's first call pays tracing and graph
    optimisation: it gives ``compile_s`` and is left out of every samples/s figure."""

    compile_s: float = 0.0
    first_call_steps: int = 0
    step_seconds: list = field(default_factory=list)  # per step, every call but the first
    epoch_samples_per_s: list = field(default_factory=list)

    def record_call(self, seconds: float, steps: int) -> bool:
        """Record one call; False for the run's first (compile) call."""
        if not self.first_call_steps:
            self.compile_s, self.first_call_steps = seconds, steps
            return False
        self.step_seconds.append(seconds / steps)
        return True

    def net_compile_s(self) -> float:
        """Compile time less the first call's own share of steady work."""
        if not self.step_seconds:
            return self.compile_s
        return max(self.compile_s - statistics.median(self.step_seconds) * self.first_call_steps, 0.0)


@dataclass
class EpochResult:
    train: dict
    val: dict
    improved: bool
    samples_per_s: Optional[float]


class EpochLoop:
    """Drives the compiled steps of a :class:`~bmrun.training.job.Job` over epochs.

    Args:
        job: The live objects of the run (data pipeline, steps, state, checkpointer).
        reporter: Where progress goes (progress bar, TensorBoard, history, pictures).
        stop: Polled Ctrl-C/SIGTERM flag.
    """

    def __init__(self, job, reporter, stop):
        self.job, self.reporter, self.stop = job, reporter, stop
        trainer = job.config.trainer
        self.trainer = trainer
        self.task = job.task
        # auto: one call per logging interval, so the host syncs only when it has something to
        # log. Fusing steps speeds small models most, and 200 gain nothing over 50 (BENCHMARKS.md,
        # "Where the time goes, and what was tried").
        self.steps_per_call = trainer.steps_per_call or trainer.log_every_n_steps
        self.has_val = len(job.data.val) > 0
        monitor = trainer.early_stopping.monitor
        kind_monitor = getattr(job.steps.task, "default_monitor", None) if job.trains_classifier else None
        if monitor == EarlyStoppingConfig.monitor and kind_monitor:
            monitor = kind_monitor  # left at its default: the task kind's own (segmentation: IoU)
        if not self.has_val and monitor.startswith("val/"):
            monitor = "train/" + monitor.split("/", 1)[1]
        self.monitor = monitor
        mode = trainer.early_stopping.mode
        self.mode = objective_direction(monitor) if mode == "auto" else mode
        self.throughput = Throughput()
        self.fairness: dict = {}  # split -> {sensitive column: report} of its latest evaluation
        # fairness.max_gap: the bound the multiplier of steps.fairness_multiplier is steered by
        bound = job.config.fairness.max_gap
        self.bound = bound if bound is not None and job.steps.fairness_multiplier is not None and self.has_val else None

    # ------------------------------------------------------------------ one epoch
    def train_epoch(self, epoch: int) -> EpochResult:
        """Train the rest of ``epoch`` (all of it, or what a resumed checkpoint left) and end it."""
        state, steps_per_epoch = self.job.state, self.job.pipeline.steps_per_epoch
        done = int(state.step_in_epoch.numpy())
        source = self._batch_source(epoch, done)
        sums = state.read_epoch_sums() if done else self._zero_sums()
        self.reporter.start_epoch(epoch, steps_per_epoch, done)
        timed = {"seconds": 0.0, "samples": 0.0}
        epoch_start = time.perf_counter()
        while done < steps_per_epoch:
            n = self._call_size(steps_per_epoch - done, int(state.global_step.numpy()))
            out, seconds = self.run_call(source, done, n)
            if self.throughput.record_call(seconds, n):
                timed["seconds"] += seconds
                timed["samples"] += out["count"]
            sums = {k: sums[k] + out[k] for k in sums}
            done += n
            state.write_epoch_sums(sums)
            state.step_in_epoch.assign(done)
            self._after_call(out, n, seconds, mid_epoch=done < steps_per_epoch)
        rate = timed["samples"] / timed["seconds"] if timed["seconds"] > 0 else None
        if rate is not None:
            self.throughput.epoch_samples_per_s.append(float(rate))
        return self.end_epoch(epoch, self.job.steps.train_metrics(sums), rate, epoch_start)

    def solved_epoch(self, epoch: int) -> EpochResult:
        """The one epoch of a model solved when built (``job.solved``): no step, its training-split
        metrics, then the usual end (validation, best weights, history, checkpoint)."""
        start = time.perf_counter()
        train = self.job.evaluator.evaluate("train").metrics
        return self.end_epoch(epoch, train, None, start)

    def run_call(self, source: Callable, done: int, n: int) -> tuple[dict, float]:
        """Train ``n`` steps from batch ``done`` of the epoch; the call's named sums and seconds.

        Raises:
            DivergedError: A step's loss was NaN or infinite.
        """
        start = time.perf_counter()
        out = {k: v.numpy() for k, v in source(done, n).items()}
        seconds = time.perf_counter() - start
        first_bad = int(out.pop("first_bad_step"))
        if first_bad >= 0:
            step = int(self.job.state.global_step.numpy()) + first_bad + 1
            raise DivergedError(step, self.job.checkpointer.latest)
        self.job.state.global_step.assign_add(n)
        return {k: float(v) for k, v in out.items()}, seconds

    def _after_call(self, out: dict, n: int, seconds: float, *, mid_epoch: bool) -> None:
        step = int(self.job.state.global_step.numpy())
        rate = out["count"] / seconds if seconds > 0 else 0.0
        self.reporter.on_call(step, n, self.job.steps.train_metrics(out), self.job.learning_rate(), rate)
        every = self.trainer.checkpoint_every_n_steps
        if every and step % every == 0 and mid_epoch:
            self.job.checkpointer.save(step)
        if self.stop.requested:
            self._interrupt(step)

    def end_epoch(self, epoch: int, train: dict, samples_per_s: Optional[float], epoch_start: float) -> EpochResult:
        """Validate, keep the best weights, record the epoch, checkpoint; honour a stop request."""
        state = self.job.state
        step = int(state.global_step.numpy())
        # optimizer.ema_decay: the average is what is validated, kept as best and drawn; the
        # checkpoint holds the raw weights (and the average) again.
        with self.job.average.swapped_in() if self.job.average else contextlib.nullcontext():
            val = self.evaluate("val") if self.has_val else {}
            gap = constraint.gap_of(self.fairness.get("val", {}), self.job.config.loss.fairness_group)
            if self.bound is not None:
                train = {**train, "fairness_multiplier": float(self.job.steps.fairness_multiplier.value.numpy())}
            improved = self._track_best(epoch, train, val, gap)
            if self.bound is not None:
                self._step_multiplier(epoch, gap)
            state.epoch.assign(epoch + 1)
            state.step_in_epoch.assign(0)
            state.write_epoch_sums(self._zero_sums())
            self.reporter.on_epoch(epoch, step, train, val, learning_rate=self.job.learning_rate(),
                                   samples_per_s=samples_per_s, seconds=time.perf_counter() - epoch_start,
                                   improved=improved)
        if self._checkpoint_due(epoch):
            self.job.checkpointer.save(step)
        self.reporter.flush()
        if self.stop.requested:
            self._interrupt(step)
        return EpochResult(train, val, improved, samples_per_s)

    def _checkpoint_due(self, epoch: int) -> bool:
        """Every ``trainer.checkpoint_every_n_epochs`` epochs, and always at the run's last epoch
        (the budget's, or early stopping's) so a finished run can be resumed further. Runs of many
        tiny epochs (600 labels: 10 steps) would otherwise spend a sixth of their time writing."""
        every = self.trainer.checkpoint_every_n_epochs
        return (epoch + 1) % every == 0 or epoch + 1 >= self.trainer.max_epochs or self.should_stop_early()

    def should_stop_early(self) -> bool:
        early = self.trainer.early_stopping
        return bool(early.enabled and int(self.job.state.epochs_without_improvement.numpy()) >= max(early.patience, 1))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, split: str) -> dict[str, Any]:
        """Metrics of the current weights on ``val`` (each epoch); the final test is the evaluator's."""
        evaluation = self.job.evaluator.evaluate(split)
        if evaluation.fairness:
            self.fairness[split] = evaluation.fairness
        return evaluation.metrics

    # ------------------------------------------------------------------ helpers
    def _zero_sums(self) -> dict:
        return dict.fromkeys(self.job.steps.sum_names, 0.0)

    def _batch_source(self, epoch: int, skip: int) -> Callable:
        """``source(done, n)``: train the epoch's next ``n`` steps, from batch ``done`` on."""
        steps, pipeline = self.job.steps, self.job.pipeline
        if self.job.resident:
            order, epoch_t = pipeline.order_tensor(epoch), tf.constant(epoch, tf.int64)
            return lambda done, n: steps.train_steps_resident(order, epoch_t, tf.constant(done, tf.int32),
                                                              tf.constant(n, tf.int32))
        iterator = iter(self.job.distribute(pipeline.train_dataset(epoch, skip)))
        return lambda done, n: steps.train_steps(iterator, tf.constant(n, tf.int32))

    def _call_size(self, remaining: int, global_step: int) -> int:
        n = min(self.steps_per_call, remaining)
        every = self.trainer.checkpoint_every_n_steps
        if every:  # end calls on checkpoint steps so resumed runs restart exactly there
            n = min(n, every - global_step % every)
        return max(n, 1)

    def _interrupt(self, step: int) -> None:
        self.job.checkpointer.save(step)
        raise TrainingInterrupted(self.stop.signum, f"stopped at step {step}; checkpoint saved")

    # ------------------------------------------------------------------ fairness.max_gap
    def _step_multiplier(self, epoch: int, gap: Optional[float]) -> None:
        """Record the epoch's λ and validation gap, then move λ for the next epoch (see
        :mod:`bmrun.fairness.constraint`). Both live in the checkpoint: a resume continues exactly."""
        multiplier = self.job.steps.fairness_multiplier
        used = float(multiplier.value.numpy())
        path = json.loads(multiplier.path.numpy().decode()) + [{"epoch": epoch + 1, "multiplier": used, "val_gap": gap}]
        multiplier.path.assign(json.dumps(path))
        if gap is not None:  # no measured gap (one group in val): λ stays
            rate = self.job.config.fairness.multiplier_rate
            multiplier.value.assign(constraint.next_multiplier(used, gap, self.bound, rate))

    def record(self, tested_epoch: int) -> dict[str, Any]:
        """metrics.json's ``fairness_constraint`` under ``fairness.max_gap`` (else nothing): the
        bound, the gaps of the tested weights on val and test, and λ's path by epoch."""
        if self.bound is None:
            return {}
        column = self.job.config.loss.fairness_group
        path = json.loads(self.job.steps.fairness_multiplier.path.numpy().decode())
        val_gap = next((entry["val_gap"] for entry in path if entry["epoch"] == tested_epoch), None)
        test_gap = constraint.gap_of(self.fairness.get("test", {}), column)
        return {"fairness_constraint": {
            "group": column, "metric": constraint.GAP, "max_gap": self.bound, "val_gap": val_gap, "test_gap": test_gap,
            "met_on_val": constraint.meets(val_gap, self.bound), "met_on_test": constraint.meets(test_gap, self.bound),
            "multiplier_path": path}}

    def _track_best(self, epoch: int, train: dict, val: dict, gap: Optional[float] = None) -> bool:
        split, name = self.monitor.split("/", 1)
        value = (val if split == "val" else train).get(name)
        if value is None or not math.isfinite(value):
            return False
        state = self.job.state
        best = float(state.best_value.numpy())
        delta = self.trainer.early_stopping.min_delta
        better = math.isnan(best) or (value < best - delta if self.mode == "min" else value > best + delta)
        if self.bound is not None:  # an epoch meeting the bound beats one that misses it
            feasible = constraint.meets(gap, self.bound)
            best_feasible = self.job.steps.fairness_multiplier.best_feasible
            better = constraint.improves(feasible=feasible, best_feasible=bool(best_feasible.numpy()), better=better,
                                         first=math.isnan(best))
            if better:
                best_feasible.assign(feasible)
        if better:
            state.best_value.assign(value)
            state.best_epoch.assign(epoch + 1)
            state.epochs_without_improvement.assign(0)
            self.job.checkpointer.save_best()
        else:
            state.epochs_without_improvement.assign_add(1)
        return better
