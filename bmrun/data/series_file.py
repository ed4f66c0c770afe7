"""A time series CSV read into ordered numeric columns: time stamps, targets, covariates (NumPy).

The file is read by :mod:`bmrun.data.csv_reader` (any column name is kept as written: the model
reads one array, so names never become Python identifiers). Rows are put in time order; a time
column that goes back or repeats is refused naming its rows, because sorting it silently would
hide a broken export. Gaps in the targets and covariates are filled forward (never backward: that
would let a later value leak into an earlier window) and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from bmrun.data import csv_reader as reader
from bmrun.errors import DataError

DATE_FORMATS = ("%Y/%m/%d", "%d.%m.%Y", "%m/%d/%Y", "%Y%m%d")
TIME_NAMES = ("date", "time", "timestamp", "datetime", "ds", "day", "month", "week")


@dataclass
class Series:
    """One series in time order.

    Attributes:
        values: ``(rows, columns)`` float64, targets first, then covariates, gaps filled forward.
        targets, covariates: The column names, in that order.
        time: The time column's name ("" when the rows are in file order).
        stamps: Each row's time: seconds since 1970 (dates) or the column's numbers.
        dates: Whether ``stamps`` are dates.
        filled: Values filled forward, per column name (only columns with gaps).
        notes: What was inferred, for the run's description.
    """

    values: np.ndarray
    targets: list[str]
    covariates: list[str]
    time: str
    stamps: np.ndarray
    dates: bool
    filled: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_series(path: Path, *, targets: Sequence[str], covariates: Optional[Sequence[str]], time: str,
                delimiter: str = ",") -> Series:
    """Read ``path`` into a :class:`Series`.

    Args:
        targets: The target columns (numbers).
        covariates: Extra input columns, or None for every other numeric column.
        time: The time column, or "" to take the first column named like one (date, time, ...)
            or else the file's row order.

    Raises:
        DataError: A missing column, a non-numeric target, a target with no value at all, an
            unparseable time stamp (the first bad row named), a time column that goes back or
            repeats (the rows named).
    """
    table = reader.read_table(Path(path), delimiter)
    notes = []
    for name in targets:
        table.require(name, "target")
    if time:
        table.require(time, "time")
    else:
        time = next((n for n in table.names if n.strip().lower() in TIME_NAMES), "")
        notes.append(f"time column {time!r} (data.time)" if time else "no time column: rows in file order")
    if time in targets:
        raise DataError(f"{table.path}: data.time and data.target both name {time!r}; the time column only orders "
                        f"the rows.")
    target_values = [_numeric(table, name, "target") for name in targets]
    if covariates is None:
        covariates = [n for n in table.names if n not in targets and n != time
                      and reader.infer_kind(table, n) == reader.NUMERIC]
    else:
        for name in covariates:
            table.require(name, "covariates")
    covariate_values = [_numeric(table, name, "covariate") for name in covariates]
    if time:
        stamps, dates = parse_times(table, time)
        _check_order(table, time, stamps)
    else:
        stamps, dates = np.arange(len(table), dtype=np.float64), False
    values = np.stack(target_values + covariate_values, axis=1)
    values, filled, dropped = fill_forward(values, list(targets) + list(covariates))
    if dropped:
        notes.append(f"{dropped} leading rows without every value left out")
    if filled:
        notes.append("gaps filled forward: " + ", ".join(f"{n} {c}" for n, c in filled.items()))
    return Series(values, list(targets), list(covariates), time, stamps[dropped:], dates, filled, notes)


def _numeric(table: reader.Table, name: str, role: str) -> np.ndarray:
    """A column's numbers (NaN where missing); any other text is refused naming its line."""
    column = table.columns[name]
    values = np.full(len(column), np.nan)
    for i, value in enumerate(column):
        if reader.is_missing(value):
            continue
        number = reader.as_number(value)
        if number is None:
            raise DataError(f"{table.path}, line {table.lines[i]}: the {role} {name!r} holds {value!r}, but a "
                            f"forecast {role} must be numbers (a missing value may be empty or NA).")
        values[i] = number
    if np.isnan(values).all():
        raise DataError(f"{table.path}: the {role} {name!r} has no value in any row (only empty or NA cells); "
                        f"there is nothing to forecast from.")
    return values


