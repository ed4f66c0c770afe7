"""``bmrun-predict`` for models of raw columns (``data=csv``): CSV rows and texts as model input.

A table model takes a dict of its columns, read from CSV files with the same header names as
its training file (extra columns, such as the target, are ignored; an empty value is missing)
and keyed by their safe internal names (:func:`bmrun.data.columns.column_keys`);
a text model takes strings: its text column from CSV files, or ``--text`` arguments. Every file
goes through :mod:`bmrun.data.csv_reader`, so a bad file fails as in training, naming the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bmrun.data import csv_reader as reader
from bmrun.data.columns import column_key
from bmrun.errors import DataError
from bmrun.data.csv_modalities import read_rows
import csv
import io
from bmrun.run_dir import atomic_write


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
    if "modalities" in columns:  # model=multimodal: image paths relative to each file's folder
        return _modality_rows(columns["modalities"], paths, texts)
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
    numeric = [(c["name"], column_key(c)) for c in columns.get("numeric", [])]
    categorical = [(c["name"], column_key(c)) for c in columns.get("categorical", [])]
    parts: dict[str, list[np.ndarray]] = {key: [] for _, key in numeric + categorical}
    for path in paths:
        table = reader.read_table(Path(path).expanduser())
        absent = [repr(name) for name, _ in numeric + categorical if name not in table.columns]
        if absent:
            raise DataError(f"{table.path}: the model needs the column(s) {', '.join(absent)}, which the header "
                            f"lacks (it has {', '.join(map(repr, table.names))}); leave a value empty when it is "
                            f"missing.")
        for name, key in numeric:
            parts[key].append(reader.numeric_values(table, name))
        for name, key in categorical:
            parts[key].append(reader.string_values(table, name))
        labels += [f"{path}:{line}" for line in table.lines]
    return {key: np.concatenate(arrays) for key, arrays in parts.items()}, labels


def _modality_rows(modalities: dict, paths: Sequence[str], texts: Sequence[str]) -> tuple[dict, list[str]]:
    if texts:
        raise DataError("--text is for models trained on one text column; this model reads several modalities: "
                        "give CSV files with its columns.")
    rows = [read_rows(modalities, Path(path).expanduser()) for path in paths]
    batch = {key: np.concatenate([x[key] for x, _ in rows]) for key in (rows[0][0] if rows else {})}
    return batch, [label for _, labels in rows for label in labels]


def _require(table: reader.Table, name: str, what: str) -> str:
    if name not in table.columns:
        raise DataError(f"{table.path}: the model reads the {what} column {name!r}, which the header lacks "
                        f"(it has {', '.join(table.names)}).")
    return name


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[:width - 1] + "…")


def explain_rows(run, batch: dict, records: list[dict]) -> Path:
    """Add each row's attributions by original column to ``records`` (``record["attributions"]``)
    and write them with the predictions to ``<run dir>/explain/predictions.csv``.

    Columns of that file: the prediction's (``input``, ``class``, ``name``, ``probability`` or
    ``value``), then ``attr_<column>`` for every column the model reads.
    """

    # bmrun.explain.columns loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.columns import column_attributions
    from bmrun.explain.report import EXPLAIN

    names, maps, _ = column_attributions(run.model, batch, run.task_kind)
    for record, row in zip(records, maps):
        record["attributions"] = {name: float(value) for name, value in zip(names, row)}
    fields = [c for c in ("input", "class", "name", "probability", "value") if any(c in r for r in records)]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(fields + [f"attr_{name}" for name in names])
    for record in records:
        writer.writerow([record.get(field, "") for field in fields]
                        + [f"{record['attributions'][name]:.6g}" for name in names])
    path = run.run_dir / EXPLAIN / "predictions.csv"
    atomic_write(path, text.getvalue())
    return path


def print_explanations(records: Sequence[dict], limit: int = 10, widest: int = 8) -> None:
    """The first ``limit`` rows' attributions in a table: the ``widest`` columns by mean |attribution|."""
    # rich's tables: only when printing results, not for --help
    from rich.table import Table

    # bmrun.console brings rich: only when this runs, keeps --help light
    from bmrun import console

    shown = list(records[:limit])
    if not shown:
        return
    names = list(shown[0]["attributions"])
    weight = {name: np.mean([abs(r["attributions"][name]) for r in shown]) for name in names}
    names = sorted(names, key=lambda n: -weight[n])[:widest]
    table = Table(title="attributions by column (integrated gradients; + pushes towards the prediction)",
                  title_justify="left")
    table.add_column("input", overflow="fold")
    for name in names:
        table.add_column(name, justify="right")
    for record in shown:
        table.add_row(record["input"], *[f"{record['attributions'][n]:+.3g}" for n in names])
    console.out.print(table)
