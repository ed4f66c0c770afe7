"""One row per run dir, read from the ``metrics.json`` each job writes (no TensorFlow, no Hydra).

A run dir is a folder holding ``metrics.json``; a Hydra job dir (``.hydra/overrides.yaml``)
without one is reported too, as ``missing``, because that is what a job killed before it could
write anything (out of memory, cluster time limit) leaves behind. Half-written or unparsable
files never stop a report: the row says ``corrupt`` and why.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml  # PyYAML comes with OmegaConf

from bmrun.run_dir import METRICS, atomic_write
from bmrun.tracking.index import find_run_dirs, number
from bmrun.objective import objective_direction

COMPLETED = "completed"
SUMMARY_CSV = "summary.csv"
SPLITS = ("test", "val", "train")
LEAD_COLUMNS = ["job", "status", "overrides", "objective", "objective_value"]
# tested_epoch: whose weights test/* and val/* (so the objective) describe (trainer.test_with=best)
TAIL_COLUMNS = ["epochs", "tested_epoch", "duration_s", "samples_per_s", "model", "data", "run_dir", "error"]
# Throughput is the one reported number where higher is better that objective_direction (which
# knows metrics, not timings) would rank the wrong way round.
_HIGHER_IS_BETTER = {"samples_per_s", "train/samples_per_s"}


def _hydra_overrides(run_dir: Path) -> list[str]:
    """The job's overrides as Hydra saved them, for rows without a readable metrics.json."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return []
    return [str(item) for item in loaded] if isinstance(loaded, list) else []


def _flat_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """``{"test": {"accuracy": 0.9}}`` -> ``{"test/accuracy": 0.9}`` for the scalar metrics."""
    flat = {}
    for split in SPLITS:
        values = metrics.get(split)
        if not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            if split == "train" and name == "samples_per_s":
                continue  # its own column
            as_number = number(value)
            if as_number is not None:
                flat[f"{split}/{name}"] = as_number
    return flat


def read_row(run_dir: Path, root: Path) -> dict[str, Any]:
    """The summary row of one run dir.

    Args:
        run_dir: A folder holding ``metrics.json`` (or a Hydra job dir without one).
        root: The folder being reported; ``job`` is the run dir's path relative to it.

    Returns:
        A flat dict: the :data:`LEAD_COLUMNS`, ``test/*``, ``val/*``, ``train/*`` metrics and the
        :data:`TAIL_COLUMNS`. Absent values are omitted.
    """
    relative = run_dir.relative_to(root).as_posix()
    row: dict[str, Any] = {"job": relative if relative != "." else run_dir.name, "run_dir": str(run_dir)}
    path = run_dir / METRICS
    if not path.is_file():
        return {**row, "status": "missing", "overrides": " ".join(_hydra_overrides(run_dir)),
                "error": "no metrics.json: the job ended before training started"}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(metrics, Mapping):
            raise ValueError(f"expected a JSON object, found {type(metrics).__name__}")
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return {**row, "status": "corrupt", "overrides": " ".join(_hydra_overrides(run_dir)),
                "error": f"unreadable metrics.json: {error}"}
    overrides = metrics.get("overrides")
    if not isinstance(overrides, list):
        overrides = _hydra_overrides(run_dir)
    objective = metrics.get("objective") if isinstance(metrics.get("objective"), Mapping) else {}
    train = metrics.get("train") if isinstance(metrics.get("train"), Mapping) else {}
    row.update({"status": str(metrics.get("status", "unknown")), "overrides": " ".join(map(str, overrides)),
                "objective": objective.get("key"), "objective_value": number(objective.get("value"))})
    row.update(_flat_metrics(metrics))
    row.update({"epochs": metrics.get("epochs"), "tested_epoch": metrics.get("tested_epoch"),
                "duration_s": number(metrics.get("duration_s")),
                "samples_per_s": number(train.get("samples_per_s")), "model": metrics.get("model"),
                "data": metrics.get("data"), "error": metrics.get("error")})
    return {key: value for key, value in row.items() if value is not None}


def collect(root: Path) -> list[dict[str, Any]]:
    """The rows of every run dir under ``root``, in job order."""
    root = Path(root)
    return [read_row(run_dir, root) for run_dir in find_run_dirs(root)]


def is_failure(row: Mapping[str, Any]) -> bool:
    """Whether a row is a job that did not complete (failed, diverged, interrupted, killed, ...)."""
    return row.get("status") != COMPLETED


def metric_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ``split/metric`` columns present in any row: test first, then val, then train."""
    seen: dict[str, list[str]] = {split: [] for split in SPLITS}
    for row in rows:
        for key in row:
            split = key.split("/", 1)[0]
            if "/" in key and split in seen and key not in seen[split]:
                seen[split].append(key)
    return [key for split in SPLITS for key in seen[split]]


def csv_text(rows: list[Mapping[str, Any]]) -> str:
    """All columns of ``rows`` as CSV (floats at full precision, absent values empty)."""
    columns = LEAD_COLUMNS + metric_columns(rows) + TAIL_COLUMNS
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None else value) for key, value in row.items()})
    return buffer.getvalue()


def write_summary_csv(rows: list[Mapping[str, Any]], path: Path) -> None:
    atomic_write(Path(path), csv_text(rows))


def sort_direction(key: str) -> str:
    """``max`` when a higher value of column ``key`` is better, else ``min``."""
    return "max" if key in _HIGHER_IS_BETTER else objective_direction(key)


def default_sort_key(rows: Iterable[Mapping[str, Any]]) -> Optional[str]:
    """The objective most rows were optimised for (runs of one sweep share it)."""
    counts = Counter(row["objective"] for row in rows if row.get("objective"))
    if not counts:
        return None
    return counts.most_common(1)[0][0]


def sort_rows(rows: list[dict[str, Any]], key: Optional[str], *, reverse: bool = False) -> list[dict[str, Any]]:
    """Best first by column ``key`` (direction from :func:`sort_direction`); ``reverse`` puts the
    worst first. Rows without a finite value for ``key`` (failed jobs) always come last, and ties
    keep job order.
    """
    if not key:
        return list(rows)
    flip = (sort_direction(key) == "max") != reverse

    def rank(row: Mapping[str, Any]) -> tuple:
        value = row.get(key)
        as_number = number(value)
        if as_number is not None and math.isfinite(as_number):
            return 0, -as_number if flip else as_number, ""
        if isinstance(value, str) and value:
            return 1, 0.0, value
        return 2, 0.0, ""

    return sorted(rows, key=rank)
