"""``train(config, run_dir) -> metrics``: one training job, from validated config to artifacts.

Reads top to bottom: set up the device, build the job, restore a checkpoint when resuming,
train epoch after epoch, test, export, record.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bmrun import console
from bmrun.config.checks import resolved_loss
from bmrun.config.schema import TrainConfig
from bmrun.errors import ArtifactWriteError, DivergedError, RunAlreadyFinished, RunDirError, TrainingInterrupted
from bmrun.objective import objective_key
from bmrun.provenance import environment
from bmrun.run_dir import MODEL, TENSORBOARD, lookup, read_metrics, record_failure, write_metrics
from bmrun.run_lock import RunLock
from bmrun.runtime.clock import Phases
from bmrun.runtime.device import setup_device
from bmrun.training.signals import StopRequest
from bmrun.artifacts.export import export_model

if TYPE_CHECKING:
    from bmrun.training.epoch import EpochLoop
    from bmrun.training.job import Job
    from bmrun.training.reporter import Reporter


def train(config: TrainConfig, run_dir: Path, *, overrides: tuple[str, ...] = (),
          resume_changes: dict | None = None) -> dict[str, Any]:
    """Train one model as ``config`` says and write every artifact into ``run_dir``.

    Args:
        config: Validated config (see :func:`bmrun.config.validate`).
        run_dir: The run directory (Hydra's output dir, or the dir being resumed).
        overrides: The command-line overrides, recorded in metrics.json and TensorBoard HParams.
        resume_changes: Values a resume changed (``{key: [old, new]}``), recorded in metrics.json.

    Returns:
        The content of ``metrics.json``: status, train/val/test metrics, epochs, timings.

    Raises:
        BmrunError: Bad data, divergence (status ``diverged``) or a stop signal (``interrupted``);
            metrics.json records the outcome before the error propagates.
    """
    watch = console.Stopwatch()
    phases = Phases()
    run_dir = Path(run_dir)
    device = setup_device(config.device, seed=config.seed, deterministic=config.trainer.deterministic,
                          verbose=config.verbose)
    phases.lap("device")
    if not device.is_chief:  # non-chief workers of a multi-worker run write nothing in the run dir
        return _train(config, run_dir, device, overrides, watch, phases, resume_changes)
    with RunLock(run_dir):  # one live process per run dir: a second resume= is refused
        try:
            return _train(config, run_dir, device, overrides, watch, phases, resume_changes)
        except ArtifactWriteError as error:
            record_failure(run_dir, error)  # if the disk still takes that small file
            raise


def _train(config: TrainConfig, run_dir: Path, device, overrides: tuple[str, ...], watch, phases: Phases,
           resume_changes: dict | None) -> dict[str, Any]:
    resuming = config.resume is not None
    previous = read_metrics(run_dir) if resuming and (run_dir / "metrics.json").exists() else {}
    if previous.get("status") == "completed" and previous.get("epochs", 0) >= config.trainer.max_epochs:
        raise RunAlreadyFinished(_finished(run_dir, previous["epochs"], config))  # before any file is touched
    metrics: dict[str, Any] = {"status": "running", "run_dir": str(run_dir), "overrides": list(overrides),
                               "model": config.model.name, "data": config.data.name, "environment": environment()}
    if resuming:  # the run keeps the overrides it was started with; each resume is on record
        metrics["overrides"] = previous.get("overrides", list(overrides))
        metrics["resumes"] = previous.get("resumes", []) + [{"from_epoch": previous.get("epochs"),
                                                             "overrides": list(overrides),
                                                             "changes": resume_changes or {}}]
    writes = device.is_chief
    if writes:
        write_metrics(run_dir, {**previous, **metrics})
    scratch = None if writes else Path(tempfile.mkdtemp(prefix="bmrun-worker-"))

    # TensorFlow-heavy modules only now: setup_device imported TensorFlow with its start-up
    # noise hidden and fixed the process settings that must precede the runtime's start.
    from bmrun.training.epoch import EpochLoop
    from bmrun.training.job import build_job
    from bmrun.training.reporter import Reporter

    job = build_job(config, run_dir, device, checkpoint_root=scratch or run_dir, announce=writes)
    phases.lap("build")
    reporter = Reporter(config, run_dir, writes=writes)
    reporter.attach_insight(config.logger, model=job.model, pipeline=job.pipeline, loss_fn=job.loss_fn,
                            variables=job.steps.variables, evaluator=job.evaluator)
    stop = StopRequest()
    loop = EpochLoop(job, reporter, stop)
    last = None  # the last epoch's EpochResult
    try:
        if config.logger.print_config != "false" and writes and not resuming:
            full = config.logger.print_config == "full" or config.verbose > 0
            console.print_config(config, title=job.describe(), full=full)
        if resuming:
            _restore(job, reporter)
        with reporter.progress, stop:
            for epoch in range(int(job.state.epoch.numpy()), config.trainer.max_epochs):
                # a solved model (model=linear on a table) is validated once; steps would only move it away
                last = loop.solved_epoch(epoch) if job.solved else loop.train_epoch(epoch)
                if job.solved or loop.should_stop_early():
                    break
        phases.lap("train")
        if job.average is not None:  # optimizer.ema_decay: the average is the model from now on
            job.average.copy_to_model()
        test = _final_test(job, loop, reporter)
        phases.lap("test")
    except (DivergedError, TrainingInterrupted) as error:
        if writes:  # where it stopped, so resume= and bmrun-report can say so
            resume = {"resume_command": f"bmrun resume={run_dir}"} if error.status == "interrupted" else {}
            record_failure(run_dir, error, epochs=int(job.state.epoch.numpy()),
                           global_step=int(job.state.global_step.numpy()), history_rows=len(reporter.history.rows),
                           duration_s=_total_duration(previous, watch), **resume)
        raise
    finally:
        reporter.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    train_metrics = dict(last.train) if last else {}
    if loop.throughput.epoch_samples_per_s:
        train_metrics["samples_per_s"] = statistics.median(loop.throughput.epoch_samples_per_s)
    best_epoch = int(job.state.best_epoch.numpy())
    epochs = int(job.state.epoch.numpy())
    # val describes the weights that were tested and exported: the best epoch's for test_with=best
    # (its history row), so the table, the objective and the sweep summary agree with test.
    tested_epoch = best_epoch if config.trainer.test_with == "best" and best_epoch > 0 else epochs
    last_val = last.val if last else {}
    tested_val = reporter.val_at(tested_epoch) if tested_epoch != epochs else None
    metrics.update({
        "status": "completed",
        "test": test,
        "val": last_val if tested_val is None else tested_val,
        **({"val_last": last_val} if tested_val is not None and last_val else {}),
        "train": train_metrics,
        "epochs": epochs,
        "stopped_early": loop.should_stop_early(),
        "best_epoch": best_epoch if best_epoch > 0 else None,
        "monitor": loop.monitor,
        "monitor_best": float(job.state.best_value.numpy()) if best_epoch > 0 else None,
        "tested_weights": config.trainer.test_with,
        "tested_epoch": tested_epoch,
        "compile_s": round(loop.throughput.net_compile_s(), 3) if not resuming else previous.get("compile_s"),
        "duration_s": _total_duration(previous, watch),
        "loss": resolved_loss(config) if job.trains_classifier else job.method.loss_name,
        "device": device.description,
        "num_params": job.num_params,
        # more than 1 each means retracing: a bug
        "traces": {"train": job.steps.trace_count, "eval": job.evaluator.trace_count},
    })
    if job.class_weight is not None:  # data.class_weight=balanced: the weights the loss used
        metrics["class_weight"] = job.class_weight
    metrics.update(job.record())
    metrics.update(loop.record(metrics["tested_epoch"]))  # fairness.max_gap: the bound, gaps and λ's path
    if loop.fairness.get("test"):  # data.sensitive: fairness.<column> is the test report, .val the last val's
        metrics["fairness"] = {column: {**report, **({"val": loop.fairness["val"][column]}
                                                     if column in loop.fairness.get("val", {}) else {})}
                               for column, report in loop.fairness["test"].items()}
    # A pretrain run has no accuracy: its objective is the pretext loss.
    key = objective_key(config.objective, job.task.kind if job.trains_classifier else "pretext")
    metrics["objective"] = {"key": key, "value": lookup(metrics, key), "epoch": metrics["tested_epoch"]}
    if writes:
        metrics["export"] = _export(job)
        phases.lap("export")
        if config.logger.hparams and reporter.tensorboard.enabled:
            # TensorFlow side (bmrun.tensorboard.hparams): kept out of --help and config composition
            from bmrun.tensorboard.hparams import log_run_hparams

            log_run_hparams(run_dir / TENSORBOARD, config, metrics)
        metrics["timings"] = phases.record()
        write_metrics(run_dir, metrics)
        reporter.finish()
    return metrics


def _restore(job: "Job", reporter: "Reporter") -> None:
    """Load the latest checkpoint and cut history/TensorBoard back to its step."""
    if not job.checkpointer.restore_latest():
        raise RunDirError(f"{job.run_dir} has no checkpoint to resume from (checkpoints/ is empty); "
                          f"start a new run instead.")
    epoch, step = int(job.state.epoch.numpy()), int(job.state.global_step.numpy())
    if epoch >= job.config.trainer.max_epochs:
        raise RunDirError(_finished(job.run_dir, epoch, job.config))
    reporter.rewind(epoch, step, job.run_dir)
    console.err.print(f"[dim]resuming {job.run_dir} at epoch {epoch + 1}, step {step}[/]")


def _finished(run_dir: Path, epoch: int, config: TrainConfig) -> str:
    """What to say when ``resume=`` finds the run's epochs all trained."""
    key = "pretrain.max_epochs" if config.pretrain.max_epochs is not None else "trainer.max_epochs"
    return f"{run_dir} already finished {epoch} epochs; to train further pass {key}=<more than {epoch}> with resume=."


def _final_test(job: "Job", loop: "EpochLoop", reporter: "Reporter") -> dict[str, Any]:
    """Test metrics of the best weights (``trainer.test_with=best``) or the last ones."""
    if job.config.trainer.test_with == "best":
        job.checkpointer.restore_best()
    evaluation = job.evaluator.test()
    if evaluation.fairness:
        loop.fairness["test"] = evaluation.fairness
    metrics = evaluation.metrics
    reporter.on_test(metrics, int(job.state.global_step.numpy()))
    per_class = job.evaluator.per_class(evaluation)
    if per_class is not None:  # after TensorBoard, which takes scalars only
        metrics["per_class"] = per_class
    return metrics


def _export(job: "Job") -> dict[str, dict[str, Any]]:
    """Write ``model/`` (Keras file, SavedModel, the TFLite copies of ``logger.tflite``).

    Returns:
        metrics.json's ``export`` section: each artifact's ``bytes`` and, for TFLite files,
        their test accuracy (or mse), or the ``error`` that stopped them.
    """

    model_dir = job.run_dir / MODEL
    sizes = export_model(job.model, model_dir, saved_model=job.config.logger.saved_model)
    result: dict[str, dict[str, Any]] = {name: {"bytes": size} for name, size in sizes.items()}
    if job.config.logger.tflite:
        # TensorFlow side (bmrun.artifacts.tflite): kept out of --help and config composition
        from bmrun.artifacts.tflite import export_tflite

        result.update(export_tflite(job.model, model_dir, job.config.logger.tflite, job.data.test.x, job.data.test.y,
                                    job.task))
    return result


def _total_duration(previous: dict, watch: console.Stopwatch) -> float:
    """Wall time of this process plus that of the runs it resumes."""
    earlier = previous.get("duration_s") if previous.get("status") != "running" else None
    return round(float(earlier or 0.0) + watch.seconds(), 3)
