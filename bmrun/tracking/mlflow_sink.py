"""Runs in an MLflow tracking store: live (``logger.mlflow=true``) or afterwards (``bmrun-runs export --mlflow``).

A run logs its flat config as params, each epoch's train/val metrics and the test metrics,
tags (the command, the git commit of the working directory when there is one, the run dir)
and its small artifacts (config.yaml, metrics.json, history.csv, bmrun.log, the exported
model). ``<run dir>/mlflow.json`` remembers the MLflow run id, so a resumed run, or a second
export, continues the same MLflow run. A sweep is a parent run (``<sweep dir>/mlflow.json``)
and its jobs are children (MLflow's ``mlflow.parentRunId`` tag).

Tracking must never cost a run: the first error (unreachable URI, locked database) is said
once and the sink switches itself off while training goes on. MLflow is an optional extra,
imported only here and only when asked for.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from bmrun import console
from bmrun.run_dir import CONFIG, HISTORY, LOG, METRICS, MLFLOW, MODEL, History, atomic_write_json
from bmrun.tracking.index import flatten, number, read_record
import time
from bmrun.tracking.query import QueryError

RUN_FILE = MLFLOW  # in a run dir or a sweep dir: {"uri": ..., "run_id": ...}
EXPERIMENT = "bmrun"
_ARTIFACTS = (CONFIG, METRICS, HISTORY, LOG)
_BATCH = 100  # MLflow's log_batch takes at most 100 params per call
_PARAM_CHARS = 6000


def default_uri(place: Path) -> str:
    """``sqlite:///<abs>/mlflow.db`` beside the ``outputs/`` folder ``place`` is in (else in ``place``'s folder)."""
    place = Path(place).resolve()
    for folder in (place, *place.parents):
        if folder.name == "outputs":
            return f"sqlite:///{folder.parent / 'mlflow.db'}"
    return f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def _client(uri: str):
    # MLflow (optional: bmrun[mlflow]): only when runs go to MLflow
    from mlflow.tracking import MlflowClient

    # MLflow retries an unreachable server for minutes by default; a run must not wait that long.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    for name in ("alembic", "mlflow.store.db.utils", "mlflow.store.sqlalchemy_store"):
        logging.getLogger(name).setLevel(logging.WARNING)  # "Creating initial MLflow database tables..."
    return MlflowClient(tracking_uri=uri)


def _experiment_id(client, uri: str) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:///"):  # artifacts beside the database, not wherever the process runs
        location = (Path(uri[len("sqlite:///"):]).parent / "mlartifacts").as_uri()
    return client.create_experiment(EXPERIMENT, artifact_location=location)


