"""Compare runs: a rich table, Markdown or CSV over every run dir in a folder.

``bmrun-report DIR`` (:mod:`bmrun.cli.report`) reads the ``metrics.json`` of each run under
DIR (single runs, sweeps, nested folders of both) and prints them best first. The end-of-sweep table printed by
:mod:`bmrun.sweep.callback` is the same table. Nothing here imports TensorFlow or Hydra, so the
report answers in well under a second.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from rich.table import Table

from bmrun import console
from bmrun.sweep.summary import (COMPLETED, csv_text, default_sort_key, is_failure, metric_columns,
                                 sort_direction, sort_rows)

# The metrics a compact table shows for test and val; everything else is in the CSV.
_HEADLINE = ("accuracy", "mse")
# ...and for test only: ranking quality of binary tasks and the fairness gaps (data.sensitive),
# whose trade-off against accuracy a sweep of loss.fairness_penalty is run to see.
_TEST_HEADLINE = ("roc_auc", "demographic_parity_difference", "equalized_odds_difference", "macro_f1_difference")
_MAX_ERROR_CHARS = 80
_TEXT_MIN_WIDTH = 20  # narrow terminals: rich would otherwise squeeze overrides/error to nothing
# Sweepers write floats at full precision (optimizer.lr=0.004430375245218269); the table shows
# 4 significant digits, the CSV keeps the exact override.
_LONG_FLOAT = re.compile(r"(?<==)-?\d+\.\d{5,}(?:e[-+]?\d+)?\b")


def _short_override(override: str) -> str:
    return _LONG_FLOAT.sub(lambda match: f"{float(match.group()):.4g}", override)


def varying_overrides(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each row's overrides without those every row shares (``data.limit=200`` on every job of a
    sweep tells nothing apart). Keyed by ``job``."""
    split = {row["job"]: row.get("overrides", "").split() for row in rows}
    known = [set(items) for items in split.values() if items]  # a corrupt metrics.json tells nothing
    common = set.intersection(*known) if len(known) > 1 else set()
    return {job: " ".join(_short_override(item) for item in items if item not in common)
            for job, items in split.items()}


def table_columns(rows: Sequence[Mapping[str, Any]], sort_key: Optional[str]) -> list[str]:
    """The columns of the compact table/Markdown view."""
    metrics = [key for key in metric_columns(rows)
               if (key.split("/")[0] in ("test", "val") and key.split("/", 1)[1] in _HEADLINE)
               or (key.startswith("test/") and key.rsplit("/", 1)[1] in _TEST_HEADLINE)]
    columns = ["job", "status", "overrides"]
    if sort_key and sort_key not in metrics and sort_key not in columns:
        columns.append(sort_key)
    columns += metrics + ["epochs", "duration_s", "samples_per_s", "error"]
    # A column no shown row has a value for only takes width (1-epoch runs have no throughput).
    return [column for column in columns
            if column in ("job", "status") or any(row.get(column) not in (None, "") for row in rows)]


def _cell(row: Mapping[str, Any], column: str, overrides: Mapping[str, str]) -> str:
    if column == "overrides":
        return overrides.get(row["job"], "")
    value = row.get(column)
    if value is None:
        return ""
    if column == "samples_per_s" and isinstance(value, float):
        return console.fmt_rate(value)
    if column == "duration_s" and isinstance(value, float):
        return f"{value:.1f}s"
    if column == "error":
        text = " ".join(str(value).split())
        return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS - 1] + "…"
    return console.fmt(value)


def _title(root: Path, rows: Sequence[Mapping[str, Any]], sort_key: Optional[str], shown: int) -> str:
    failed = sum(is_failure(row) for row in rows)
    title = f"{root}: {len(rows)} run{'s' if len(rows) != 1 else ''}"
    title += f", {failed} not completed" if failed else ", all completed"
    if sort_key:
        title += f"; best {sort_key} first ({'higher' if sort_direction(sort_key) == 'max' else 'lower'} is better)"
    if shown < len(rows):
        title += f"; top {shown}"
    return title


