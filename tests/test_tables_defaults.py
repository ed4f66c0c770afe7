"""Dataset defaults of the plain commands: tables (data=csv) and ratings (data=ratings) train with a
decaying schedule, stop on validation and test the best epoch, without a preset."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import train_in_process, validated


def _table(path, n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * rng.normal(size=n) > 0.5).astype(int)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c", "label"])
        writer.writerows([[f"{v:.4f}" for v in row] + [int(t)] for row, t in zip(x, y)])
    return path


@pytest.mark.parametrize("model", ["mlp", "linear"])
def test_a_plain_table_command_gets_the_table_training_settings(tmp_path, model):
    config = validated(["data=csv", f"data.path={_table(tmp_path / 't.csv')}", "data.target=label", f"model={model}"])
    assert config.optimizer.schedule == "cosine"
    assert config.trainer.max_epochs == 100
    assert config.trainer.test_with == "best"
    assert config.trainer.early_stopping.enabled and config.trainer.early_stopping.monitor == "val/loss"
    assert config.trainer.early_stopping.patience == 10


def test_the_command_line_still_wins_over_the_table_settings(tmp_path):
    config = validated(["data=csv", f"data.path={_table(tmp_path / 't.csv')}", "data.target=label", "model=mlp",
                        "trainer.max_epochs=3", "optimizer.schedule=constant", "trainer.early_stopping.enabled=false"])
    assert (config.trainer.max_epochs, config.optimizer.schedule) == (3, "constant")
    assert not config.trainer.early_stopping.enabled


@pytest.mark.parametrize("model", ["factorization", "two_tower"])
def test_a_plain_ratings_command_stops_on_validation_rmse_and_tests_the_best_epoch(model):
    config = validated(["data=ratings", f"model={model}"])
    stopping = config.trainer.early_stopping
    assert (stopping.enabled, stopping.monitor, stopping.patience) == (True, "val/rmse", 3)
    assert config.trainer.test_with == "best" and config.trainer.max_epochs == 30


@pytest.mark.parametrize("data", ["digits", "diabetes", "breast_cancer"])
def test_other_datasets_keep_their_own_budgets(data):
    config = validated([f"data={data}", "model=mlp"])
    assert not config.trainer.early_stopping.enabled
    assert config.trainer.max_epochs in (20, 30, 40)


def test_a_plain_table_run_stops_early_and_tests_the_best_epoch(tmp_path):
    path = _table(tmp_path / "t.csv", n=240)
    # patience 2 instead of 10 keeps the test short; the rest is the plain command's settings.
    metrics = train_in_process(tmp_path / "run", ["data=csv", f"data.path={path}", "data.target=label", "model=mlp",
                                                  "trainer.early_stopping.patience=2"])
    assert metrics["epochs"] < 100  # stopped on val/loss, long before the cosine schedule's end
    assert metrics["monitor"] == "val/loss" and metrics["tested_weights"] == "best"
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"] - 2
    assert metrics["test"]["accuracy"] > 0.75


# ----------------------------------------------------------------------------- the benchmarks' own logic
def _benchmark(name):
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    return importlib.import_module(name)


def test_the_synthetic_ratings_are_shaped_like_movielens_100k():
    users, items, observed, clean = _benchmark("ratings").synthetic_ratings()
    assert len(observed) == 100_000 and users.max() == 942 and items.max() <= 1681
    assert np.bincount(users).min() >= 20  # MovieLens-100K: every user rated at least 20 films
    assert len(set(zip(users.tolist(), items.tolist()))) == len(users)  # one rating per pair
    assert set(np.unique(observed)) == {1, 2, 3, 4, 5} and 1.0 < observed.std() < 1.3
    assert 0.7 < np.sqrt(np.mean((observed - clean) ** 2)) < 0.95  # the noise floor is below the models


def test_gradient_boosting_is_fitted_on_bmruns_own_split(tmp_path):
    from bmrun.data.csv import parse

    path = _table(tmp_path / "t.csv", n=200)
    result = _benchmark("tables").run_hgb(path, "label", [])
    raw = parse(validated(["data=csv", f"data.path={path}", "data.target=label", "model=mlp"]).data).raw
    assert (result["train_rows"], result["test_rows"]) == (len(raw.y_train), len(raw.y_test)) == (160, 40)
    assert result["metric"] == "accuracy" and result["value"] > 0.7
