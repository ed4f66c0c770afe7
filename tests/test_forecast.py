"""data=timeseries and the forecast task: leak-free windows, bad input, metrics, every family, predict."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from conftest import compose, train_in_process, validated

START = dt.date(2021, 1, 1)


def write_series(path: Path, rows: int = 240, *, names=("date", "sales", "price", "temp"), gaps=(), seed: int = 0):
    """A daily series: weekly-seasonal sales, a random-walk price, a temperature covariate."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    columns = [50 + 0.05 * t + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, rows),
               100 * np.exp(np.cumsum(rng.normal(0, 0.01, rows))), 15 + 5 * np.sin(t / 30) + rng.normal(0, 1, rows)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for i in range(rows):
            cells = ["" if (i, j) in gaps else f"{c[i]:.4f}" for j, c in enumerate(columns)]
            writer.writerow([str(START + dt.timedelta(days=i))] + cells)
    return path


def parsed(path: Path, *extra: str):
    from bmrun.data.timeseries import parse

    return parse(validated([f"data=timeseries", f"data.path={path}", "data.target=sales", *extra]).data)


def test_windows_never_see_after_their_origin_and_targets_stay_in_their_block(tmp_path):
    from bmrun.data import windows

    values = np.random.default_rng(0).normal(size=(60, 3))
    at = np.arange(9, 50)
    x, y = windows.windows(values, at, 10), windows.labels(values, at, 1, 4, 7)
    for i, origin in enumerate(at):
        changed = values.copy()
        changed[origin + 1:] += 100.0  # every value after the origin
        assert np.array_equal(windows.windows(changed, at[i:i + 1], 10)[0], x[i])
        # The baselines are made of values at or before the origin too.
        assert np.array_equal(windows.labels(changed, at[i:i + 1], 1, 4, 7)[0, 4:], y[i, 4:])
    raw = parsed(write_series(tmp_path / "s.csv", 200), "data.window=14", "data.horizon=5").raw
    val_start, test_start = windows.blocks(200, 0.2, 0.1)
    # Rebuild each split's origins from its truth: train targets end before the validation block,
    # test targets all lie in the test block (their windows may start before it).
    assert raw.x_train.shape[1:] == (14, 3) and raw.y_train.shape[1] == 15
    series = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1, usecols=1)
    last_train_target = np.flatnonzero(np.isclose(series, raw.y_train[-1, 4], atol=1e-4))[0]
    first_test_target = np.flatnonzero(np.isclose(series, raw.y_test[0, 0], atol=1e-4))[0]
    assert last_train_target == val_start - 1 and first_test_target == test_start
    assert np.isclose(raw.x_test[0, -1, 0], series[test_start - 1], atol=1e-4)  # the window reaches back


def test_gaps_filled_forward_and_counted_and_the_plain_command_picks_window_and_horizon(tmp_path):
    raw = parsed(write_series(tmp_path / "s.csv", 300, gaps={(10, 0), (11, 0)})).raw
    assert "gaps filled forward: sales 2" in raw.notes
    assert "window 28, horizon 7 (chosen for data every 1 days" in raw.notes
    assert "1 covariate" not in raw.notes and "2 covariate(s)" in raw.notes


@pytest.mark.parametrize("names,target", [(("date", "price ($)", "class", "2nd col"), "price ($)"),
                                          (("date", "prix_é", "x", "y"), "prix_é")])
def test_column_names_that_are_not_identifiers_work(tmp_path, names, target):
    from bmrun.data.timeseries import parse

    path = write_series(tmp_path / "s.csv", 120, names=names)
    raw = parse(validated(["data=timeseries", f"data.path={path}", f"data.target='{target}'", "data.window=8",
                           "data.horizon=2"]).data).raw
    assert raw.columns["series"]["targets"] == [target] and raw.x_train.shape[2] == 3


