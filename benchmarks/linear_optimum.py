"""``model=linear`` classifiers against scikit-learn's ``LogisticRegression`` on the same split.

The plain command (``bmrun data=... model=linear``) against ``LogisticRegression()`` with its
defaults (C=1.0, L2, L-BFGS) fitted on bmrun's own training rows (validation rows held out, as
bmrun holds them out), numeric columns standardised (mean-imputed, with a missing indicator where
the training rows miss values), text columns one-hot: the design a scikit-learn user builds.
``--extra`` adds overrides to every bmrun command, e.g. the behaviour before the exact solve::

    .venv/bin/python benchmarks/linear_optimum.py                     # every table
    .venv/bin/python benchmarks/linear_optimum.py --extra model.solve=start model.C=10000
    .venv/bin/python benchmarks/linear_optimum.py --tables OJ digits

Tables: scikit-learn's breast cancer (``data=breast_cancer``), ISLP's OJ and UCI Adult
(``benchmarks/tables.py`` writes them from the registry's wheels), scikit-learn's digits and
wine written as CSV files (multiclass: 10 and 3 classes).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

TABLES = REPO / "outputs" / "data" / "tables"
COMMANDS = {
    "breast_cancer": ["data=breast_cancer", "model=linear"],
    "OJ": ["data=csv", f"data.path={TABLES / 'OJ.csv'}", "data.target=Purchase", "data.drop=[Store7]", "model=linear"],
    "adult": ["data=csv", f"data.path={TABLES / 'adult.csv'}", "data.target=income", "model=linear"],
    "digits": ["data=csv", f"data.path={TABLES / 'digits.csv'}", "data.target=digit", "model=linear"],
    "wine": ["data=csv", f"data.path={TABLES / 'wine.csv'}", "data.target=cultivar", "model=linear"],
}


def write_sklearn_tables() -> None:
    """digits.csv and wine.csv from scikit-learn's bundled copies (the target a class name)."""
    from sklearn.datasets import load_digits, load_wine

    for name, loader, target in (("digits", load_digits, "digit"), ("wine", load_wine, "cultivar")):
        path = TABLES / f"{name}.csv"
        if path.is_file():
            continue
        bunch = loader()
        columns = [f"f{i}" for i in range(bunch.data.shape[1])]
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns + [target])
            writer.writerows([[f"{v:g}" for v in row] + [f"c{label}"] for row, label in zip(bunch.data, bunch.target)])


def design(x_train, x_other) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's inputs for raw columns: numbers standardised, text one-hot (fit on train)."""
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if not isinstance(x_train, dict):  # a numeric matrix (data=breast_cancer)
        scale = StandardScaler().fit(np.asarray(x_train, np.float64).reshape(len(x_train), -1))
        return tuple(scale.transform(np.asarray(x, np.float64).reshape(len(x), -1)) for x in (x_train, x_other))
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for key in sorted(x_train):
        a, b = np.asarray(x_train[key]), np.asarray(x_other[key])
        if a.dtype.kind in "fiub":
            a, b = a.astype(np.float64), b.astype(np.float64)
            mean = np.nanmean(a)
            if np.isnan(a).any():
                parts.append((np.isnan(a)[:, None] * 1.0, np.isnan(b)[:, None] * 1.0))
            a, b = np.where(np.isnan(a), mean, a), np.where(np.isnan(b), mean, b)
            scale = StandardScaler().fit(a[:, None])
            parts.append((scale.transform(a[:, None]), scale.transform(b[:, None])))
        else:
            code = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(a.astype(str)[:, None])
            parts.append((code.transform(a.astype(str)[:, None]), code.transform(b.astype(str)[:, None])))
    return np.concatenate([p[0] for p in parts], axis=1), np.concatenate([p[1] for p in parts], axis=1)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from bmrun.config import compose, validate
    from bmrun.data import load_prepared
    from bmrun.training.train import train
    from tables import fetch_tables

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="*", default=list(COMMANDS), choices=list(COMMANDS))
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every bmrun command")
    args = parser.parse_args()
    fetch_tables()
    write_sklearn_tables()
    print("| table | classes | train / test rows | bmrun test accuracy | scikit-learn | difference | epochs | bmrun s |\n"
          "|---|---|---|---|---|---|---|---|")
    for name in args.tables:
        config = validate(compose([*COMMANDS[name], *args.extra, "logger=none"]))
        data = load_prepared(config.data, config.seed)
        train_x, test_x = design(data.train.x, data.test.x)
        labels = np.asarray(data.train.y).reshape(-1)
        fit = LogisticRegression(max_iter=5000).fit(train_x, labels)
        expected = float(np.mean(fit.predict(test_x) == np.asarray(data.test.y).reshape(-1)))
        with tempfile.TemporaryDirectory(prefix="bmrun-linear-") as work:
            start = time.perf_counter()
            metrics = train(config, Path(work))
            seconds = time.perf_counter() - start
        accuracy = metrics["test"]["accuracy"]
        print(f"| {name} | {len(np.unique(labels))} | {len(labels)} / {len(data.test.y)} | {accuracy:.4f} | "
              f"{expected:.4f} | {accuracy - expected:+.4f} | {metrics['epochs']} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