def parse_times(table: reader.Table, name: str) -> tuple[np.ndarray, bool]:
    """The time column as numbers: seconds since 1970 for dates, else the numbers themselves."""
    column = table.columns[name]
    numbers = [reader.as_number(v) for v in column]
    if all(n is not None for n in numbers):
        return np.asarray(numbers, np.float64), False
    stamps = np.zeros(len(column))
    for i, value in enumerate(column):
        moment = parse_date(value)
        if moment is None:
            raise DataError(f"{table.path}, line {table.lines[i]}: the time column {name!r} holds {value!r}, which "
                            f"is neither a date (e.g. 2024-01-31 or 2024-01-31T09:30) nor a number. Fix that row, "
                            f"or name another column with data.time=<column>.")
        stamps[i] = moment.timestamp()
    return stamps, True


def parse_date(value: str) -> Optional[datetime]:
    """An ISO date or date-time (or a few common day formats), as UTC; None if it is none."""
    moment = None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        for pattern in DATE_FORMATS:
            try:
                moment = datetime.strptime(value.strip(), pattern)
                break
            except ValueError:
                continue
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _check_order(table: reader.Table, name: str, stamps: np.ndarray) -> None:
    steps = np.diff(stamps)
    bad = np.flatnonzero(steps <= 0)
    if len(bad):
        pairs = ", ".join(f"lines {table.lines[i]} and {table.lines[i + 1]}" for i in bad[:3])
        what = "repeats" if steps[bad[0]] == 0 else "goes back"
        raise DataError(f"{table.path}: the time column {name!r} {what} ({pairs}"
                        f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}: "
                        f"{table.columns[name][bad[0]]!r} then {table.columns[name][bad[0] + 1]!r}). A forecast "
                        f"needs one row per time step in increasing order; sort the file or drop the duplicates.")


def fill_forward(values: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, dict[str, int], int]:
    """Gaps filled with the last value before them; rows before every column has a value dropped.

    Returns:
        The filled values, how many cells each column had filled, and how many leading rows went.
    """
    present = ~np.isnan(values)
    start = int(max(np.argmax(present[:, j]) for j in range(values.shape[1])))
    values = values[start:].copy()
    filled = {}
    for j, name in enumerate(names):
        column = values[:, j]
        gaps = np.isnan(column)
        if gaps.any():
            index = np.where(~gaps, np.arange(len(column)), 0)
            values[:, j] = column[np.maximum.accumulate(index)]
            filled[name] = int(gaps.sum())
    return values, filled, start


def frequency(stamps: np.ndarray) -> float:
    """The series' usual step (the median difference of its time stamps)."""
    return float(np.median(np.diff(stamps))) if len(stamps) > 1 else 1.0


def continue_times(last: float, step: float, count: int, dates: bool) -> list[str]:
    """``count`` time stamps after ``last`` at the series' step, as text (calendar months and
    years for monthly and yearly dates, whose steps are not a fixed number of seconds)."""
    if not dates:
        stamps = [last + step * k for k in range(1, count + 1)]
        return [str(int(s)) if float(s).is_integer() else repr(float(s)) for s in stamps]
    start = datetime.fromtimestamp(last, timezone.utc)
    days = step / 86400.0
    months = 1 if 28 <= days <= 31 else 3 if 89 <= days <= 92 else 12 if 365 <= days <= 366 else 0
    result = []
    for k in range(1, count + 1):
        if months:
            total = start.month - 1 + months * k
            moment = _same_day(start, start.year + total // 12, total % 12 + 1)
        else:
            moment = start + timedelta(seconds=step * k)
        whole_days = moment.hour == moment.minute == moment.second == 0
        result.append(moment.strftime("%Y-%m-%d") if whole_days else moment.strftime("%Y-%m-%dT%H:%M:%S"))
    return result


def _same_day(start: datetime, year: int, month: int) -> datetime:
    """``start``'s day in another month (the month's last day where it has fewer)."""
    for day in range(start.day, 27, -1):
        try:
            return start.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return start.replace(year=year, month=month, day=min(start.day, 28))
