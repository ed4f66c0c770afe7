"""Reading a CSV file into typed columns (NumPy only): the parsing half of ``data=csv``.

Every problem with the file is one :class:`~bmrun.errors.DataError` that names the file, the
column and the line: a missing file, bytes that are not UTF-8, a row with the wrong number of
fields, a numeric column with stray strings, a target with one class. What spreadsheet programs
write is read as meant: a UTF-8 byte-order mark, Windows line endings, and ``;`` (or tab, ``|``)
between fields where the header holds no comma.

Column kinds: ``numeric`` (floats, NaN where missing), ``categorical`` (strings, ``""`` where
missing; integers with few distinct values count as categories) and ``text`` (free text: many
distinct values of several words).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from bmrun.errors import DataError

NUMERIC, CATEGORICAL, TEXT = "numeric", "categorical", "text"
# Spellings of "no value" in the wild; compared lower-cased after stripping spaces.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
FEW_INTEGERS = 10  # integer columns with at most this many distinct values are categories
FEW_CLASSES = 20  # integer targets with at most this many distinct values are classes
STRAY_SHARE = 0.9  # a column whose values are at least 90% numbers but not all: stray strings
# An inferred column missing in at least 99% of the rows is left out (with a note): its mean,
# spread or vocabulary would come from a handful of values. Declaring its kind keeps it.
MOSTLY_MISSING = 0.99
# Separators tried, in order, when the header holds none of the configured one (Excel in locales
# with a decimal comma writes ";").
OTHER_DELIMITERS = (";", "\t", "|")


@dataclass
class Table:
    """A CSV file as text columns.

    Attributes:
        path: The file.
        columns: Column name -> one stripped string per row.
        lines: The line number (1-based, in the file) where each row starts.
        delimiter: The field separator the file was read with.
    """

    path: Path
    columns: dict[str, list[str]]
    lines: list[int] = field(default_factory=list)
    delimiter: str = ","

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.lines)

    def require(self, name: str, key: str) -> list[str]:
        """The column ``name`` (given by ``data.<key>``), or an error listing the columns."""
        if name not in self.columns:
            raise DataError(f"{self.path}: no column {name!r} (data.{key}); the header has "
                            f"{len(self.columns)} columns: {', '.join(self.names)}.")
        return self.columns[name]


def read_table(path: Path, delimiter: str = ",") -> Table:
    """Read a whole CSV file with a header row.

    Raises:
        DataError: No such file, not UTF-8 (with the line), no header, a duplicated column
            name (with both column numbers), or a row whose number of fields differs from the header's (with the line).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file (data.path); give the path of a CSV file with a header row.")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # the BOM spreadsheet programs write is not a column name
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: byte 0x{data[error.start]:02x} is not UTF-8 text. Save the file "
                        f"as UTF-8 (e.g. iconv -f latin1 -t utf-8 {path.name} > fixed.csv).") from None
    delimiter = _delimiter(text, delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise DataError(f"{path}: empty file; the first line must name the columns.")
        # Any name is kept as written (the model keys it safely: bmrun.data.columns.column_keys).
        names = [h.strip() for h in header]
        _refuse_duplicates(path, names)
        rows, lines = [], []
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(names):
                raise DataError(f"{path}, line {start}: {len(row)} fields, but the header has {len(names)} "
                                f"({delimiter!r}-separated); fix that row (a missing or extra {delimiter!r}, "
                                f"or an unquoted {delimiter!r} inside a value).")
            if row:
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path}, line {reader.line_num}: not valid CSV ({error}).") from None
    if not rows:
        raise DataError(f"{path}: the header has no rows under it.")
    columns = {name: [row[i].strip() for row in rows] for i, name in enumerate(names)}
    return Table(path, columns, lines, delimiter)


def _delimiter(text: str, configured: str) -> str:
    """``configured``, or the first of :data:`OTHER_DELIMITERS` in a header that lacks it (a
    header of one column with ``;`` in its name is a ``;``-separated file, not a one-column one)."""
    header = text.split("\n", 1)[0]
    if configured in header:
        return configured
    return next((other for other in OTHER_DELIMITERS if other in header), configured)


