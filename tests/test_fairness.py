"""Fairness (data.sensitive, loss.fairness_penalty) and the binary ranking metrics (ROC-AUC, PR-AUC)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import load_metrics, train_in_process, validated


# ----------------------------------------------------------------------------- pure functions
def test_binary_group_metrics_equal_a_hand_computation():
    from bmrun.fairness.metrics import flat_gaps, group_metrics

    # group a: y 1 1 0 0, predicted 1 0 1 0 -> accuracy 1/2, selection 2/4, TPR 1/2, FPR 1/2
    # group b: y 1 0 0 0 0 0, predicted 1 0 0 0 0 1 -> accuracy 5/6, selection 2/6, TPR 1, FPR 1/5
    y = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    predicted = [1, 0, 1, 0, 1, 0, 0, 0, 0, 1]
    groups = np.array(["a"] * 4 + ["b"] * 6, dtype=object)
    report = group_metrics(np.array(y), np.array(predicted), groups, "binary", 2)
    assert report["groups"]["a"] == {"count": 4, "accuracy": 0.5, "selection_rate": 0.5, "tpr": 0.5, "fpr": 0.5}
    b = report["groups"]["b"]
    assert b["count"] == 6 and b["accuracy"] == pytest.approx(5 / 6) and b["selection_rate"] == pytest.approx(1 / 3)
    assert b["tpr"] == 1.0 and b["fpr"] == pytest.approx(0.2)
    assert report["demographic_parity_difference"] == pytest.approx(0.5 - 1 / 3)
    assert report["equalized_odds_difference"] == pytest.approx(max(1.0 - 0.5, 0.5 - 0.2))
    assert report["accuracy_difference"] == pytest.approx(5 / 6 - 0.5)
    assert flat_gaps("sex", report) == {"fairness/sex/demographic_parity_difference": pytest.approx(1 / 6),
                                        "fairness/sex/equalized_odds_difference": pytest.approx(0.5),
                                        "fairness/sex/accuracy_difference": pytest.approx(1 / 3)}


def test_a_group_without_positives_has_no_tpr_and_is_left_out_of_the_gap():
    from bmrun.fairness.metrics import group_metrics

    report = group_metrics(np.array([1, 0, 0, 0]), np.array([1, 1, 0, 1]), np.array(list("aabb"), object), "binary", 2)
    assert report["groups"]["b"]["tpr"] is None
    # TPR gap undefined (one group has positives); FPR gap |1 - 1/2|
    assert report["equalized_odds_difference"] == pytest.approx(0.5)


def test_multiclass_group_metrics_are_accuracy_and_macro_f1():
    from bmrun.fairness.metrics import group_metrics

    y = np.array([0, 1, 2, 0, 1, 2])
    predicted = np.array([0, 1, 2, 0, 2, 1])
    report = group_metrics(y, predicted, np.array(list("aaabbb"), object), "multiclass", 3)
    assert report["groups"]["a"] == {"count": 3, "accuracy": 1.0, "macro_f1": 1.0}
    assert report["groups"]["b"]["accuracy"] == pytest.approx(1 / 3)
    assert report["groups"]["b"]["macro_f1"] == pytest.approx(1 / 3)  # class 0 F1 1, classes 1 and 2 F1 0
    assert report["accuracy_difference"] == pytest.approx(2 / 3)
    assert report["macro_f1_difference"] == pytest.approx(2 / 3)
    assert "demographic_parity_difference" not in report


def test_roc_auc_and_average_precision_by_hand_with_ties():
    from bmrun.outputs import pr_auc, roc_auc

    # Pairs (positive, negative): (.8,.1) (.8,.4) (.35,.1) win, (.35,.4) loses, (.4 tie .4) counts 1/2.
    y, scores = [0, 0, 1, 1, 1], [0.1, 0.4, 0.35, 0.8, 0.4]
    assert roc_auc(y, scores) == pytest.approx((3 + 0.5 + 1) / 6)
    # Thresholds .8: P 1, R 1/3; .4 (two tied, one positive): P 2/3, R 2/3; .35: P 3/4, R 1.
    assert pr_auc(y, scores) == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3 + 1 / 3 * 3 / 4)
    assert roc_auc([1, 1], [0.2, 0.3]) is None and pr_auc([0, 0], [0.2, 0.3]) is None


def test_roc_auc_and_average_precision_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    from bmrun.outputs import pr_auc, roc_auc

    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.integers(0, 2, 40)
        y[:2] = [0, 1]
        scores = rng.integers(0, 6, 40) / 5  # many ties
        assert roc_auc(y, scores) == pytest.approx(metrics.roc_auc_score(y, scores), abs=1e-12)
        assert pr_auc(y, scores) == pytest.approx(metrics.average_precision_score(y, scores), abs=1e-12)


def test_penalty_is_the_widest_gap_of_group_mean_probabilities_with_a_gradient():
    import tensorflow as tf

    from bmrun.fairness.penalty import demographic_parity_gap

    logits = tf.Variable([[0.0], [2.0], [-1.0], [1.0], [3.0]])
    ids = tf.constant([0, 0, 1, 1, 2])  # group 3 absent from the batch: ignored
    with tf.GradientTape() as tape:
        gap = demographic_parity_gap(logits, ids, 4)
    p = 1 / (1 + np.exp(-np.array([0.0, 2.0, -1.0, 1.0, 3.0])))
    means = [p[:2].mean(), p[2:4].mean(), p[4]]
    assert float(gap) == pytest.approx(max(means) - min(means), rel=1e-6)
    grads = tape.gradient(gap, logits).numpy()
    assert np.isfinite(grads).all() and grads[4, 0] > 0 and grads[2, 0] < 0  # top group pushed down, bottom up
    one_group = demographic_parity_gap(tf.constant([[1.0], [2.0]]), tf.constant([1, 1]), 2)
    assert float(one_group) == 0.0


# ----------------------------------------------------------------------------- runs
def biased_table(path: Path, n: int = 1200, seed: int = 0) -> Path:
    """``label`` depends on ``x1``, and ``x1`` is shifted up for ``sex=M``: a selection-rate gap."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    x1 = rng.normal(size=n) + 1.2 * (sex == "M")
    x2 = rng.normal(size=n)
    label = x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n) > 0.6
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x1", "x2", "sex", "label"])
        writer.writerows(zip(np.round(x1, 3), np.round(x2, 3), sex, np.where(label, "yes", "no")))
    return path


