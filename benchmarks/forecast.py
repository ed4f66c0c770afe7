"""Forecast quality and speed: bmrun's families against a careful user's Ridge and the baselines.

Generates two realistic daily series of 10 years (3,650 rows x 5 columns) and forecasts each with
bmrun in fresh processes, as a user would type it:

* ``smooth``: sales with a trend, weekly and yearly seasonality and little noise, beside four
  covariates (temperature, a promotion flag, a price index, a holiday flag);
* ``price``: a random-walk price (geometric, daily volatility 1%) beside volume and three
  market covariates.

For each, ``model=linear`` is compared with scikit-learn's ``Ridge`` autoregression on the same
windows (inputs and targets relative to the last observed value: the baseline a careful user
writes), RMSE within 5% being the bar; every family's MASE (against the seasonal-naive forecast,
``data.season=7``) and wall time are reported, the best family's MASE <= 0.5 on the smooth series
being the other bar.

    .venv/bin/python benchmarks/forecast.py                # prints the table
    .venv/bin/python benchmarks/forecast.py --families linear,mlp
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ROWS, WINDOW, HORIZON, SEASON = 3650, 28, 7, 7


def generate(kind: str, path: Path, seed: int = 0) -> Path:
    """A 10-year daily series with four covariates, written as CSV."""
    rng = np.random.default_rng(seed)
    t = np.arange(ROWS)
    temp = 12 + 9 * np.sin(2 * np.pi * (t - 100) / 365.25) + rng.normal(0, 1.5, ROWS)
    promo = (rng.random(ROWS) < 0.1).astype(float)
    index = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, ROWS)))
    holiday = (t % 365 == 359).astype(float)
    if kind == "smooth":
        target = (100 + 0.01 * t + 8 * np.sin(2 * np.pi * t / 7) + 4 * np.cos(2 * np.pi * t / 7)
                  + 10 * np.sin(2 * np.pi * t / 365.25) + 0.5 * promo + rng.normal(0, 0.3, ROWS))
    else:
        target = 50 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, ROWS)))
        promo = np.round(1e6 * np.exp(rng.normal(0, 0.3, ROWS)))  # volume
    start = dt.date(2014, 1, 1)
    with open(path, "w") as handle:
        handle.write("date,target,temp,promo,index,holiday\n")
        for i in range(ROWS):
            handle.write(f"{start + dt.timedelta(days=i)},{target[i]:.4f},{temp[i]:.3f},{promo[i]:g},"
                         f"{index[i]:.4f},{holiday[i]:g}\n")
    return path


def overrides(path: Path, family: str) -> list[str]:
    return [f"model={family}", "data=timeseries", f"data.path={path}", "data.target=target",
            f"data.window={WINDOW}", f"data.horizon={HORIZON}", f"data.season={SEASON}"]


def run_bmrun(path: Path, family: str, workdir: Path) -> tuple[dict, float]:
    """The test block of a fresh ``bmrun`` process and its wall time (from the shell prompt)."""
    run_dir = workdir / f"{path.stem}_{family}"
    command = [sys.executable, "-m", "bmrun", *overrides(path, family), f"hydra.run.dir={run_dir}",
               "logger.progress_bar=false", "logger.print_config=false"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=workdir)
    seconds = time.perf_counter() - start
    return json.loads((run_dir / "metrics.json").read_text())["test"], seconds


def ridge_rmse(path: Path) -> float:
    """Ridge on the windows bmrun builds (the same origins), relative to the last value."""
    from sklearn.linear_model import Ridge

    from bmrun.config import compose, validate
    from bmrun.data import windows
    from bmrun.data.timeseries import parse

    raw = parse(validate(compose(overrides(path, "linear"))).data).raw
    width = HORIZON

    def design(x):
        return windows.offsets(x, 1).reshape(len(x), -1)

    last_train, last_test = raw.x_train[:, -1, :1], raw.x_test[:, -1, :1]
    fitted = Ridge(alpha=1.0).fit(design(raw.x_train), raw.y_train[:, :width] - last_train)
    forecast = fitted.predict(design(raw.x_test)) + last_test
    return float(np.sqrt(np.mean((forecast - raw.y_test[:, :width]) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="linear,mlp,cnn,rnn,transformer")
    args = parser.parse_args()
    families = args.families.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print("| series | model | test RMSE | MASE (season 7) | seasonal-naive RMSE | naive RMSE | wall s |")
        print("|---|---|---|---|---|---|---|")
        for kind in ("smooth", "price"):
            path = generate(kind, workdir / f"{kind}.csv")
            ridge = ridge_rmse(path)
            print(f"| {kind} | scikit-learn Ridge (same windows) | {ridge:.4f} | | | | |")
            for family in families:
                test, seconds = run_bmrun(path, family, workdir)
                base = test["baselines"]
                note = f" ({100 * (test['rmse'] / ridge - 1):+.1f}% vs Ridge)" if family == "linear" else ""
                print(f"| {kind} | bmrun model={family} | {test['rmse']:.4f}{note} | {test['mase']:.3f} | "
                      f"{base['seasonal_naive']['rmse']:.4f} | {base['naive']['rmse']:.4f} | {seconds:.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
