"""The run-directory contract: what a run dir holds, how to open one, how to write into it.

Every file bmrun writes into a run dir goes through :func:`atomic_path` (or the text/JSON
helpers built on it): the content lands in a temp file beside its destination and is renamed
over it, so a reader (``bmrun-report``, TensorBoard, a script) never sees half a file and a
kill at any instant leaves the previous version intact. "Is this a run dir" is answered here
alone (:func:`require_run_dir`, :func:`require_finished_run`).

The lock that gives a run dir one owner is :mod:`bmrun.run_lock`. Layout (docs/runs.md)::

    config.yaml  metrics.json  history.csv  bmrun.log  tensorboard/  checkpoints/  model/model.keras
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Mapping

from bmrun.errors import ArtifactWriteError, RunDirError, failure_record

CONFIG, METRICS, HISTORY, LOG = "config.yaml", "metrics.json", "history.csv", "bmrun.log"
TENSORBOARD, CHECKPOINTS, MODEL = "tensorboard", "checkpoints", "model"
KERAS_FILE, SAVED_MODEL = "model.keras", "saved_model"
MLFLOW = "mlflow.json"  # logger.mlflow / bmrun-runs export: the MLflow run this run dir (or sweep dir) continues


# ----------------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; once the block has written it, rename it over ``path``.

    Works for files and folders (a SavedModel): the old version stays until the new one is
    complete. On an error the temp file is removed and the old version is left as it was.

    Raises:
        ArtifactWriteError: The OS refused the write (``ENOSPC``, ``EIO``, ``EROFS``, ...).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if tmp.is_dir() and path.is_dir():  # a folder cannot be renamed over a non-empty one
            old = path.with_name(f".{path.name}.old{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as error:  # disk full, I/O error, read-only: one paragraph naming the file
        raise ArtifactWriteError(path, error) from error
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity; keep the information as text
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def atomic_write_json(path: Path, content: Any) -> None:
    """JSON (indented, non-finite floats as text) written with :func:`atomic_write`."""
    atomic_write(path, json.dumps(_json_safe(content), indent=2) + "\n")


# ----------------------------------------------------------------------------- opening run dirs
def create_run_dir(path: Path, key: str = "hydra.run.dir") -> Path:
    """Make ``path`` (and its parents), or explain why it cannot be made.

    The real ``mkdir`` decides: predicting it (``os.access``) is wrong as root, on read-only
    and pseudo file systems.
    """
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename and str(error.filename) != str(path) else ""
        raise RunDirError(f"cannot create the run dir {path}: {reason}{where}. Choose another place with "
                          f"{key}=<dir>.") from None
    return path


def require_run_dir(path: str | Path, what: str) -> Path:
    """``path`` when it is a bmrun run dir (it holds config.yaml), else a RunDirError.

    Args:
        path: The folder the user named.
        what: How the user named it, for the message (``resume=...``, ``bmrun-eval``).
    """
    run_dir = Path(path).expanduser()
    if not run_dir.is_dir():
        raise RunDirError(f"{what}: {path}: no such folder; pass the folder of a run, e.g. outputs/<date>/<time>.")
    if not (run_dir / CONFIG).is_file():
        raise RunDirError(f"{what}: {path}: not a bmrun run dir (no {CONFIG} there); pass the folder of a run, "
                          f"e.g. outputs/<date>/<time>.")
    return run_dir


def require_finished_run(path: str | Path, what: str) -> Path:
    """``path`` when it is a run dir holding an exported model, else a RunDirError."""
    run_dir = require_run_dir(path, what)
    if not (run_dir / MODEL / KERAS_FILE).is_file():
        raise RunDirError(f"{what}: {path}: no {MODEL}/{KERAS_FILE}; the run did not complete ({_status(run_dir)}), "
                          f"so it exported no model. Use a completed run, or finish this one with bmrun resume={path}.")
    return run_dir


def _status(run_dir: Path) -> str:
    try:
        return f"status {read_metrics(run_dir).get('status', 'unknown')} in its {METRICS}"
    except (OSError, ValueError):
        return f"it has no readable {METRICS}"


def keras_file(run_dir: Path) -> Path:
    return Path(run_dir) / MODEL / KERAS_FILE


def clear_run_artifacts(run_dir: Path) -> None:
    """Remove what an earlier, failed attempt left in ``run_dir`` before a fresh start in it."""
    run_dir = Path(run_dir)
    for name in (CHECKPOINTS, TENSORBOARD, MODEL):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (HISTORY, METRICS):
        (run_dir / name).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- the small files
def write_metrics(run_dir: Path, metrics: Mapping[str, Any]) -> None:
    atomic_write_json(Path(run_dir) / METRICS, metrics)


def record_failure(run_dir: Path, error: BaseException, *, keep_stopped: bool = False, **fields: Any) -> None:
    """The one way a stopped run reaches metrics.json: what it had, then ``error``'s record
    (status, message, the error's own fields) and ``fields``. Best effort: a disk that refuses
    even this small file leaves the previous metrics.json in place (the write is atomic).

    Args:
        keep_stopped: Leave a run already recorded ``diverged`` or ``interrupted`` as it is (the
            training loop wrote the more precise record).
    """
    try:
        existing = read_metrics(run_dir)
    except (OSError, ValueError):
        existing = {}
    if keep_stopped and existing.get("status") in ("diverged", "interrupted"):
        return
    try:
        write_metrics(run_dir, {**existing, **failure_record(error), **fields})
    except (OSError, ArtifactWriteError):
        pass  # an unwritable run dir is itself the error being reported


def read_metrics(run_dir: Path) -> dict:
    with open(Path(run_dir) / METRICS, encoding="utf-8") as handle:
        return json.load(handle)


def write_config(run_dir: Path, yaml_text: str) -> None:
    atomic_write(Path(run_dir) / CONFIG, yaml_text)


def lookup(metrics: Mapping[str, Any], key: str) -> Any:
    """``lookup(m, "val/accuracy")`` -> ``m["val"]["accuracy"]`` (None when absent)."""
    node: Any = metrics
    for part in key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


class History:
    """``history.csv``: one row per finished epoch; columns grow as new metrics appear.

    Args:
        run_dir: The run dir; None keeps the rows in memory only (a process that writes nothing).
    """

    def __init__(self, run_dir: Path | None):
        self.path = None if run_dir is None else Path(run_dir) / HISTORY
        self.rows: list[dict] = []
        if self.path is not None and self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as handle:
                self.rows = [dict(row) for row in csv.DictReader(handle)]

    def truncate(self, epochs_done: int) -> None:
        """Drop rows of epochs after the checkpoint a resumed run restarts from."""
        self.rows = [row for row in self.rows if int(row["epoch"]) <= epochs_done]
        self._write()

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        columns: list[str] = []
        for row in self.rows:
            columns.extend(key for key in row if key not in columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns or ["epoch"])
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
        atomic_write(self.path, buffer.getvalue())