def _edit(path: Path, line: int, column: int, value: str) -> None:
    lines = path.read_text().splitlines()
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("edit,overrides,message", [
    (None, ["data.time=when"], "no column 'when'"),
    ((5, 0, "yesterday"), [], "line 5: the time column 'date' holds 'yesterday'"),
    ((5, 0, "2021-01-01"), [], "goes back (lines 4 and 5"),
    ((5, 0, "2021-01-03"), [], "repeats (lines 4 and 5"),
    ((7, 1, "high"), [], "line 7: the target 'sales' holds 'high'"),
    (None, ["data.window=100", "data.horizon=30"], "longer than the training block"),
])
def test_bad_series_are_one_paragraph_naming_the_row(tmp_path, edit, overrides, message):
    from bmrun.errors import DataError

    path = write_series(tmp_path / "s.csv", 120)
    if edit:
        _edit(path, *edit)
    with pytest.raises(DataError) as error:
        parsed(path, *overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_series_of_only_missing_values_and_a_zero_horizon_are_refused(tmp_path):
    from bmrun.errors import ConfigError, DataError

    path = write_series(tmp_path / "s.csv", 60, gaps={(i, 0) for i in range(60)})
    with pytest.raises(DataError, match="the target 'sales' has no value in any row"):
        parsed(path)
    with pytest.raises(ConfigError, match="horizon"):
        validated(["data=timeseries", f"data.path={path}", "data.target=sales", "data.horizon=0"])


def test_metrics_and_baselines_from_the_sums():
    import tensorflow as tf

    from bmrun.specs import FORECAST, ForecastSpec, TaskSpec
    from bmrun.tasks import task_for

    task = task_for(TaskSpec(FORECAST, forecast=ForecastSpec(2, ("a",), 1, (2.0,))))
    truth, naive = np.array([[11.0, 12.0], [9.0, 8.0]]), np.array([[10.0, 10.0], [10.0, 10.0]])
    y = np.concatenate([truth, naive, naive], axis=1).astype(np.float32)
    pred = np.array([[12.0, 12.0], [9.0, 11.0]], np.float32)
    sums = {k: v.numpy() for k, v in task.eval_sums(tf.constant(y), tf.constant(pred), tf.zeros([2])).items()}
    metrics, test = task.metrics(sums), task.test_metrics(sums)
    assert metrics["mae"] == pytest.approx(1.0) and metrics["mae_h1"] == pytest.approx(0.5)
    assert metrics["rmse_h2"] == pytest.approx(np.sqrt(4.5)) and metrics["mase"] == pytest.approx(0.5)
    assert metrics["direction_accuracy"] == pytest.approx(3 / 4)  # one forecast step goes up as the series falls
    assert test["baselines"]["naive"]["mae"] == pytest.approx(1.5)
    assert test["baselines"]["naive"]["rmse"] == pytest.approx(np.sqrt(2.5))


@pytest.mark.parametrize("family", ["mlp", "cnn", "rnn", "transformer"])
def test_every_family_forecasts_from_raw_windows_and_reloads(tmp_path, family):
    import keras

    from bmrun.data import load_prepared
    from bmrun.models import build_model

    path = write_series(tmp_path / "s.csv", 120)
    extra = {"transformer": ["model.num_layers=1", "model.hidden_dim=16", "model.intermediate_dim=16", "model.num_heads=2"],
             "rnn": ["model.hidden_dim=8"], "cnn": ["model.filters=[8,8]", "model.hidden_dims=[8]"]}.get(family, [])
    config = validated(["data=timeseries", f"data.path={path}", "data.target=[sales,price]", "data.window=8",
                        "data.horizon=3", f"model={family}", *extra])
    data = load_prepared(config.data, 0)
    model = build_model(config.model, data)
    out = model.predict(data.test.x[:4], verbose=0)
    assert out.shape == (4, 6)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(again.predict(data.test.x[:4], verbose=0), out, rtol=1e-5, atol=1e-5)
    if family == "cnn":  # causal: a covariate's change at the last step moves no feature of earlier steps
        conv = keras.Model(model.inputs, model.get_layer("causal_conv_1").output)
        x = data.test.x[:1].copy()
        before = conv.predict(x, verbose=0)
        x[0, -1, 2] += 5.0  # (the targets' values are read relative to the last one: a covariate)
        np.testing.assert_allclose(conv.predict(x, verbose=0)[0, :-1], before[0, :-1], atol=1e-5)


def test_a_linear_forecast_run_beats_the_naive_forecast_and_predicts_the_next_week(tmp_path):
    from bmrun.cli.forecast import forecast

    path = write_series(tmp_path / "s.csv", 300)
    metrics = train_in_process(tmp_path / "run", ["data=timeseries", f"data.path={path}", "data.target=sales",
                                                  "model=linear", "trainer.max_epochs=2", "logger.tensorboard=false"])
    test = metrics["test"]
    assert {"mae", "rmse", "smape", "mase", "direction_accuracy", "mae_h7", "rmse_h1"} <= set(test)
    assert test["rmse"] < 0.5 * test["baselines"]["naive"]["rmse"]
    names, rows = forecast(str(tmp_path / "run"))
    assert names == ["date", "sales"] and len(rows) == 7
    assert rows[0]["date"] == str(START + dt.timedelta(days=300)) and rows[-1]["date"] == str(
        START + dt.timedelta(days=306))
    assert all(35 < row["sales"] < 90 for row in rows)


def test_forecast_time_stamps_continue_by_calendar_month():
    from bmrun.data.series_file import continue_times, parse_date

    last = parse_date("2024-01-31").timestamp()
    assert continue_times(last, 30.4 * 86400, 3, True) == ["2024-02-29", "2024-03-31", "2024-04-30"]
    assert continue_times(10.0, 2.0, 2, False) == ["12", "14"]


def test_mae_loss_is_taken_and_regression_losses_are_refused(tmp_path):
    from bmrun.errors import ConfigError

    path = write_series(tmp_path / "s.csv", 120)
    base = ["data=timeseries", f"data.path={path}", "data.target=sales"]
    validated([*base, "loss.name=mae"])
    with pytest.raises(ConfigError, match="loss=cross_entropy does not fit"):
        validated([*base, "loss.name=cross_entropy"])
    assert compose([*base]).data.season == 1
