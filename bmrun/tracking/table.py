"""The runs as one table: rich in the terminal, Markdown, CSV or JSON for scripts.

A wide table is unreadable, so by default the config columns are only the keys whose value
differs between the runs shown (``--all-keys`` shows every key); what all of them share is
said once, under the table.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from typing import Any, Optional, Sequence

from rich.table import Table

from bmrun import console
from bmrun.tracking.index import Run

_LEAD = ["run", "status", "date", "duration_s", "objective"]
_HEADLINE = ("accuracy", "mse")  # the metrics shown when none are chosen (as bmrun-report does)
_MAX_TEXT = 60
_METRIC_LIKE = ("objective",)


def differing_keys(runs: Sequence[Run]) -> list[str]:
    """Config keys whose value is not the same in every run (a run lacking the key counts).

    Unreadable runs are left out: a truncated config.yaml lacks every key, which would make
    every key "differ" and the table unreadable too."""
    runs = [run for run in runs if run.status != "unreadable"] or list(runs)
    if not runs:
        return []
    candidates = set()
    for run in runs:
        candidates.update(run.delta)
        candidates.update(run.absent)
    missing = object()
    keys = []
    for key in candidates:
        first = runs[0].config(key, missing)
        if any(run.config(key, missing) != first for run in runs[1:]):
            keys.append(key)
    return sorted(keys)


def default_metrics(runs: Sequence[Run]) -> list[str]:
    """test.accuracy / test.mse (and their val twins) when some run has them."""
    present = set()
    for run in runs:
        present.update(run.metrics)
    return [f"{split}.{name}" for split in ("test", "val") for name in _HEADLINE if f"{split}.{name}" in present]


def columns(runs: Sequence[Run], metrics: Sequence[str], all_keys: bool, sort_key: Optional[str] = None) -> list[str]:
    config = sorted(set().union(*(run.config_keys() for run in runs))) if all_keys and runs else differing_keys(runs)
    chosen = list(metrics) or default_metrics(runs)
    if sort_key and sort_key not in _LEAD and sort_key not in chosen and sort_key not in config:
        chosen.append(sort_key)
    shown = _LEAD + [key for key in chosen if key not in _LEAD] + [key for key in config if key not in chosen]
    if any(run.error for run in runs):
        shown.append("error")
    return shown


def _label(run: Run, root: str) -> str:
    relative = os.path.relpath(run.path, root) if root else run.path
    return run.path if relative.startswith("..") else relative


def common_root(runs: Sequence[Run]) -> str:
    if not runs:
        return ""
    try:
        root = os.path.commonpath([run.path for run in runs])
    except ValueError:
        return ""
    return os.path.dirname(root) if len(runs) == 1 else root


def value(run: Run, column: str) -> Any:
    return run.error if column == "error" else run.get(column)


def cell(run: Run, column: str, root: str) -> str:
    """The text of one cell (rounded numbers, short dates)."""
    if column == "run":
        return _label(run, root)
    raw = value(run, column)
    if raw is None:
        return ""
    if column == "date":
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(raw))
    if column == "duration_s" and isinstance(raw, (int, float)):
        return f"{raw:.1f}s"
    if isinstance(raw, float):  # metrics at 4 decimals, config values (lr=0.0003) at 4 digits
        text = console.fmt(raw) if column in _METRIC_LIKE or column.split(".")[0] in ("test", "val", "train") \
            else f"{raw:.4g}"
    else:
        text = str(raw)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 1] + "…"


def shared_line(runs: Sequence[Run], all_keys: bool) -> str:
    """What the config columns left out: how many keys every shown run shares."""
    if all_keys or not runs:
        return ""
    shared = len(runs[0].config_keys()) - len(differing_keys(runs))
    return f"{shared} config keys have the same value in every run shown (--all-keys shows them)" if shared > 0 else ""


def rich_table(runs: Sequence[Run], shown: Sequence[str], title: str) -> Table:
    root = common_root(runs)
    table = Table(title=title, title_justify="left")
    rows = [[cell(run, column, root) for column in shown] for run in runs]
    for index, column in enumerate(shown):
        numeric = column in ("duration_s", "objective") or "." in column and any(
            isinstance(value(run, column), (int, float)) and not isinstance(value(run, column), bool) for run in runs)
        # Values keep their width in a narrow terminal (headers fold instead), as bmrun-report's do.
        widest = max((len(line[index]) for line in rows), default=0)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold",
                         min_width=min(widest, 24 if column in ("run", "error") else widest))
    for run, cells in zip(runs, rows):
        if run.status != "completed":
            cells[1] = f"[red]{cells[1]}[/]"
        table.add_row(*cells)
    return table


def markdown(runs: Sequence[Run], shown: Sequence[str]) -> str:
    root = common_root(runs)
    lines = ["| " + " | ".join(shown) + " |", "|" + "|".join("---" for _ in shown) + "|"]
    for run in runs:
        lines.append("| " + " | ".join(cell(run, column, root).replace("|", "\\|") for column in shown) + " |")
    return "\n".join(lines) + "\n"


def csv_text(runs: Sequence[Run], shown: Sequence[str]) -> str:
    """Full-precision values; ``date`` as ISO 8601."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(shown)
    for run in runs:
        row = []
        for column in shown:
            raw = value(run, column)
            if column == "date" and raw is not None:
                raw = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(raw))
            row.append("" if raw is None else raw)
        writer.writerow(row)
    return buffer.getvalue()


def json_text(runs: Sequence[Run]) -> str:
    """Every run with its fields, metrics and whole flat config."""
    records = [{"run": run.path, "status": run.status, "date": run.date, "duration_s": run.duration_s,
                "epochs": run.epochs, "objective_key": run.objective_key, "objective": run.objective,
                "metrics": run.metrics, "config": run.flat_config(), "error": run.error} for run in runs]
    return json.dumps(records, indent=1, default=str) + "\n"