def _remembered(folder: Path, uri: str) -> Optional[str]:
    try:
        record = json.loads((Path(folder) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("run_id") if isinstance(record, Mapping) and record.get("uri") == uri else None


def git_commit() -> Optional[str]:
    """The commit checked out in the working directory, or None outside a git repository."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _params(flat: Mapping[str, Any]) -> list:
    # MLflow (optional: bmrun[mlflow]): only when runs go to MLflow
    from mlflow.entities import Param

    return [Param(key[:250], ("null" if value is None else str(value))[:_PARAM_CHARS]) for key, value in flat.items()]


def _metrics(values: Mapping[str, Any], prefix: str, step: int) -> list:
    # MLflow (optional: bmrun[mlflow]): only when runs go to MLflow
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    found = []
    for name, value in values.items():
        as_number = number(value)
        if as_number is not None and math.isfinite(as_number):
            found.append(Metric(f"{prefix}{name}", as_number, stamp, step))
    return found


def _log(client, run_id: str, *, params: Iterable = (), metrics: Iterable = ()) -> None:
    params, metrics = list(params), list(metrics)
    for start in range(0, max(len(params), len(metrics)), _BATCH):
        client.log_batch(run_id, params=params[start:start + _BATCH], metrics=metrics[start:start + _BATCH])


def open_run(client, uri: str, folder: Path, *, name: str, tags: Mapping[str, str], parent: Optional[str]) -> tuple[str, bool]:
    """The MLflow run of ``folder`` (a run or sweep dir): its remembered one, or a new one.

    Returns:
        ``(run_id, resumed)``.
    """
    run_id = _remembered(folder, uri)
    if run_id is not None:
        try:
            client.update_run(run_id, status="RUNNING")
            return run_id, True
        except Exception:  # deleted from the store since: start afresh
            pass
    all_tags = {"mlflow.runName": name, "bmrun.run_dir": str(folder), **tags}
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    run = client.create_run(_experiment_id(client, uri), tags=all_tags)
    atomic_write_json(Path(folder) / RUN_FILE, {"uri": uri, "run_id": run.info.run_id})
    return run.info.run_id, False


def _log_artifacts(client, run_id: str, run_dir: Path, *, model: bool) -> None:
    for name in _ARTIFACTS:
        if (run_dir / name).is_file():
            client.log_artifact(run_id, str(run_dir / name))
    if model and (run_dir / MODEL).is_dir():
        client.log_artifacts(run_id, str(run_dir / MODEL), artifact_path=MODEL)


def _warn(uri: str, error: BaseException) -> None:
    text = " ".join(str(error).split())[:200]
    console.err.print(f"[yellow]MLflow tracking failed[/] ({uri}): {type(error).__name__}: {text}. "
                      f"Training goes on; log this run later with bmrun-runs export --mlflow --uri {uri}")


class MlflowSink:
    """The MLflow run of one training run (a sink of :class:`bmrun.training.reporter.Reporter`).

    Args:
        config: The validated run config (``logger.mlflow_uri``; the rest is logged as params).
        run_dir: The run dir.
    """

    def __init__(self, config, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.uri = config.logger.mlflow_uri or default_uri(self.run_dir)
        self.client, self.run_id, self.tested = None, None, False
        try:
            self.client = _client(self.uri)
            parent = _remembered(self.run_dir.parent, self.uri)  # a sweep's job: its sweep is the parent
            command = " ".join(["bmrun", *sys.argv[1:]])
            tags = {"bmrun.command": command, "mlflow.source.name": "bmrun",
                    **({"mlflow.source.git.commit": commit} if (commit := git_commit()) else {})}
            name = self.run_dir.name if parent is None else f"{self.run_dir.parent.name}/{self.run_dir.name}"
            self.run_id, resumed = open_run(self.client, self.uri, self.run_dir, name=name, tags=tags, parent=parent)
            if resumed:  # params cannot change in MLflow; a resume's changes are in metrics.json
                self.client.set_tag(self.run_id, "bmrun.resumed_command", command)
            else:
                config_dict = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
                _log(self.client, self.run_id, params=_params(flatten(config_dict)))
        except Exception as error:  # any failure of an optional sink: say so once, train on
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        _warn(self.uri, error)
        self.client = None

    def _guard(self, action) -> None:
        if self.client is None:
            return
        try:
            action()
        except Exception as error:
            self._fail(error)

    def on_epoch(self, epoch: int, train: Mapping, val: Mapping, learning_rate: float) -> None:
        step = epoch + 1
        metrics = _metrics(train, "train_", step) + _metrics(val, "val_", step) + \
            _metrics({"learning_rate": learning_rate}, "", step)
        self._guard(lambda: _log(self.client, self.run_id, metrics=metrics))

    def on_test(self, metrics: Mapping, step: int) -> None:
        self.tested = True
        self._guard(lambda: _log(self.client, self.run_id, metrics=_metrics(metrics, "test_", step)))

    def close(self) -> None:
        """The training loop is over: its files so far, and the run's end (failed unless it tested)."""
        def end() -> None:
            _log_artifacts(self.client, self.run_id, self.run_dir, model=False)
            self.client.set_terminated(self.run_id, status="FINISHED" if self.tested else "FAILED")
        self._guard(end)

    def finish(self) -> None:
        """metrics.json and the model, once written (after the loop is closed)."""
        self._guard(lambda: _log_artifacts(self.client, self.run_id, self.run_dir, model=True))


# ----------------------------------------------------------------------------- sweeps and exports
def start_sweep(sweep_dir: Path, uri: Optional[str]) -> None:
    """The parent run of a sweep (called when the multirun starts; its jobs find it in the sweep dir)."""
    uri = uri or default_uri(sweep_dir)
    try:
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)
        client = _client(uri)
        open_run(client, uri, Path(sweep_dir), name=f"sweep {Path(sweep_dir).name}",
                 tags={"bmrun.command": " ".join(["bmrun", *sys.argv[1:]]), "bmrun.sweep": "true"}, parent=None)
    except Exception as error:
        _warn(uri, error)


def end_sweep(sweep_dir: Path, uri: Optional[str], failed: bool) -> None:
    uri = uri or default_uri(sweep_dir)
    run_id = _remembered(Path(sweep_dir), uri)
    if run_id is None:
        return
    try:
        _client(uri).set_terminated(run_id, status="FAILED" if failed else "FINISHED")
    except Exception as error:
        _warn(uri, error)


def _float(text: Any) -> Optional[float]:
    """A history.csv cell (text) as a number; empty cells (no throughput in epoch 1) as None."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def export_run(client, uri: str, run_dir: Path, parent: Optional[str]) -> str:
    """Log one finished run dir (params, history by epoch, final metrics, tags, artifacts)."""

    record = read_record(run_dir)
    name = run_dir.name if parent is None else f"{run_dir.parent.name}/{run_dir.name}"
    run_id, resumed = open_run(client, uri, run_dir, name=name, tags={"bmrun.exported": "true"}, parent=parent)
    params = [] if resumed else _params(record.get("config", {}))
    metrics = []
    for row in History(run_dir).rows:
        step = int(row.get("epoch") or 0)
        metrics += _metrics({k: _float(v) for k, v in row.items() if k not in ("epoch", "step")}, "", step)
    for key, value in record.get("metrics", {}).items():
        if key.startswith("test."):
            metrics += _metrics({key.replace(".", "_"): value}, "", 0)
    _log(client, run_id, params=params, metrics=metrics)
    _log_artifacts(client, run_id, run_dir, model=True)
    client.set_terminated(run_id, status="FINISHED" if record.get("status") == "completed" else "FAILED")
    return run_id


def export_run_dirs(run_dirs: Iterable[Path], uri: str) -> int:
    """Export every run dir; a run dir inside a sweep (``multirun.yaml`` beside it) gets a parent run."""

    try:
        client = _client(uri)
    except ImportError:
        raise QueryError('export --mlflow needs MLflow, which is not installed: pip install "bmrun[mlflow]"') from None
    count, parents = 0, {}
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        parent = None
        if (run_dir.parent / "multirun.yaml").is_file():
            if run_dir.parent not in parents:
                parents[run_dir.parent] = open_run(client, uri, run_dir.parent, name=f"sweep {run_dir.parent.name}",
                                                   tags={"bmrun.sweep": "true"}, parent=None)[0]
                client.set_terminated(parents[run_dir.parent])
            parent = parents[run_dir.parent]
        try:
            export_run(client, uri, run_dir, parent)
        except Exception as error:
            raise QueryError(f"export to {uri} failed at {run_dir}: {type(error).__name__}: "
                             f"{' '.join(str(error).split())[:300]}") from None
        count += 1
    return count
