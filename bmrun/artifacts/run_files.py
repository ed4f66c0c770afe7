"""The small text artifacts of a run dir, each written atomically (temp file + rename).

A reader (``bmrun-report``, TensorBoard, a script) never sees half a file, and a kill at any
instant leaves the previous version intact.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

CONFIG, METRICS, HISTORY = "config.yaml", "metrics.json", "history.csv"


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a mix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity; keep the information as text
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_metrics(run_dir: Path, metrics: Mapping[str, Any]) -> None:
    atomic_write(Path(run_dir) / METRICS, json.dumps(_json_safe(metrics), indent=2) + "\n")


def read_metrics(run_dir: Path) -> dict:
    with open(Path(run_dir) / METRICS, encoding="utf-8") as handle:
        return json.load(handle)


def write_config(run_dir: Path, yaml_text: str) -> None:
    atomic_write(Path(run_dir) / CONFIG, yaml_text)


class History:
    """``history.csv``: one row per finished epoch; columns grow as new metrics appear."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / HISTORY
        self.rows: list[dict] = []
        if self.path.exists():
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
        columns: list[str] = []
        for row in self.rows:
            columns.extend(key for key in row if key not in columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns or ["epoch"])
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        atomic_write(self.path, buffer.getvalue())


def _cell(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def flatten(prefix: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``{"loss": 1}`` with prefix ``val`` -> ``{"val/loss": 1}`` (scalars only)."""
    return {f"{prefix}/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}


def lookup(metrics: Mapping[str, Any], key: str) -> Any:
    """``lookup(m, "val/accuracy")`` -> ``m["val"]["accuracy"]`` (None when absent)."""
    node: Any = metrics
    for part in key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    return columns
