"""Sensitive columns (``data.sensitive``): their values per row, checked, and as group ids.

The values travel beside the features, not inside them: a sensitive column stays a model input
unless ``data.drop`` lists it, and its values are kept for the metrics (and the training
penalty) either way. A group is one distinct value; an empty cell is the group ``(missing)``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from bmrun.errors import DataError

MISSING_GROUP = "(missing)"
# More distinct values than this in a column of numbers is a measurement (age, income), not a
# group label: per-value groups would be tiny and their gaps noise. The user bins it first.
MAX_NUMERIC_GROUPS = 20


def group_values(values: Sequence[str]) -> np.ndarray:
    """The group of each row as an object array of str (empty cells become ``(missing)``)."""
    return np.array([MISSING_GROUP if value == "" else str(value) for value in values], dtype=object)


def check_sensitive(name: str, values: np.ndarray, source: str) -> None:
    """Refuse a sensitive column that cannot define groups.

    Args:
        name: The column.
        values: Its training rows (see :func:`group_values`).
        source: The file, for the message.

    Raises:
        DataError: One value in every row, or a numeric column with many distinct values.
    """
    distinct = sorted(set(values.tolist()))
    if len(distinct) < 2:
        raise DataError(f"{source}: the sensitive column {name!r} (data.sensitive) holds one value "
                        f"({distinct[0]!r} in every row); fairness compares at least two groups. Remove it from "
                        f"data.sensitive or pick a column with several groups.")
    numbers = [value for value in distinct if value != MISSING_GROUP and _is_number(value)]
    if len(numbers) > MAX_NUMERIC_GROUPS and len(numbers) >= len(distinct) - 1:
        raise DataError(f"{source}: the sensitive column {name!r} (data.sensitive) holds {len(distinct)} distinct "
                        f"numbers; groups need a few labels, not a measurement. Bin it into a new column first "
                        f"(e.g. age_band = '<25', '25-45', '>45') and name that column in data.sensitive "
                        f"(at most {MAX_NUMERIC_GROUPS} distinct numbers are taken as groups).")


def group_names(train_values: np.ndarray) -> list[str]:
    """The groups of the training split, sorted: group id ``i`` is ``names[i]``."""
    return sorted(set(train_values.tolist()))


def group_ids(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Group id of each row (int32); a value the training split did not have gets ``len(names)``."""
    index = {name: i for i, name in enumerate(names)}
    return np.array([index.get(value, len(names)) for value in values.tolist()], dtype=np.int32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
