"""model=linear on a table is solved: scikit-learn's least-squares / logistic-regression optimum,
with no gradient step after it unless the run asks for one."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import train_in_process, validated


def test_a_linear_regression_matches_scikit_learn_on_correlated_badly_scaled_columns(tmp_path):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    from bmrun.data.csv import parse

    rng = np.random.default_rng(1)
    n = 3000
    lat = 34 + 4 * rng.random(n)
    lon = -118 - (lat - 34) + rng.normal(0, 0.25, n)  # correlation -0.98, as California's
    rooms = np.exp(rng.normal(1.6, 0.4, n))
    rooms[rng.random(n) < 0.01] *= 30  # outliers
    beds = 0.2 * rooms * np.exp(rng.normal(0, 0.05, n))  # nearly collinear with rooms
    income = np.exp(rng.normal(1.2, 0.5, n))
    y = 0.45 * income - 0.9 * (lat - 36) - 0.9 * (lon + 120) - 0.3 * rooms + 1.5 * beds + 0.6 * rng.standard_t(3, n)
    columns = {"income": income, "rooms": rooms, "beds": beds, "lat": lat, "lon": lon}
    path = tmp_path / "houses.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(columns) + ["value"])
        writer.writerows([[f"{columns[k][i]:.6g}" for k in columns] + [f"{y[i]:.4f}"] for i in range(n)])
    args = ["data=csv", f"data.path={path}", "data.target=value", "model=linear"]

    raw = parse(validated(args).data).raw
    design = lambda x: np.stack([x[k] for k in columns], axis=1)  # noqa: E731
    sklearn = LinearRegression().fit(design(raw.x_train), raw.y_train)
    expected = r2_score(raw.y_test, sklearn.predict(design(raw.x_test)))
    metrics = train_in_process(tmp_path / "run", args)
    # sklearn: R² 0.41 here; gradient steps alone (2 epochs of Adam) end at -0.11
    assert metrics["test"]["r2"] == pytest.approx(expected, abs=0.005)
    assert metrics["epochs"] == 1 and metrics["best_epoch"] == 1  # validated once, no step taken


def _classes_table(path, n: int, classes: int, seed: int):
    """Correlated, badly scaled numeric columns; ``label`` a (noisy) linear function of them."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, n)
    b = 1000 * (a + rng.normal(0, 0.05, n))  # nearly collinear with a, a thousand times larger
    c = np.exp(rng.normal(0, 1, n))  # skewed
    d = rng.normal(0, 0.01, n)  # tiny scale
    score = 2 * a - 0.0021 * b + 0.8 * np.log(c) + 150 * d + rng.logistic(0, 0.4, n)
    cuts = np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1])
    label = np.searchsorted(cuts, score)
    columns = {"a": a, "b": b, "c": c, "d": d}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(columns) + ["label"])
        writer.writerows([[f"{columns[k][i]:.6g}" for k in columns] + [f"k{label[i]}"] for i in range(n)])
    return list(columns)


@pytest.mark.parametrize("classes", [2, 3])
def test_a_linear_classifier_is_scikit_learn_logistic_regression_with_its_defaults(tmp_path, classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from bmrun.data import load_prepared

    columns = _classes_table(tmp_path / "table.csv", 4000, classes, seed=classes)
    args = ["data=csv", f"data.path={tmp_path / 'table.csv'}", "data.target=label", "model=linear"]
    config = validated(args)
    data = load_prepared(config.data, config.seed)  # bmrun's training rows: validation rows held out
    design = lambda x: np.stack([np.asarray(x[k], np.float64) for k in columns], axis=1)  # noqa: E731
    keys = {c["name"]: c["key"] for c in data.columns["numeric"]}
    columns = [keys[name] for name in columns]
    scale = StandardScaler().fit(design(data.train.x))
    sklearn = LogisticRegression().fit(scale.transform(design(data.train.x)), data.train.y)
    expected = float(np.mean(sklearn.predict(scale.transform(design(data.test.x))) == np.asarray(data.test.y)))
    metrics = train_in_process(tmp_path / "run", args)  # the plain command: 100 epochs, early stopping
    # gradient steps alone (one epoch of Adam at lr 0.001) end near chance: 0.35 and 0.36 against 0.87 and 0.75
    assert metrics["test"]["accuracy"] == pytest.approx(expected, abs=0.005)
    assert metrics["epochs"] == 1 and not metrics["stopped_early"]

    started = train_in_process(tmp_path / "start", args + ["model.solve=start", "trainer.max_epochs=2"])
    assert started["epochs"] == 2  # solve=start: the solution is a start, the epochs train on from it


@pytest.mark.parametrize("extra, solved", [
    ([], True),
    (["model.solve=start"], False),
    (["model.dropout_rate=0.2"], False),
    (["loss.label_smoothing=0.1"], False),
    (["loss.l2=0.001"], False),
    (["data.class_weight=balanced"], False),
])
def test_a_solution_is_the_model_only_when_the_run_adds_nothing_the_solve_left_out(extra, solved):
    from bmrun.data import load_prepared
    from bmrun.models import build_model
    from bmrun.training.job import _solved

    config = validated(["data=breast_cancer", "model=linear", *extra])
    model = build_model(config.model, load_prepared(config.data, config.seed))
    assert _solved(config, model) is solved


@pytest.mark.parametrize("override, key", [("model.solve=closed_form", "solve"), ("model.C=0", "C")])
def test_bad_solve_settings_are_refused_by_key(override, key):
    from bmrun.errors import BmrunError

    with pytest.raises(BmrunError, match=key):
        validated(["data=breast_cancer", "model=linear", override])
