"""``data=timeseries data.path=<file> data.target=<column>``: forecast a series from a CSV file.

The file is read in time order (:mod:`bmrun.data.series_file`) and cut into examples
(:mod:`bmrun.data.windows`): each origin's input is the ``data.window`` rows ending at it (the
targets first, then the covariates), its labels the next ``data.horizon`` values of each target.
The split is chronological and leak-free by construction: the test block is the last
``data.test_fraction`` of the rows, the validation block the ``data.val_fraction`` before it, and
an origin belongs to the block that holds all its targets (its window may reach back across the
boundary). ``prepare()`` fits every statistic on the training windows only.

Without ``data.window`` / ``data.horizon`` both follow the series' frequency (daily data: four
weeks of history, one week ahead), stated in the run's description.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional


from bmrun.data import windows
from bmrun.data.arrays import RawData
from bmrun.data.dataset import DataConfig
from bmrun.data.series_file import Series, frequency, read_series
from bmrun.errors import ConfigError, DataError
from bmrun.rules import at_least, in_unit_interval
from bmrun.specs import FORECAST, SERIES, ForecastSpec, InputSpec, TaskSpec

# (smallest step in days, window, horizon): what a forecaster of such data usually looks at.
AUTO = ((28.0, 24, 6), (6.5, 52, 4), (0.9, 28, 7), (1 / 24 - 1e-6, 48, 24), (0.0, 60, 10))


@dataclass
class TimeseriesConfig(DataConfig):
    """``data=timeseries``.

    Attributes:
        target: The column to forecast, or a list of them (``data.target=[a,b]``).
        time: The time column ("": the first column named date, time, timestamp, ... else the
            file's row order).
        covariates: Other input columns (None: every other numeric column; [] for none).
        window: Rows of history each forecast reads (None: from the series' frequency).
        horizon: Steps ahead, each forecast directly (None: from the series' frequency).
        season: The seasonal-naive baseline's period in rows (MASE is scaled by its training
            error); 1 is the naive forecast.
        test_fraction: Share of the rows, at the end, that the test forecasts cover.
        delimiter: Field separator.
    """

    batch_size: int = 64
    normalize: bool = True
    target: Any = ""
    time: str = ""
    covariates: Optional[List[str]] = None
    window: Optional[int] = None
    horizon: Optional[int] = None
    season: int = 1
    test_fraction: float = 0.2
    delimiter: str = ","

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.path:
            raise ConfigError("path", "data=timeseries needs data.path=<file.csv> (a CSV file with a header row, one "
                                      "row per time step)")
        if not target_names(self.target):
            raise ConfigError("target", "data=timeseries needs data.target=<column> (or data.target=[a,b]), the "
                                        "column(s) to forecast")
        if self.window is not None:
            at_least("window", self.window, 1)
        if self.horizon is not None:
            at_least("horizon", self.horizon, 1)
        at_least("season", self.season, 1)
        in_unit_interval("test_fraction", self.test_fraction)
        if not 0 < self.test_fraction < 1:
            raise ConfigError("test_fraction", f"is the share of rows at the end of the series to test on, in (0, 1); "
                                               f"got {self.test_fraction}")
        if len(self.delimiter) != 1:
            raise ConfigError("delimiter", f"must be one character, got {self.delimiter!r}")


def target_names(target: Any) -> list[str]:
    """``data.target`` as a list of column names."""
    if isinstance(target, str):
        return [target] if target else []
    return [str(name) for name in (target or [])]


@dataclass
class Parsed:
    raw: RawData
    task: TaskSpec
    inputs: InputSpec


class TimeseriesDataset:
    """The ``timeseries`` option. The file is read once per config and kept (the latest only):
    config validation needs its columns, window and MASE scale, and training reuses the arrays."""

    name = "timeseries"
    config = TimeseriesConfig
    summary = "forecast a time series from your own CSV file (data.path=..., data.target=...)"
    package = "bmrun"
    builtin = True

    def __init__(self):
        self._cached: tuple = (None, None)

    def specs(self, cfg: Any) -> tuple[TaskSpec, InputSpec]:
        parsed = self._parse(cfg)
        return parsed.task, parsed.inputs

    def load(self, cfg: Any, seed: int) -> RawData:
        return self._parse(cfg).raw

    def _parse(self, cfg: Any) -> Parsed:
        path = Path(cfg.path).expanduser()
        stat = path.stat() if path.is_file() else None
        keys = ("target", "time", "covariates", "window", "horizon", "season", "test_fraction", "val_fraction",
                "delimiter")
        key = (str(path), stat and (stat.st_mtime_ns, stat.st_size)) + tuple(repr(getattr(cfg, k)) for k in keys)
        if self._cached[0] != key:
            self._cached = (key, parse(cfg))
        return self._cached[1]


def parse(cfg: Any) -> Parsed:
    """Read ``data.path`` and cut it into train, validation and test forecasts.

    Raises:
        DataError: Anything wrong with the file (see :func:`~bmrun.data.series_file.read_series`),
            or a window and horizon that leave a block without a single forecast.
    """
    targets = target_names(cfg.target)
    covariates = None if cfg.covariates is None else list(cfg.covariates)
    series = read_series(Path(cfg.path), targets=targets, covariates=covariates, time=cfg.time,
                         delimiter=cfg.delimiter)
    rows = len(series.values)
    val_start, test_start = windows.blocks(rows, cfg.test_fraction, cfg.val_fraction)
    window, horizon, chosen = _shape(cfg, series, val_start)
    earliest = max(window, cfg.season) - 1
    splits = {}
    for split, first, stop in (("train", 0, val_start), ("val", val_start, test_start), ("test", test_start, rows)):
        at = windows.origins(first, stop, horizon, earliest)
        if len(at) == 0:
            _refuse_block(cfg, series, split, first, stop, window, horizon, rows)
        splits[split] = (windows.windows(series.values, at, window),
                         windows.labels(series.values, at, len(targets), horizon, cfg.season))
    spec = ForecastSpec(horizon, tuple(targets), int(cfg.season),
                        windows.mase_scale(series.values, val_start, len(targets), cfg.season))
    notes = series.notes + ([chosen] if chosen else []) + [
        f"{len(targets)} target(s), {len(series.covariates)} covariate(s)",
        f"time blocks: train rows 1-{val_start}, val {val_start + 1}-{test_start}, test {test_start + 1}-{rows}"]
    layout = {"series": {"targets": targets, "covariates": series.covariates, "time": series.time,
                         "window": window, "horizon": horizon, "season": int(cfg.season), "dates": series.dates,
                         "step": frequency(series.stamps), "last_stamp": float(series.stamps[-1])}}
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits["train"], splits["val"], splits["test"]
    raw = RawData(x_train, y_train, x_test, y_test, x_val=x_val, y_val=y_val, notes="; ".join(notes), columns=layout)
    return Parsed(raw, TaskSpec(FORECAST, forecast=spec), InputSpec(SERIES, (window, series.values.shape[1])))


def _shape(cfg: Any, series: Series, train_rows: int) -> tuple[int, int, str]:
    """The window and horizon: as configured, or from the series' frequency (and then a note)."""
    if cfg.window is not None and cfg.horizon is not None:
        return int(cfg.window), int(cfg.horizon), ""
    days = frequency(series.stamps) / 86400.0 if series.dates else -1.0
    window, horizon = next(((w, h) for least, w, h in AUTO if days >= least), AUTO[-1][1:])
    if cfg.season > 1:  # see a whole season at least, and forecast up to one
        window, horizon = max(window, cfg.season + 1), horizon
    # Short series: keep at least half of the training block as forecast origins.
    while window > 2 and window + horizon > train_rows // 2:
        window = max(2, window // 2)
        horizon = max(1, min(horizon, window // 2))
    window = int(cfg.window) if cfg.window is not None else window
    horizon = int(cfg.horizon) if cfg.horizon is not None else horizon
    what = f"data every {days:g} days" if days >= 0 else "steps of the row order" if not series.time else \
        f"steps of {frequency(series.stamps):g} in {series.time!r}"
    return window, horizon, f"window {window}, horizon {horizon} (chosen for {what}; set data.window/data.horizon)"


def _refuse_block(cfg, series: Series, split: str, first: int, stop: int, window: int, horizon: int, rows: int):
    if split == "train":
        raise DataError(f"{cfg.path}: data.window={window} plus data.horizon={horizon} is longer than the training "
                        f"block ({stop} of {rows} rows, before the validation and test blocks); no forecast "
                        f"fits in it. Use a shorter window or horizon, or a longer series.")
    key = "data.val_fraction" if split == "val" else "data.test_fraction"
    raise DataError(f"{cfg.path}: the {split} block (rows {first + 1}-{stop} of {rows}) is shorter than "
                    f"data.horizon={horizon}, so it holds no whole forecast; raise {key} or shorten the horizon.")


DATASET = TimeseriesDataset()
