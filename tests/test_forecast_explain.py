"""Forecast runs: the test forecasts against the truth in TensorBoard, and bmrun-explain by lag and column."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from conftest import train_in_process
from test_forecast import write_series
from test_insight_images import decode, read_events


def test_importance_lands_on_the_lag_and_column_the_forecast_reads():
    import keras

    from bmrun.explain.series import lag_and_column_importance, lag_names, series_attributions

    # A forecast of 2 steps that reads column 1 two steps before the origin (lag t-2) and nothing else.
    window, columns = 6, 3
    inputs = keras.Input((window, columns))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    kernel = np.zeros((window * columns, 2), np.float32)
    kernel[(window - 3) * columns + 1] = [1.5, -0.5]
    dense.set_weights([kernel])
    x = np.random.default_rng(0).normal(size=(40, window, columns)).astype(np.float32)
    maps, error = series_attributions(model, x)
    per_lag, per_column = lag_and_column_importance(maps)
    assert error < 1e-3
    assert lag_names(window)[int(np.argmax(per_lag))] == "t-2" and int(np.argmax(per_column)) == 1
    assert np.count_nonzero(per_lag > 1e-6) == 1 and np.count_nonzero(per_column > 1e-6) == 1
    # the mean scaled forecast is 0.5 * x[t-2, 1]: its mean |distance from the mean window| times 0.5
    expected = 0.5 * np.abs(x[:, window - 3, 1] - x[:, window - 3, 1].mean()).mean()
    np.testing.assert_allclose(per_column[1], expected, rtol=1e-4)


def test_a_forecast_run_draws_its_test_forecasts_and_explains_its_lags_and_columns(tmp_path):
    from bmrun.cli.explain import explain

    path = write_series(tmp_path / "s.csv", 240)
    run_dir = tmp_path / "run"
    train_in_process(run_dir, ["data=timeseries", f"data.path={path}", "data.target=sales", "data.window=14",
                               "data.horizon=3", "model=linear", "trainer.max_epochs=1", "logger.tensorboard=true",
                               "logger.confusion_matrix=true"])
    events = read_events(run_dir)
    (step, plugin, tensor), = events[("test", "forecast_vs_truth")]
    picture = decode(tensor)
    assert plugin == "images" and picture.shape[1] >= 1000 and picture.std() > 10  # a drawing, not a blank
    assert events[("val", "forecast_vs_truth")]  # each epoch's validation too

    result = explain(str(run_dir))
    out = run_dir / "explain"
    lags = list(csv.DictReader(open(out / "lag_importance.csv")))
    columns = list(csv.DictReader(open(out / "column_importance.csv")))
    assert [row["lag"] for row in lags] == ["t"] + [f"t-{k}" for k in range(1, 14)]
    assert {(row["column"], row["role"]) for row in columns} == {("sales", "target"), ("price", "covariate"),
                                                                ("temp", "covariate")}
    assert float(columns[0]["importance"]) >= float(columns[-1]["importance"]) > 0
    assert result["completeness_error"] < 0.05 and result["windows"] > 0
    assert Path(result["picture"]).stat().st_size > 0
    assert list((run_dir / "tensorboard" / "explain").glob("events.out.tfevents.*"))