@pytest.fixture(scope="module")
def biased(tmp_path_factory) -> Path:
    return biased_table(tmp_path_factory.mktemp("fairness") / "people.csv")


def run_args(path: Path, *extra: str) -> list[str]:
    return ["data=csv", f"data.path={path}", "data.target=label", "data.sensitive=[sex]", "model=linear",
            "model.solve=start", "optimizer.lr=0.05", "trainer.max_epochs=4", "seed=0", *extra]


def tensorboard_tags(folder: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return set(events.Tags()["tensors"])


def test_a_run_reports_fairness_and_auc_in_metrics_history_and_tensorboard(tmp_path, biased):
    # sex is dropped from the inputs: the model never sees it, the metrics still group by it
    metrics = train_in_process(tmp_path, run_args(biased, "data.drop=[sex]", "loss.fairness_group=sex"))
    report = metrics["fairness"]["sex"]
    groups = report["groups"]
    assert set(groups) == {"F", "M"} and sum(g["count"] for g in groups.values()) == 240  # the test split
    rates = [g["selection_rate"] for g in groups.values()]
    assert report["demographic_parity_difference"] == pytest.approx(max(rates) - min(rates))
    assert report["demographic_parity_difference"] > 0.2  # the data's gap shows
    assert metrics["test"]["fairness/sex/demographic_parity_difference"] == report["demographic_parity_difference"]
    assert set(report["val"]["groups"]) == {"F", "M"}
    assert 0.8 < metrics["test"]["roc_auc"] <= 1.0 and 0.5 < metrics["test"]["pr_auc"] <= 1.0
    assert set(metrics["test"]["per_class"]) == {"no", "yes"}
    assert metrics["train"]["fairness_penalty"] == 0.0  # λ = 0: the term is there, and adds nothing

    header = (tmp_path / "history.csv").read_text().splitlines()[0].split(",")
    for column in ("train_fairness_penalty", "val_roc_auc", "val_pr_auc",
                   "val_fairness/sex/demographic_parity_difference", "val_fairness/sex/equalized_odds_difference"):
        assert column in header
    assert {"roc_auc", "fairness/sex/demographic_parity_difference",
            "fairness/sex/equalized_odds_difference"} <= tensorboard_tags(tmp_path / "tensorboard" / "test")
    assert "fairness/sex/accuracy_difference" in tensorboard_tags(tmp_path / "tensorboard" / "val")
    assert "fairness_penalty" in tensorboard_tags(tmp_path / "tensorboard" / "train")
    hparams = tensorboard_tags(tmp_path / "tensorboard" / "hparams")
    assert {"test/fairness/sex/demographic_parity_difference", "test/fairness/sex/equalized_odds_difference",
            "test/roc_auc"} <= hparams

    from bmrun.cli.eval import evaluate_run  # the saved model, evaluated again: the same figures

    again, _ = evaluate_run(str(tmp_path))
    assert again["test"]["roc_auc"] == pytest.approx(metrics["test"]["roc_auc"], abs=1e-6)
    assert again["fairness"]["sex"]["groups"] == metrics["fairness"]["sex"]["groups"]


def test_the_penalty_narrows_the_demographic_parity_gap_and_the_report_shows_it(tmp_path, biased):
    from bmrun.sweep.report import table_columns
    from bmrun.sweep.summary import collect, csv_text

    # the last weights: val/loss (the monitor) knows nothing of the penalty, and model=linear starts
    # at the unpenalised optimum, which is then the best epoch by that loss
    plain = train_in_process(tmp_path / "0", run_args(biased, "loss.fairness_group=sex", "trainer.test_with=last"))
    fair = train_in_process(tmp_path / "20", run_args(biased, "loss.fairness_group=sex", "trainer.test_with=last",
                                                       "loss.fairness_penalty=20"))
    key = "fairness/sex/demographic_parity_difference"
    assert fair["test"][key] < 0.5 * plain["test"][key], (plain["test"][key], fair["test"][key])
    assert fair["train"]["fairness_penalty"] > 0.0

    rows = collect(tmp_path)
    column = f"test/{key}"
    assert [row[column] for row in rows] == [pytest.approx(plain["test"][key]), pytest.approx(fair["test"][key])]
    assert column in csv_text(rows).splitlines()[0].split(",")
    assert {column, "test/fairness/sex/equalized_odds_difference", "test/roc_auc"} <= set(table_columns(rows, None))


def test_resume_keeps_the_penalty_and_refuses_to_change_it(tmp_path, biased):
    from bmrun.config import validate
    from bmrun.config.resume import config_for_resume
    from bmrun.errors import ConfigError
    from bmrun.training.train import train

    args = run_args(biased, "loss.fairness_group=sex", "loss.fairness_penalty=5", "trainer.max_epochs=1")
    train_in_process(tmp_path, args)
    with pytest.raises(ConfigError, match="loss.fairness_penalty"):
        config_for_resume(tmp_path, ["loss.fairness_penalty=1"])
    # what is measured may change on resume; what is learned may not
    assert "data.sensitive" in config_for_resume(tmp_path, ["data.sensitive=[sex,x2]"])[1]
    config = validate(config_for_resume(tmp_path, ["trainer.max_epochs=2"])[0])
    resumed = train(config, tmp_path)
    assert resumed["status"] == "completed" and resumed["epochs"] == 2
    assert load_metrics(tmp_path)["fairness"]["sex"]["groups"]
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "train_fairness_penalty" in history[0]


def test_sensitive_columns_stay_inputs_unless_dropped(biased):
    from bmrun.data.csv import parse

    kept = parse(validated(run_args(biased)).data)
    dropped = parse(validated(run_args(biased, "data.drop=[sex]")).data)
    assert "sex" in kept.raw.columns["categorical"]
    assert "sex" not in dropped.raw.columns["categorical"]
    assert set(dropped.raw.groups_train["sex"]) == {"F", "M"} and len(dropped.raw.groups_test["sex"]) == 240


def test_get_adult_cleans_the_uci_files():
    import importlib.util

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("get_adult", REPO / "benchmarks" / "get_adult.py")
    get_adult = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(get_adult)
    text = ("|1x3 Cross validator\n"
            "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40, "
            "United-States, <=50K.\n"
            "38, ?, 89814, HS-grad, 9, Married-civ-spouse, ?, Husband, White, Female, 0, 0, 50, ?, >50K.\n\n")
    rows = get_adult.clean_rows(text)
    assert len(rows) == 2 and len(rows[0]) == len(get_adult.COLUMNS) == 15
    assert rows[0][-1] == "<=50K" and rows[1][-1] == ">50K" and rows[1][9] == "Female"
    assert rows[1][1] == "" and rows[1][6] == "" and rows[1][13] == ""
    with pytest.raises(ValueError, match="line 1: 3 fields"):
        get_adult.clean_rows("1, 2, 3\n")
