"""The Hydra application behind ``bmrun``: compose, validate, train, report.

This module imports Hydra and OmegaConf only; TensorFlow is imported by the training path, so
``bmrun --cfg job`` stays fast. ``bmrun --help`` does not even come here (see :mod:`bmrun.cli`).
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, Optional

import hydra
from omegaconf import DictConfig, OmegaConf

from bmrun.config.schema import register_schemas
from bmrun.errors import BmrunError, RunAlreadyFinished, RunDirBusy, TrainingInterrupted, show_tracebacks
from bmrun.cli.help import config_dir
from bmrun.run_dir import clear_run_artifacts, read_metrics, record_failure, write_config
from bmrun.config import validate
from bmrun.config.resume import auto_resume_action, config_for_resume
import shutil
from bmrun.objective import objective_direction

log = logging.getLogger("bmrun")


def _hydra_context() -> tuple[Path, bool, tuple[str, ...]]:
    # Hydra: only when composing or parsing overrides, not for --help
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    return (Path(hydra_cfg.runtime.output_dir), hydra_cfg.mode == RunMode.MULTIRUN,
            tuple(hydra_cfg.overrides.task))


def _console_verbosity(verbose: int) -> None:
    if verbose <= 0:
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.DEBUG)
            # What the console printed is logged for bmrun.log only: the terminal has it already.
            handler.addFilter(lambda record: not record.name.startswith("bmrun.console"))
    logging.getLogger("bmrun").setLevel(logging.DEBUG)


def run_job(cfg: DictConfig) -> Optional[float]:
    """The Hydra task: validate, train, report. Returns the objective for sweepers.

    A failure in a single run exits with the error's code and one paragraph on stderr. In a
    multirun the failure is recorded in the job's metrics.json and the sweep goes on.
    """
    # bmrun.console brings rich: only when this runs, keeps --help light
    from bmrun import console
    from bmrun.console import print_error, print_next_steps, print_results

    run_dir, multirun, overrides = _hydra_context()
    logging.captureWarnings(True)  # Python warnings into bmrun.log too (and the terminal, as before)
    config = None
    changes: dict = {}
    training = False  # until train() starts, a failure is the command's, not the run's
    try:
        if cfg.get("resume") == "auto":  # re-running a sweep (or a fixed run dir): pick up where it stopped
            action, previous = auto_resume_action(run_dir, overrides)
            if action == "skip":
                console.out.print(f"[bold]already completed[/] (resume=auto): {run_dir}")
                print_results(previous, str(run_dir))
                print_next_steps(str(run_dir), "completed")
                return _objective_value(previous)
            if action == "resume":
                cfg, changes = config_for_resume(run_dir, overrides)
            else:
                clear_run_artifacts(run_dir)
                cfg.resume = None
        elif cfg.get("resume"):
            cfg, changes = config_for_resume(Path(cfg.resume), overrides)
        config = validate(cfg)
        _console_verbosity(config.verbose)
        if not config.resume or changes:  # a resume records the values it changed
            saved = cfg.copy()
            saved.resume = None
            write_config(run_dir, OmegaConf.to_yaml(saved, resolve=True))
        from bmrun.training.train import train  # imports TensorFlow

        training = True
        metrics = train(config, run_dir, overrides=overrides, resume_changes=changes)
        print_results(metrics, str(run_dir))
        print_next_steps(str(run_dir), "completed")
        return _objective_value(metrics)
    except BmrunError as error:
        if show_tracebacks():
            raise
        print_error(error.title, str(error))
        if not training and not multirun:  # a refused command: no run of its own, and no other touched
            _discard_new_run_dir(run_dir, cfg)
        # A live run's dir, or a finished run with nothing left to train: leave their files alone.
        elif not isinstance(error, (RunDirBusy, RunAlreadyFinished)):
            _record_failure(run_dir, error, overrides)
            print_next_steps(str(run_dir), _status(run_dir))
        # Ctrl-C stops the whole sweep; SIGTERM (a cluster's time limit) only ends this job.
        if multirun and not (isinstance(error, TrainingInterrupted) and error.signum == signal.SIGINT):
            return _failed_value(config)
        sys.exit(error.exit_code)
    except Exception as error:  # a bug: keep the traceback, but never lose the sweep
        _traceback_to_log()
        if not multirun or show_tracebacks():
            if training:
                _record_failure(run_dir, error, overrides)
                print_next_steps(str(run_dir), "failed")
            raise
        print_error("job failed", f"{type(error).__name__}: {error} (traceback in {run_dir / 'bmrun.log'})")
        _record_failure(run_dir, error, overrides)
        return _failed_value(config)


def _traceback_to_log() -> None:
    """The current exception's traceback into bmrun.log (the terminal gets Hydra's copy)."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "job failed:\n%s", (traceback.format_exc(),), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _status(run_dir: Path) -> str:
    try:
        return str(read_metrics(run_dir).get("status", "failed"))
    except (OSError, ValueError):
        return "failed"


def _discard_new_run_dir(run_dir: Path, cfg: DictConfig) -> None:
    """Remove the dir Hydra made for a command refused before training (never a resumed run's)."""

    if cfg.get("resume") or not run_dir.is_dir() or (run_dir / "metrics.json").exists():
        return
    if {p.name for p in run_dir.iterdir()} <= {".hydra", "bmrun.log", "config.yaml"}:
        shutil.rmtree(run_dir, ignore_errors=True)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", run_dir.parent.name):  # outputs/<date>/ of this run alone
            try:
                run_dir.parent.rmdir()
            except OSError:
                pass  # other runs of the day


def _record_failure(run_dir: Path, error: Exception, overrides) -> None:
    """metrics.json for a job that failed before or outside training (training writes its own)."""
    if run_dir.is_dir():
        record_failure(run_dir, error, keep_stopped=True, overrides=list(overrides))


def _objective_value(metrics: dict) -> Optional[float]:
    value = metrics.get("objective", {}).get("value")
    return float(value) if isinstance(value, (int, float)) else None


def _failed_value(config) -> float:
    """What a failed job returns to a sweeper: the worst possible value, so optimisers avoid it."""

    key = "val/accuracy" if config is None or config.objective == "auto" else config.objective
    return float("-inf") if objective_direction(key) == "max" else float("inf")


register_schemas()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def hydra_entry(cfg: DictConfig) -> Any:
    """Hydra's entry point: parses sys.argv, composes the config, calls :func:`run_job`."""
    return run_job(cfg)
