"""``bmrun-predict`` for models of raw columns (``data=csv``): CSV rows and texts as model input.

A table model takes a dict of its columns, read from CSV files with the same header names as
its training file (extra columns, such as the target, are ignored; an empty value is missing);
a text model takes strings: its text column from CSV files, or ``--text`` arguments. Every file
goes through :mod:`bmrun.data.csv_reader`, so a bad file fails as in training, naming the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bmrun.data import csv_reader as reader
from bmrun.errors import DataError


def raw_column_batch(columns: dict, paths: Sequence[str], texts: Sequence[str]) -> tuple[object, list[str]]:
    """The model input for every row of ``paths`` (and every ``texts`` string) and one label each.

    Args:
        columns: The model's fitted encoding (its ``columns`` config).
        paths: CSV files.
        texts: Strings for a text model (``--text``).

    Raises:
        DataError: A file that is not a CSV the model can read, a column it needs missing, or
            ``--text`` given to a table model.
    """
    labels: list[str] = []
    if "text" in columns:
        name = columns["text"]["name"]
        values: list[np.ndarray] = []
        for path in paths:
            table = reader.read_table(Path(path).expanduser())
            values.append(reader.string_values(table, _require(table, name, "text")))
            labels += [f"{path}:{line}" for line in table.lines]
        values.append(np.array(list(texts), dtype=object))
        labels += [_short(t) for t in texts]
        return np.concatenate(values) if values else np.array([], dtype=object), labels
    if texts:
        raise DataError("--text is for models trained on a text column (data.text=...); this model reads a "
                        "table: give CSV files with its columns.")
    numeric = [c["name"] for c in columns.get("numeric", [])]
    categorical = [c["name"] for c in columns.get("categorical", [])]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in numeric + categorical}
    for path in paths:
        table = reader.read_table(Path(path).expanduser())
        absent = [name for name in parts if name not in table.columns]
        if absent:
            raise DataError(f"{table.path}: the model needs the column(s) {', '.join(absent)}, which the header "
                            f"lacks (it has {', '.join(table.names)}); leave a value empty when it is missing.")
        for name in numeric:
            parts[name].append(reader.numeric_values(table, name))
        for name in categorical:
            parts[name].append(reader.string_values(table, name))
        labels += [f"{path}:{line}" for line in table.lines]
    return {name: np.concatenate(arrays) for name, arrays in parts.items()}, labels


def _require(table: reader.Table, name: str, what: str) -> str:
    if name not in table.columns:
        raise DataError(f"{table.path}: the model reads the {what} column {name!r}, which the header lacks "
                        f"(it has {', '.join(table.names)}).")
    return name


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[:width - 1] + "…")
