"""scikit-learn's diabetes and breast_cancer: shapes, tasks, train-only statistics, tiny runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import compose, train_in_process, validated

from bmrun.config import validate
from bmrun import registry
from bmrun.data import load_prepared
from bmrun.data.arrays import RawData, prepare
from bmrun.data.catalog import BINARY, REGRESSION, TABULAR, describe
from bmrun.errors import ConfigError

FAST = ("logger=none", "trainer.max_epochs=2")


def load_raw(data_cfg, seed: int) -> RawData:
    """The dataset's own loader (its entry in the registry), before any preparation."""
    return registry.dataset(data_cfg.name).load(data_cfg, seed)


def data_config(name: str, *overrides: str):
    """The validated ``data`` group (model=linear: the default cnn refuses tabular data)."""
    return validated([f"data={name}", "model=linear", *overrides]).data


@pytest.mark.parametrize("name, rows, features, kind", [("diabetes", 442, 10, REGRESSION),
                                                         ("breast_cancer", 569, 30, BINARY)])
def test_shapes_tasks_and_fixed_test_split(name, rows, features, kind):
    data_cfg = data_config(name)
    task, inputs = describe(data_cfg)
    assert task.kind == kind and inputs.kind == TABULAR and inputs.shape == (features,)
    raw = load_raw(data_cfg, seed=0)
    n_test = round(rows * 0.2)
    assert raw.x_train.shape == (rows - n_test, features) and raw.x_test.shape == (n_test, features)
    assert raw.x_train.dtype == np.float32
    again = load_raw(data_cfg, seed=5)  # the test split does not move with the seed
    np.testing.assert_array_equal(raw.x_test, again.x_test)
    if kind == BINARY:
        assert set(np.unique(raw.y_train)) == {0, 1}
    else:
        assert raw.y_train.dtype == np.float32 and 25 <= raw.y_train.min() and raw.y_train.max() <= 346


def test_diabetes_features_are_in_raw_units():
    raw = load_raw(data_config("diabetes"), seed=0)
    # Column 0 is age in years; sklearn's default copy would be pre-scaled over all rows, test included.
    assert 40 < raw.x_train[:, 0].mean() < 60


def test_unknown_name_is_a_config_error_listing_the_datasets():
    cfg = dataclasses.replace(data_config("diabetes"), name="iris")
    with pytest.raises(ConfigError, match="unknown dataset 'iris'; choose one of: .*breast_cancer.*diabetes"):
        describe(cfg)


@pytest.mark.parametrize("name", ["diabetes", "breast_cancer"])
def test_standardisation_is_fitted_on_the_training_split_only(name):
    data_cfg = data_config(name, "data.val_fraction=0.2")
    prepared = load_prepared(data_cfg, seed=3)
    train = prepared.train.x.astype(np.float64)
    np.testing.assert_allclose(prepared.input_mean, train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(prepared.input_variance, train.var(axis=0), rtol=1e-4)
    with_val = np.concatenate([train, prepared.val.x])
    assert not np.allclose(prepared.input_mean, with_val.mean(axis=0), rtol=1e-5)
    if name == "diabetes":
        assert prepared.target_mean == pytest.approx(float(prepared.train.y.mean()), rel=1e-6)

    # Wild values in the test rows and in the rows that become validation must not move the stats.
    task, inputs = describe(data_cfg)
    raw = load_raw(data_cfg, seed=3)
    val_set = {row.tobytes() for row in prepared.val.x}
    val_rows = np.array([row.tobytes() in val_set for row in raw.x_train])
    assert val_rows.sum() == len(prepared.val)
    x_train = raw.x_train.copy()
    x_train[val_rows] = 1e6
    y_train = raw.y_train.copy()
    if name == "diabetes":
        y_train[val_rows] = 1e6
    poisoned = RawData(x_train, y_train, raw.x_test * 1000 + 7, raw.y_test)
    again = prepare(poisoned, task, inputs, val_fraction=0.2, limit=None, normalize=True, seed=3)
    np.testing.assert_array_equal(again.input_mean, prepared.input_mean)
    np.testing.assert_array_equal(again.input_variance, prepared.input_variance)
    assert again.target_mean == prepared.target_mean and again.target_std == prepared.target_std


def test_cnn_on_tabular_data_is_refused():
    with pytest.raises(ConfigError, match="model=cnn cannot read data=diabetes"):
        validate(compose(["model=cnn", "data=diabetes"]))


@pytest.mark.parametrize("preset", ["diabetes_linear", "breast_cancer_logistic"])
def test_presets_validate(preset):
    config = validated([f"experiment={preset}"])
    assert config.model.name == "linear"


def test_diabetes_linear_reports_regression_metrics(tmp_path):
    metrics = train_in_process(tmp_path, [*FAST, "data=diabetes", "model=linear", "optimizer.lr=0.05"])
    assert metrics["status"] == "completed" and metrics["loss"] == "mse"
    assert set(metrics["test"]) >= {"mse", "mae", "r2"}
    assert metrics["test"]["mse"] > 0


def test_breast_cancer_linear_is_logistic_regression(tmp_path):
    metrics = train_in_process(tmp_path, [*FAST, "data=breast_cancer", "model=linear", "optimizer.lr=0.01"])
    assert metrics["status"] == "completed" and metrics["loss"] == "binary_cross_entropy"
    # Even two epochs of logistic regression separate most tumours; a broken pipeline would not.
    assert metrics["test"]["accuracy"] >= 0.85