def rich_table(root: Path, rows: Sequence[Mapping[str, Any]], shown: Sequence[Mapping[str, Any]],
               sort_key: Optional[str]) -> Table:
    """The terminal table of ``shown`` (already sorted and cut); ``rows`` are all runs, for the title."""
    columns = table_columns(shown, sort_key)
    overrides = varying_overrides(rows)
    cells = [[_cell(row, column, overrides) for column in columns] for row in shown]
    table = Table(title=_title(root, rows, sort_key, len(shown)), title_justify="left")
    for index, column in enumerate(columns):
        text = column in ("overrides", "error")
        # In a narrow terminal rich shrinks columns: values keep their width (headers fold
        # instead), and the long text columns keep enough to stay readable.
        widest = max((len(line[index]) for line in cells), default=0)
        table.add_column(column, justify="left" if text or column in ("job", "status") else "right",
                         style="bold" if column == sort_key else None, overflow="fold",
                         min_width=min(widest, _TEXT_MIN_WIDTH) if text else widest)
    for row, line in zip(shown, cells):
        if row.get("status") != COMPLETED:
            line = [f"[red]{cell}[/]" if column == "status" else cell for column, cell in zip(columns, line)]
        table.add_row(*line)
    return table


def markdown(rows: Sequence[Mapping[str, Any]], shown: Sequence[Mapping[str, Any]], sort_key: Optional[str]) -> str:
    """The compact view as a GitHub-flavoured Markdown table."""
    columns = table_columns(shown, sort_key)
    overrides = varying_overrides(rows)
    numeric = [column not in ("job", "status", "overrides", "error") for column in columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if right else "---" for right in numeric) + "|"]
    for row in shown:
        cells = [_cell(row, column, overrides).replace("|", "\\|") for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_report(root: Path, rows: list[dict[str, Any]], *, sort_key: Optional[str] = None, top: Optional[int] = None,
                 reverse: bool = False, fmt: str = "table") -> None:
    """Sort ``rows`` (default: by their objective) and print them to stdout as ``fmt``."""
    sort_key = sort_key or default_sort_key(rows)
    ordered = sort_rows(rows, sort_key, reverse=reverse)
    shown = ordered[:top] if top else ordered
    if fmt == "csv":
        sys.stdout.write(csv_text(shown))
    elif fmt == "markdown":
        sys.stdout.write(markdown(rows, shown, sort_key))
    else:
        console.out.print(rich_table(root, rows, shown, sort_key))


_GAP = re.compile(r"^test/fairness/(.+)/demographic_parity_difference$")
_BOUND = re.compile(r"(?:^|\s)fairness\.max_gap=([0-9.eE+-]+)")


def frontier_points(rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[tuple[float, float, str]], list[float]]:
    """The accuracy/demographic-parity frontier of finished runs: ``(group column, [(gap, accuracy,
    label)], bounds)``; no points when fewer than two completed runs report both (the first group
    column found is the one drawn)."""
    columns = sorted({match.group(1) for row in rows for key in row if (match := _GAP.match(key))})
    if not columns:
        return "", [], []
    key = f"test/fairness/{columns[0]}/demographic_parity_difference"
    labels = varying_overrides(rows)
    points, bounds = [], []
    for row in rows:
        if row.get("status") != COMPLETED or row.get(key) in (None, "") or row.get("test/accuracy") in (None, ""):
            continue
        bound = _BOUND.search(row.get("overrides", ""))
        if bound:
            bounds.append(float(bound.group(1)))
        points.append((float(row[key]), float(row["test/accuracy"]), labels.get(row["job"], "") or "unconstrained"))
    return (columns[0], points, bounds) if len(points) >= 2 else ("", [], [])


def draw_frontier(root: Path, rows: Sequence[Mapping[str, Any]], path: Optional[Path] = None) -> Optional[Path]:
    """Write the frontier of :func:`frontier_points` as a PNG (default ``root/fairness_frontier.png``);
    None, writing nothing, when the runs have no frontier."""
    column, points, bounds = frontier_points(rows)
    if not points:
        return None
    from bmrun.explain.figures import frontier, save_png  # matplotlib only when there is a frontier to draw

    path = path or root / "fairness_frontier.png"
    save_png(frontier(points, bounds, f"accuracy against the demographic-parity gap by {column}"), path)
    return path
