"""Reading an interactions file for ``data=ratings``: CSV with a header, or MovieLens' own formats.

Kept apart from :mod:`bmrun.data.ratings` (the dataset: config, generator, splits) because
telling file formats apart and explaining what is wrong with a file is a job of its own. Accepted:

* a delimited text file with a header row (comma, tab or semicolon, sniffed), whose columns are
  named by ``data.user``, ``data.item``, ``data.rating`` and, optionally, ``data.timestamp``;
* MovieLens-100K ``u.data``: tab-separated ``user item rating timestamp``, no header;
* MovieLens-1M/10M ``ratings.dat``: ``user::item::rating::timestamp``, no header.

Ids are kept as the strings the file holds ("any type"): the model maps them to rows itself.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from bmrun.errors import DataError

HEADERLESS = ("user", "item", "rating", "timestamp")  # MovieLens' column order


@dataclass
class Interactions:
    """One row per (user, item, rating) event, in file order."""

    users: np.ndarray  # str
    items: np.ndarray  # str
    ratings: np.ndarray  # float32
    timestamps: Optional[np.ndarray] = None  # float64 seconds (or any increasing number)

    def __len__(self) -> int:
        return len(self.ratings)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_interactions(path: Path, *, user: str, item: str, rating: str,
                      timestamp: Optional[str]) -> Interactions:
    """Read ``path`` (see the module docstring for the formats).

    Raises:
        DataError: Unreadable or empty file, a named column missing (the columns present are
            listed), a rating or timestamp that is not a number.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error}).") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: the file is empty; data=ratings needs one interaction per line "
                        f"(a header naming {user}, {item}, {rating}, then rows).")
    first = lines[0]
    if "::" in first:
        rows = [line.split("::") for line in lines]
        return _from_rows(path, rows, dict(zip(HEADERLESS, range(4))), "timestamp", first_line=1)
    if "\t" in first and all(_numeric(field) for field in first.split("\t")[2:]) and not any(
            name in first.split("\t") for name in (user, item, rating)):
        rows = [line.split("\t") for line in lines]
        return _from_rows(path, rows, dict(zip(HEADERLESS, range(4))), "timestamp", first_line=1)
    try:
        delimiter = csv.Sniffer().sniff(first, delimiters=",\t;").delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [name.strip() for name in rows[0]]
    wanted = {"user": user, "item": item, "rating": rating}
    if timestamp:
        wanted["timestamp"] = timestamp
    missing = [f"data.{key}={name!r}" for key, name in wanted.items() if name not in header]
    if missing:
        raise DataError(f"{path}: no column {', '.join(missing)}; its columns are {', '.join(map(repr, header))}. "
                        f"Name yours with data.user=, data.item=, data.rating= (and data.timestamp=).")
    if len(rows) == 1:
        raise DataError(f"{path}: has a header but no interactions.")
    columns = {key: header.index(name) for key, name in wanted.items()}
    return _from_rows(path, rows[1:], columns, timestamp, first_line=2)


def _from_rows(path: Path, rows: list, columns: dict, timestamp_name: Optional[str],
               first_line: int) -> Interactions:
    width = max(columns.values()) + 1
    for number, row in enumerate(rows, start=first_line):
        if len(row) < width:
            raise DataError(f"{path}: line {number} has {len(row)} fields; {width} expected.")
    users = np.array([row[columns["user"]].strip() for row in rows], dtype=str)
    items = np.array([row[columns["item"]].strip() for row in rows], dtype=str)
    ratings = _numbers(path, rows, columns["rating"], "rating", first_line)
    stamps = None
    if "timestamp" in columns:
        stamps = _numbers(path, rows, columns["timestamp"], timestamp_name or "timestamp", first_line,
                          dtype=np.float64)
    return Interactions(users, items, ratings.astype(np.float32), stamps)


def _numbers(path: Path, rows: list, column: int, name: str, first_line: int, dtype=np.float64) -> np.ndarray:
    """A column as numbers, or a DataError naming the first line that is not one."""
    values = [row[column].strip() for row in rows]
    try:
        numbers = np.array(values, dtype=dtype)
    except ValueError:
        numbers = None
    if numbers is None or not np.isfinite(numbers).all():
        for number, value in enumerate(values, start=first_line):
            if not _numeric(value) or not np.isfinite(float(value)):
                raise DataError(f"{path}: line {number}: the {name} column holds {value!r}, not a number; "
                                f"data=ratings needs numeric {name}s.")
    return numbers
