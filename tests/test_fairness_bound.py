"""fairness.max_gap: a bound on the demographic-parity gap, met with a Lagrange multiplier."""

from __future__ import annotations

import json

import pytest

from conftest import load_metrics, train_in_process, validated
from test_fairness import biased, run_args  # noqa: F401 (biased: the module's fixture, shared)


# ----------------------------------------------------------------------------- pure rules
def test_the_multiplier_rises_above_the_bound_and_falls_below_it_never_under_zero():
    from bmrun.fairness.constraint import next_multiplier

    assert next_multiplier(0.0, 0.20, 0.05, 1.0) == pytest.approx(3.0)  # missed by 3 bounds
    assert next_multiplier(3.0, 0.06, 0.05, 1.0) == pytest.approx(3.2)
    assert next_multiplier(3.0, 0.04, 0.05, 1.0) == pytest.approx(2.8)
    assert next_multiplier(0.5, 0.0, 0.05, 1.0) == 0.0


def test_an_epoch_meeting_the_bound_beats_a_more_accurate_one_that_misses_it():
    from bmrun.fairness.constraint import improves

    assert improves(feasible=True, best_feasible=False, better=False, first=False)
    assert not improves(feasible=False, best_feasible=True, better=True, first=False)
    assert improves(feasible=True, best_feasible=True, better=True, first=False)
    assert not improves(feasible=True, best_feasible=True, better=False, first=False)
    assert improves(feasible=False, best_feasible=False, better=False, first=True)


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("value", ["0", "1", "-0.1", "1.5"])
def test_a_bound_outside_zero_one_is_refused(biased, value):  # noqa: F811
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError, match=r"fairness.max_gap.*\(0, 1\)"):
        validated(run_args(biased, "loss.fairness_group=sex", f"fairness.max_gap={value}"))


def test_a_bound_without_a_group_is_refused(biased):  # noqa: F811
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError, match="fairness.max_gap.*loss.fairness_group=sex"):
        validated(run_args(biased, "fairness.max_gap=0.05"))


def test_a_bound_on_a_multiclass_task_is_refused(tmp_path):
    from bmrun.errors import ConfigError

    path = tmp_path / "three.csv"
    path.write_text("x,g,label\n" + "".join(f"{i},{'ab'[i % 2]},{'pqr'[i % 3]}\n" for i in range(60)))
    with pytest.raises(ConfigError, match="fairness.max_gap.*binary task"):
        validated(["data=csv", f"data.path={path}", "data.target=label", "data.sensitive=[g]", "model=linear",
                   "loss.fairness_group=g", "fairness.max_gap=0.1"])


def test_the_bound_is_in_the_option_matrix_and_refused_with_images_methods():
    from bmrun.errors import ConfigError
    from bmrun.methods.catalog import METHODS, OPTIONS, matrix_markdown

    assert "fairness.max_gap" in OPTIONS and "demographic-parity bound" in matrix_markdown()
    assert not METHODS["consistency"].supports("fairness.max_gap")
    assert not METHODS["contrastive"].supports("fairness.max_gap")
    assert METHODS["supervised"].supports("fairness.max_gap")
    with pytest.raises(ConfigError, match="fairness.max_gap"):
        validated(["data=mnist", "model=cnn", "pretrain=contrastive", "fairness.max_gap=0.1"])


# ----------------------------------------------------------------------------- runs
def test_the_multiplier_rises_while_the_val_gap_is_above_the_bound(tmp_path, biased):  # noqa: F811
    metrics = train_in_process(tmp_path, run_args(biased, "loss.fairness_group=sex", "fairness.max_gap=0.05",
                                                  "trainer.max_epochs=3"))
    record = metrics["fairness_constraint"]
    path = record["multiplier_path"]
    assert [entry["epoch"] for entry in path] == [1, 2, 3]
    assert path[0]["multiplier"] == 0.0 and path[0]["val_gap"] > 0.05  # the data's gap, unconstrained at first
    for before, after in zip(path, path[1:]):  # raised by the relative miss of each epoch above the bound
        expected = max(0.0, before["multiplier"] + 0.25 * (before["val_gap"] - 0.05) / 0.05)  # the default rate
        assert after["multiplier"] == pytest.approx(expected, rel=1e-5)
    assert path[1]["multiplier"] > 0
    assert record["max_gap"] == 0.05 and record["group"] == "sex"
    assert record["test_gap"] == pytest.approx(metrics["fairness"]["sex"]["demographic_parity_difference"])
    tested = next(entry for entry in path if entry["epoch"] == metrics["tested_epoch"])
    assert record["val_gap"] == tested["val_gap"] and record["met_on_val"] == (tested["val_gap"] <= 0.05)
    assert json.loads((tmp_path / "metrics.json").read_text())["fairness_constraint"] == record
    assert metrics["traces"]["train"] == 1  # λ is a variable: moving it does not retrace the step
    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    assert "train_fairness_multiplier" in header


