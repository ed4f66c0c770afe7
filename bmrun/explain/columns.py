"""Attributions of a CSV model (``data=csv``) by the user's own columns.

The model takes raw columns and encodes them itself (:mod:`bmrun.models.columns`): numbers are
standardised (plus a "was missing" indicator where training had gaps), categories one-hot
over the training vocabulary with an out-of-vocabulary slot. Integrated gradients are taken
with respect to that encoded vector (:mod:`bmrun.explain.inner`), from the all-zero baseline:
every number at its training mean, no missing value, no category. The components of a column
(its one-hot slots, its missing indicator) are then summed back into the column, so each row
gets one attribution per original column and these still add up to f(x) - f(baseline).

The path is integrated in 200 steps: a ReLU network on a small table is piecewise linear with
sharp kinks, and 50 steps left a few rows 4% off completeness; the encoded vectors are small,
so the extra steps cost little.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bmrun.explain import inner


def encoded_column_names(columns: dict) -> list[str]:
    """The original column of each component of the encoded vector, in the model's order.

    The order is :func:`bmrun.models.columns.column_front`'s: the standardised numbers, then
    the missing indicators of the flagged numbers, then each categorical column's slots (the
    out-of-vocabulary slot and one per vocabulary entry).
    """
    numeric = columns.get("numeric", [])
    names = [c["name"] for c in numeric] + [c["name"] for c in numeric if c["indicator"]]
    for column in columns.get("categorical", []):
        names += [column["name"]] * (len(column["vocabulary"]) + 1)
    return names


def column_order(columns: dict) -> list[str]:
    """The original columns, numbers first, as the model reads them."""
    return [c["name"] for c in columns.get("numeric", [])] + [c["name"] for c in columns.get("categorical", [])]


def encoding_layer(model):
    """The layer whose output is the encoded vector: the concatenation, or the only part."""
    names = {layer.name for layer in model.layers}
    for name in ("columns", "numeric", "categories_0"):
        if name in names:
            return model.get_layer(name)
    raise ValueError("the model has no column-encoding layer")


def column_attributions(model, x: Any, kind: str, *, steps: int = 200) -> tuple[list[str], np.ndarray, float]:
    """Per-row attributions by original column for the raw rows ``x`` (a dict of columns).

    Returns:
        ``(names, attributions [rows, columns], completeness_error)``; the error is the largest
        relative gap between a row's summed attributions and f(x) - f(baseline).
    """
    layer = encoding_layer(model)
    encoded, _ = inner.integrated_gradients_at(model, layer, x, kind, steps=steps)
    error = inner.completeness_error(model, layer, x, kind, encoded)
    component_names = encoded_column_names(model.columns)
    if len(component_names) != encoded.shape[1]:
        raise ValueError(f"the encoded vector has {encoded.shape[1]} components; its columns describe "
                         f"{len(component_names)}")
    names = column_order(model.columns)
    index = {name: i for i, name in enumerate(names)}
    owner = np.array([index[name] for name in component_names])
    per_column = np.zeros((encoded.shape[0], len(names)), np.float32)
    np.add.at(per_column.T, owner, encoded.T)  # sum each column's slots and indicator
    return names, per_column, error
