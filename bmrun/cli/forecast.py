"""``bmrun-predict <run dir> --forecast [--from new.csv]``: the next ``horizon`` values of a series.

The model of a forecast run (``data=timeseries``) reads the last ``data.window`` rows of the file
it was trained on, or of ``--from`` (the same columns, e.g. the series with newer rows), and
forecasts the ``horizon`` steps after its last row. ``forecast.csv`` holds one row per step: the
time stamps continued at the series' frequency (calendar months for monthly data), then each
target's forecast.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np

from bmrun import console
from bmrun.errors import ConfigError, DataError
from bmrun.run_dir import atomic_path
from bmrun.data.series_file import continue_times, frequency, read_series


def forecast(run_dir: str, source: Optional[str] = None) -> tuple[list[str], list[dict]]:
    """The forecast of ``run_dir``'s model after the last row of its training file (or ``source``).

    Returns:
        The column names (time, then the targets) and one row per horizon step.

    Raises:
        ConfigError: The run is not a forecast run.
        DataError: The file lacks a column the model reads, or has fewer rows than its window.
    """
    # TensorFlow side (bmrun.models.loading): kept out of --help and config composition
    from bmrun.models.loading import open_run

    run = open_run(run_dir, "bmrun-predict")
    layout = (getattr(run.model, "columns", None) or {}).get("series")
    if not layout:
        raise ConfigError("--forecast", f"{run_dir} is not a forecast run (data=timeseries); without --forecast, "
                          f"bmrun-predict reads input files.")
    data = run.cfg.data
    path = Path(source or data.path).expanduser()
    series = read_series(path, targets=layout["targets"], covariates=layout["covariates"], time=layout["time"],
                         delimiter=str(data.get("delimiter", ",")))
    window, horizon, targets = layout["window"], layout["horizon"], layout["targets"]
    if len(series.values) < window:
        raise DataError(f"{path}: {len(series.values)} rows after the leading gaps, but the model reads a window of "
                        f"{window}; give the file at least {window} rows.")
    x = series.values[None, -window:].astype(np.float32)
    values = np.asarray(run.model.predict(x, verbose=0), np.float64).reshape(horizon, len(targets))
    step = frequency(series.stamps) if len(series.stamps) > 1 else float(layout["step"])
    stamps = continue_times(float(series.stamps[-1]), step, horizon, series.dates)
    names = [layout["time"] or "step"] + list(targets)
    rows = [{names[0]: stamp, **{name: float(v) for name, v in zip(targets, row)}} for stamp, row in zip(stamps, values)]
    return names, rows


def write_forecast(names: list[str], rows: list[dict], out: Path) -> Path:
    """``forecast.csv``, written whole or not at all."""
    with atomic_path(out) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=names)
            writer.writeheader()
            writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
    return out


def main(args) -> None:
    """``bmrun-predict --forecast``: print the forecast and write it to ``--out``."""
    names, rows = forecast(args.run_dir, getattr(args, "source", None))
    out = write_forecast(names, rows, Path(args.out).expanduser())
    for row in rows:
        console.out.print("  ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    console.out.print(f"forecast written to {out}")
