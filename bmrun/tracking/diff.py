"""``bmrun-runs diff A B``: what differs between two runs, and their objective epoch by epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from rich.table import Table

from bmrun import console
from bmrun.errors import RunDirError
from bmrun.run_dir import History, require_run_dir
from bmrun.tracking.index import Run, read_record

_MISSING = "—"


def load_run(path: str) -> Run:
    """One run dir, read directly (no index): a path that is not a run dir is refused."""
    run_dir = require_run_dir(path, "bmrun-runs diff")
    record = read_record(run_dir)
    return Run(path=str(run_dir), status=record.get("status", "unknown"), date=record.get("date"),
               duration_s=record.get("duration_s"), epochs=record.get("epochs"),
               objective_key=record.get("objective_key"), objective=record.get("objective"),
               metrics=record.get("metrics", {}), delta=record.get("config", {}), error=record.get("error"))


def _show(value: Any) -> str:
    return _MISSING if value is None else console.fmt(value)


def differences(a: Run, b: Run) -> tuple[list[tuple[str, Any, Any]], list[tuple[str, Any, Any]]]:
    """(config rows, metric rows) of ``(key, a's value, b's value)`` where the two differ."""
    absent = object()  # a key one run lacks differs even from a null in the other
    config = [(key, a.config(key), b.config(key)) for key in sorted(a.config_keys() | b.config_keys())
              if a.config(key, absent) != b.config(key, absent)]
    fields = [("status", a.status, b.status), ("epochs", a.epochs, b.epochs), ("duration_s", a.duration_s, b.duration_s)]
    metrics = [row for row in fields if row[1] != row[2]]
    metrics += [(key, a.metrics.get(key), b.metrics.get(key)) for key in sorted(set(a.metrics) | set(b.metrics))
                if a.metrics.get(key) != b.metrics.get(key)]
    return config, metrics


def history(run: Run, key: str) -> list[tuple[int, float]]:
    """``(epoch, value)`` of metric ``key`` (``val.accuracy`` -> history.csv's ``val_accuracy``)."""
    try:
        rows = History(Path(run.path)).rows
    except (OSError, ValueError):
        return []
    column = key.replace(".", "_").replace("/", "_")
    points = []
    for row in rows:
        try:
            points.append((int(row["epoch"]), float(row[column])))
        except (KeyError, TypeError, ValueError):
            continue  # a column added later, or a row cut short
    return points


def objective_of(a: Run, b: Run) -> Optional[str]:
    return a.objective_key or b.objective_key


def print_diff(a: Run, b: Run, label_a: str, label_b: str) -> None:
    config, metrics = differences(a, b)
    for title, rows in (("config", config), ("results", metrics)):
        if not rows:
            console.out.print(f"{title}: the same in both runs")
            continue
        table = Table(title=f"{title}: {len(rows)} differ", title_justify="left")
        table.add_column("key")
        table.add_column(label_a, overflow="fold")
        table.add_column(label_b, overflow="fold")
        for key, left, right in rows:
            table.add_row(key, _show(left), _show(right))
        console.out.print(table)
    key = objective_of(a, b)
    if key is None:
        return
    left, right = dict(history(a, key)), dict(history(b, key))
    if not left and not right:
        console.out.print(f"{key} by epoch: no history.csv in either run")
        return
    table = Table(title=f"{key} by epoch", title_justify="left")
    for column in ("epoch", label_a, label_b):
        table.add_column(column, justify="right")
    for epoch in sorted(set(left) | set(right)):
        table.add_row(str(epoch), _show(left.get(epoch)), _show(right.get(epoch)))
    console.out.print(table)


def plot(a: Run, b: Run, label_a: str, label_b: str, path: Path) -> None:
    """The objective of both runs by epoch, as a PNG."""
    # bmrun.explain.figures brings numpy: only when this runs, keeps --help light
    from bmrun.explain.figures import line_chart, save_png

    key = objective_of(a, b)
    if key is None:
        raise RunDirError("bmrun-runs diff --plot: neither run has an objective in its metrics.json")
    series = {label_a: history(a, key), label_b: history(b, key)}
    save_png(line_chart(series, title=f"{key} by epoch", xlabel="epoch", ylabel=key), Path(path))
