"""``model=linear`` classifiers against scikit-learn's ``LogisticRegression`` on the same split.

The plain command (its defaults: early stopping on validation, the best epoch tested) against
``LogisticRegression(C=1e4)`` fitted on bmrun's own training rows (validation rows held out, as
bmrun holds them out), standardised:

    .venv/bin/python benchmarks/linear_optimum.py      # breast_cancer and ISLP's OJ (benchmarks/tables.py)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

COMMANDS = {
    "breast_cancer": ["data=breast_cancer", "model=linear"],
    "OJ": ["data=csv", "data.path=outputs/data/tables/OJ.csv", "data.target=Purchase", "data.drop=[Store7]",
           "model=linear"],
}


def matrix(x) -> np.ndarray:
    """Raw inputs (an array, or a dict of numeric columns) as one float matrix."""
    if isinstance(x, dict):
        return np.stack([np.asarray(x[key], np.float64).reshape(-1) for key in sorted(x)], axis=1)
    return np.asarray(x, np.float64).reshape(len(x), -1)


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from bmrun.config import compose, validate
    from bmrun.data import load_prepared
    from bmrun.training.train import train
    from tables import fetch_tables

    fetch_tables()
    print("| table | test rows | bmrun test accuracy | scikit-learn | difference | epochs |\n|---|---|---|---|---|---|")
    for name, overrides in COMMANDS.items():
        config = validate(compose([*overrides, "logger=none"]))
        data = load_prepared(config.data, config.seed)
        scale = StandardScaler().fit(matrix(data.train.x))
        fit = LogisticRegression(C=1e4, max_iter=5000).fit(scale.transform(matrix(data.train.x)),
                                                         np.asarray(data.train.y).reshape(-1))
        expected = float(np.mean(fit.predict(scale.transform(matrix(data.test.x))) == np.asarray(data.test.y).reshape(-1)))
        with tempfile.TemporaryDirectory(prefix="bmrun-linear-") as work:
            metrics = train(config, Path(work))
        accuracy = metrics["test"]["accuracy"]
        print(f"| {name} | {len(data.test.y)} | {accuracy:.4f} | {expected:.4f} | {accuracy - expected:+.4f} | "
              f"{metrics['epochs']} |", flush=True)


if __name__ == "__main__":
    main()
