"""``train(config, run_dir) -> metrics``: one training job from validated config to artifacts."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bmrun import console
from bmrun.run_dir import lookup, read_metrics, write_metrics
from bmrun.config.checks import resolved_loss
from bmrun.config.schema import TrainConfig
from bmrun.errors import DivergedError, TrainingInterrupted
from bmrun.objective import objective_key
from bmrun.runtime.device import setup_device

log = logging.getLogger("bmrun")


def train(config: TrainConfig, run_dir: Path, *, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """Train one model as ``config`` says and write every artifact into ``run_dir``.

    Args:
        config: Validated config (see :func:`bmrun.config.validate`).
        run_dir: The run directory (Hydra's output dir, or the dir being resumed).
        overrides: The command-line overrides, recorded in metrics.json and TensorBoard HParams.

    Returns:
        The content of ``metrics.json``: status, train/val/test metrics, epochs, timings.

    Raises:
        BmrunError: Bad data, divergence (status ``diverged``) or a stop signal (``interrupted``);
            metrics.json records the outcome before the error propagates.
    """
    watch = console.Stopwatch()
    run_dir = Path(run_dir)
    resuming = config.resume is not None
    previous = read_metrics(run_dir) if resuming and (run_dir / "metrics.json").exists() else {}
    metrics: dict[str, Any] = {"status": "running", "run_dir": str(run_dir), "overrides": list(overrides),
                               "model": config.model.name, "data": config.data.name}
    device = setup_device(config.device, seed=config.seed, deterministic=config.trainer.deterministic,
                          verbose=config.verbose)
    writes = device.is_chief
    if writes:
        write_metrics(run_dir, {**previous, **metrics})

    from bmrun.training.session import build_session  # imports TensorFlow-heavy modules

    scratch = None if writes else Path(tempfile.mkdtemp(prefix="bmrun-worker-"))
    session = build_session(config, run_dir, device, scratch_dir=scratch)
    fit_result = None
    try:
        if config.logger.print_config and writes and not resuming:
            console.print_config(dataclasses.asdict(config), title=session.describe())
        if resuming:
            session.restore_for_resume()
        with session.progress, session.stop:
            fit_result = session.epoch_loop.run(config.trainer.max_epochs)
        test = session.final_test()
    except (DivergedError, TrainingInterrupted) as error:
        status = "diverged" if isinstance(error, DivergedError) else "interrupted"
        extra = {"step": error.step, "last_checkpoint": error.last_checkpoint} if status == "diverged" else \
            {"signal": error.signal_name, "resume_command": f"bmrun resume={run_dir}"}
        if writes:
            write_metrics(run_dir, {**metrics, **session.partial_metrics(), "status": status, "error": str(error),
                                    **extra, "duration_s": _total_duration(previous, watch)})
        raise
    finally:
        session.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    rates = fit_result.epoch_samples_per_s
    train_metrics = dict(fit_result.train)
    if rates:
        train_metrics["samples_per_s"] = statistics.median(rates)
    metrics.update({
        "status": "completed",
        "test": test,
        "val": fit_result.val,
        "train": train_metrics,
        "epochs": int(session.state.epoch.numpy()),
        "stopped_early": fit_result.stopped_early,
        **session.best_summary(),
        "compile_s": round(fit_result.compile_s, 3) if not resuming else previous.get("compile_s"),
        "duration_s": _total_duration(previous, watch),
        "loss": resolved_loss(config),
        "device": device.description,
        "num_params": session.num_params,
        "traces": dict(session.loop.trace_count),  # more than 1 each means retracing: a bug
    })
    key = objective_key(config.objective, session.task.kind)
    metrics["objective"] = {"key": key, "value": lookup(metrics, key)}
    if writes:
        metrics["export"] = session.export()
        session.log_hparams(metrics)
        write_metrics(run_dir, metrics)
    return metrics


def _total_duration(previous: dict, watch: console.Stopwatch) -> float:
    """Wall time of this process plus that of the runs it resumes."""
    earlier = previous.get("duration_s") if previous.get("status") != "running" else None
    return round(float(earlier or 0.0) + watch.seconds(), 3)