def _refuse_duplicates(path: Path, names: list[str]) -> None:
    """One error naming every repeated column name and the positions (1-based) it stands at."""
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(names, 1):
        positions.setdefault(name, []).append(number)
    repeated = [(name, numbers) for name, numbers in positions.items() if len(numbers) > 1]
    if repeated:
        listed = "; ".join(f"columns {' and '.join(map(str, numbers))} are both named {name!r}"
                           if len(numbers) == 2 else
                           f"columns {', '.join(map(str, numbers))} are all named {name!r}"
                           for name, numbers in repeated)
        raise DataError(f"{path}, line 1: {listed}. Every column needs its own name: rename the repeated "
                        f"ones in the header (e.g. a suffix _2), so data.target, data.drop and predictions can "
                        f"tell them apart.")


def is_missing(value: str) -> bool:
    return value.lower() in MISSING_TOKENS


def as_number(value: str) -> Optional[float]:
    """The value as a finite float, or None when it is not a number."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def infer_kind(table: Table, name: str) -> Optional[str]:
    """``numeric``, ``categorical`` or ``text`` from a column's values; None when all are missing.

    Raises:
        DataError: Mostly numbers with a few strings in between (stray values).
    """
    present = [v for v in table.columns[name] if not is_missing(v)]
    if not present:
        return None
    numbers = [as_number(v) for v in present]
    strays = sum(n is None for n in numbers)
    if strays == 0:
        integral = all(float(n).is_integer() for n in numbers)
        return CATEGORICAL if integral and len(set(numbers)) <= FEW_INTEGERS else NUMERIC
    if strays <= (1 - STRAY_SHARE) * len(present):
        numeric_values(table, name, hint=True)  # raises, naming the first stray value and its line
    distinct = len(set(present))
    words = sum(len(v.split()) for v in present) / len(present)
    return TEXT if words >= 3 and distinct > 0.5 * len(present) else CATEGORICAL


def numeric_values(table: Table, name: str, *, hint: bool = False) -> np.ndarray:
    """float32 values of a numeric column, NaN where missing.

    Raises:
        DataError: A value that is not a number, named with its line.
    """
    out = np.full(len(table), np.nan, np.float32)
    for i, value in enumerate(table.columns[name]):
        if is_missing(value):
            continue
        number = as_number(value)
        if number is None:
            why = "most of its values are numbers" if hint else "it is numeric (data.numeric)"
            raise DataError(f"{table.path}, line {table.lines[i]}: column {name!r} holds {value!r}, but {why}. "
                            f"Fix or blank that value (empty means missing), or declare the column "
                            f"categorical with data.categorical=[{name}].")
        out[i] = number
    return out


def string_values(table: Table, name: str) -> np.ndarray:
    """A categorical or text column as an object array of str, ``""`` where missing."""
    return np.array(["" if is_missing(v) else v for v in table.columns[name]], dtype=object)


def column_kinds(table: Table, *, target: str, text: Optional[str], categorical: Sequence[str],
                 numeric: Sequence[str], drop: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The kind of every feature column (declared or inferred) and notes on what was inferred.

    Raises:
        DataError: A declared column that is not in the file, or declared twice.
    """
    for key, names in (("categorical", categorical), ("numeric", numeric), ("drop", drop)):
        for name in names:
            table.require(name, key)
    twice = sorted(set(categorical) & set(numeric))
    if twice:
        raise DataError(f"{table.path}: column(s) {', '.join(twice)} are in both data.categorical and data.numeric.")
    kinds, notes, skipped = {}, [], []
    for name in table.names:
        if name in (target, text) or name in drop:
            continue
        if name in categorical:
            kinds[name] = CATEGORICAL
        elif name in numeric:
            numeric_values(table, name)  # every value must parse
            kinds[name] = NUMERIC
        else:
            kind = infer_kind(table, name)
            missing = sum(map(is_missing, table.columns[name])) / len(table)
            if kind is None or kind == TEXT:
                skipped.append(f"{name} ({'empty' if kind is None else 'free text'})")
            elif missing >= MOSTLY_MISSING:
                skipped.append(f"{name} ({missing:.1%} missing; data.{kind}=[{name}] keeps it)")
            else:
                kinds[name] = kind
    if skipped:
        notes.append(f"left out {', '.join(skipped)}")
    return kinds, notes