def test_a_resumed_run_continues_the_multiplier_exactly(tmp_path, biased):  # noqa: F811
    from bmrun.config import validate
    from bmrun.config.resume import config_for_resume
    from bmrun.errors import ConfigError
    from bmrun.training.train import train

    # a constant step size: a cosine schedule would differ between a 2- and a 3-epoch budget
    args = run_args(biased, "loss.fairness_group=sex", "fairness.max_gap=0.05", "optimizer.schedule=constant",
                    "trainer.max_epochs=3")
    whole = train_in_process(tmp_path / "whole", args)
    train_in_process(tmp_path / "cut", args[:-1] + ["trainer.max_epochs=2"])
    with pytest.raises(ConfigError, match="fairness.max_gap"):  # the bound is what is learned
        config_for_resume(tmp_path / "cut", ["fairness.max_gap=0.1"])
    resumed = train(validate(config_for_resume(tmp_path / "cut", ["trainer.max_epochs=3"])[0]), tmp_path / "cut")
    cut, full = resumed["fairness_constraint"]["multiplier_path"], whole["fairness_constraint"]["multiplier_path"]
    assert [e["epoch"] for e in cut] == [1, 2, 3]
    for a, b in zip(cut, full):
        assert a["multiplier"] == pytest.approx(b["multiplier"], abs=1e-6)
        assert a["val_gap"] == pytest.approx(b["val_gap"], abs=1e-9)
    assert resumed["test"]["accuracy"] == pytest.approx(whole["test"]["accuracy"], abs=1e-9)
    assert load_metrics(tmp_path / "cut")["fairness_constraint"]["test_gap"] == pytest.approx(
        whole["fairness_constraint"]["test_gap"], abs=1e-9)


def test_report_draws_the_accuracy_gap_frontier_of_a_sweep(tmp_path, capsys):
    from PIL import Image

    from bmrun.cli.report import main
    from bmrun.sweep.report import frontier_points
    from bmrun.sweep.summary import collect

    key = "fairness/sex/demographic_parity_difference"
    for job, (bound, gap, accuracy) in enumerate([(None, 0.18, 0.85), (0.1, 0.09, 0.845), (0.02, 0.025, 0.83)]):
        run = tmp_path / str(job)
        run.mkdir()
        overrides = ["data=csv", "loss.fairness_group=sex"] + ([f"fairness.max_gap={bound}"] if bound else [])
        (run / "metrics.json").write_text(json.dumps({"status": "completed", "overrides": overrides,
                                                      "test": {"accuracy": accuracy, key: gap}}))
    column, points, bounds = frontier_points(collect(tmp_path))
    assert column == "sex" and sorted(bounds) == [0.02, 0.1]
    assert sorted(points) == [(0.025, 0.83, "fairness.max_gap=0.02"), (0.09, 0.845, "fairness.max_gap=0.1"),
                              (0.18, 0.85, "unconstrained")]
    main([str(tmp_path)])
    assert "frontier" in capsys.readouterr().out
    with Image.open(tmp_path / "fairness_frontier.png") as picture:
        assert picture.size[0] > 300 and len(picture.convert("L").getcolors(65536)) > 10  # drawn, not blank


def test_the_penalty_is_weighed_by_the_spread_of_the_batch_base_rate():
    import tensorflow as tf

    from bmrun.fairness.penalty import base_rate_scale

    assert float(base_rate_scale(tf.constant([1, 0, 1, 0]))) == pytest.approx(1.0)
    assert float(base_rate_scale(tf.constant([[1], [0], [0], [0]]))) == pytest.approx(2 * (0.25 * 0.75) ** 0.5)
    assert float(base_rate_scale(tf.zeros([8], tf.int32))) == pytest.approx(0.02)  # one class: bounded, finite
