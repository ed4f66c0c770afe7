"""What each modality brings, from a ``data.drop_modality`` sweep (``bmrun-report``).

A run with ``data.drop_modality=image`` is the same run without its image columns. Its
contribution is how much worse it does than the run with every modality (``none``, or no such
override) that shares all its other overrides: the objective's drop (a rise, for an objective
that is minimised), and the same for the objective's test counterpart when the runs have one.
A positive contribution means the modality helped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from bmrun.objective import objective_direction

KEY = "data.drop_modality"
ALL = "none"


@dataclass
class Contribution:
    """One dropped modality against its reference run."""

    modality: str
    others: str  # the overrides the two runs share (besides data.drop_modality)
    metric: str
    with_all: float
    without: float

    @property
    def value(self) -> float:
        """How much the modality helped: positive when the run without it did worse."""
        gap = self.with_all - self.without
        return gap if objective_direction(self.metric) == "max" else -gap


def _split(overrides: str) -> tuple[str, str]:
    """``(dropped modality, the other overrides)`` of a row's override string."""
    dropped, others = ALL, []
    for item in overrides.split():
        key, _, value = item.partition("=")
        if key.lstrip("+~") == KEY:
            dropped = value or ALL
        else:
            others.append(item)
    return dropped, " ".join(sorted(others))


def _metrics(row: Mapping[str, Any]) -> list[str]:
    objective = row.get("objective")
    if not objective:
        return []
    test = "test/" + objective.split("/", 1)[-1]
    return [objective] + ([test] if test != objective and test in row else [])


def contributions(rows: Sequence[Mapping[str, Any]]) -> list[Contribution]:
    """Each dropped modality's contribution; empty unless the rows hold such an ablation."""
    completed = [row for row in rows if row.get("status") == "completed"]
    if not any(_split(row.get("overrides", ""))[0] != ALL for row in completed):
        return []
    reference: dict[str, Mapping[str, Any]] = {}
    for row in completed:
        dropped, others = _split(row.get("overrides", ""))
        if dropped == ALL:
            reference.setdefault(others, row)
    found = []
    for row in completed:
        dropped, others = _split(row.get("overrides", ""))
        base = reference.get(others)
        if dropped == ALL or base is None:
            continue
        for metric in _metrics(base):
            value = row.get("objective_value") if metric == row.get("objective") else row.get(metric)
            with_all = base.get("objective_value") if metric == base.get("objective") else base.get(metric)
            if isinstance(value, (int, float)) and isinstance(with_all, (int, float)):
                found.append(Contribution(dropped, others, metric, float(with_all), float(value)))
    return found


def print_contributions(rows: Sequence[Mapping[str, Any]], fmt: str = "table") -> Optional[list[Contribution]]:
    """The contributions table under ``bmrun-report``'s table (Markdown with ``--format markdown``)."""
    found = contributions(rows)
    if not found:
        return None
    # rich console: only when a table is printed, so the summary CSV path stays light
    from bmrun import console

    several = len({item.others for item in found}) > 1
    header = ["modality"] + (["other overrides"] if several else []) + ["metric", "all modalities", "without it",
                                                                          "contribution"]
    lines = [[item.modality] + ([item.others or "-"] if several else []) +
             [item.metric, f"{item.with_all:.4f}", f"{item.without:.4f}", f"{item.value:+.4f}"] for item in found]
    if fmt == "markdown":
        console.out.print("\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                                    + ["| " + " | ".join(line) + " |" for line in lines]), markup=False)
    elif fmt == "table":
        # rich: only for the printed table
        from rich.table import Table

        table = Table(title="what each modality brings (data.drop_modality: the run with all modalities minus "
                            "the run without it; positive: it helped)", title_justify="left")
        for column in header:
            table.add_column(column, justify="left" if column in ("modality", "other overrides", "metric") else "right")
        for line in lines:
            table.add_row(*line)
        console.out.print(table)
    return found
