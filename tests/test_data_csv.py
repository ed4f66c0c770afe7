"""data=csv: your own CSV tables and text columns, read, trained on, saved and predicted from."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import train_in_process, validated

COLUMNS = ["size", "colour", "grade", "note", "label"]


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def table_rows(n: int = 240, seed: int = 0) -> list[list[str]]:
    """``label`` is ``yes`` when size + (colour == red) > 0.3; 10% of sizes and colours missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        size, colour = rng.normal(), str(rng.choice(["red", "green", "blue"]))
        label = "yes" if size + (colour == "red") > 0.3 else "no"
        grade = str(rng.integers(1, 4))
        note = " ".join(rng.choice(["some", "free", "words", "here", "about", "row", str(i)], 5))
        rows.append([f"{size:.4f}" if rng.random() > 0.1 else "", colour if rng.random() > 0.1 else "NA",
                     grade, note, label])
    return rows


@pytest.fixture
def table(tmp_path) -> Path:
    return write_csv(tmp_path / "table.csv", COLUMNS, table_rows())


def csv_args(path: Path, *extra: str) -> list[str]:
    return ["data=csv", f"data.path={path}", "data.target=label", "model=linear", *extra]


# ----------------------------------------------------------------------------- reading (no TensorFlow)
def test_kinds_task_and_split_are_inferred(table):
    from bmrun.data.catalog import BINARY, TABLE, describe
    from bmrun.data.csv import parse

    config = validated(csv_args(table))
    task, inputs = describe(config.data)
    assert task.kind == BINARY and task.class_names == ("no", "yes")
    assert inputs.kind == TABLE
    raw = parse(config.data)
    # size numeric; colour (strings) and grade (3 distinct integers) categorical; note is free text: left out
    assert raw.raw.columns == {"numeric": ["size"], "categorical": ["colour", "grade"],
                               "keys": {"size": "size", "colour": "colour", "grade": "grade"}}
    assert "note (free text)" in raw.raw.notes
    assert np.isnan(raw.raw.x_train["size"]).any() and "" in set(raw.raw.x_train["colour"])
    # a stratified 20% test split: both classes keep their share
    y = np.concatenate([raw.raw.y_train, raw.raw.y_test])
    assert len(raw.raw.y_test) == pytest.approx(0.2 * len(y), abs=2)
    assert raw.raw.y_test.mean() == pytest.approx(y.mean(), abs=0.02)


def test_kinds_and_task_can_be_overridden(table, tmp_path):
    from bmrun.data.catalog import MULTICLASS, REGRESSION, describe
    from bmrun.data.csv import parse

    config = validated(csv_args(table, "data.numeric=[grade]", "data.drop=[colour]", "data.task=multiclass"))
    assert describe(config.data)[0].kind == MULTICLASS
    assert parse(config.data).raw.columns == {"numeric": ["size", "grade"], "categorical": [],
                                              "keys": {"size": "size", "grade": "grade"}}
    rows = [[f"{v:.3f}", f"{2 * v + 0.5:.3f}"] for v in np.linspace(0, 1, 50)]
    numbers = write_csv(tmp_path / "numbers.csv", ["x", "y"], rows)
    config = validated(["data=csv", f"data.path={numbers}", "data.target=y", "model=linear"])
    assert describe(config.data)[0].kind == REGRESSION


def test_test_path_and_unseen_test_class(table, tmp_path):
    from bmrun.data.csv import parse
    from bmrun.errors import DataError

    test = write_csv(tmp_path / "test.csv", COLUMNS, table_rows(30, seed=1))
    raw = parse(validated(csv_args(table, f"data.test_path={test}")).data).raw
    assert len(raw.y_test) == 30 and len(raw.y_train) == 240
    bad = write_csv(tmp_path / "bad_test.csv", COLUMNS, table_rows(5, seed=2) + [["1", "red", "1", "x", "maybe"]])
    with pytest.raises(DataError, match=r"line 7: .*'maybe'"):
        parse(validated(csv_args(table, f"data.test_path={bad}")).data)


def test_encoding_is_fitted_on_the_training_split():
    from bmrun.data.columns import fit_columns, standardize, text_vocabulary

    x = {"a": np.array([1.0, np.nan, 3.0], np.float32), "b": np.array([2.0, 2.0, 4.0], np.float32),
         "c": np.array(["x", "", "y", "x"], dtype=object)}
    fitted = fit_columns(x, {"numeric": ["a", "b"], "categorical": ["c"]})
    a, b = fitted["numeric"]
    assert a["mean"] == pytest.approx(2.0) and a["indicator"] and not b["indicator"]
    assert fitted["categorical"][0]["vocabulary"] == ["", "x", "y"]  # missing first, then by frequency
    assert standardize("Great, GREAT movie!") == "great great movie"
    assert text_vocabulary(["b a a", "c a b"], 2) == ["a", "b"]


def test_models_that_cannot_read_tables_are_refused(table):
    from bmrun.errors import ConfigError

    for model in ("rnn", "cnn", "transformer"):
        with pytest.raises(ConfigError, match=f"model={model} cannot read data=csv"):
            validated(csv_args(table, f"model={model}"))
    with pytest.raises(ConfigError, match="device.xla"):
        validated(csv_args(table, "model=linear", "device.xla=true"))


def test_per_class_metrics_from_the_confusion_matrix():
    from bmrun.confusion import per_class_metrics

    confusion = np.array([[8, 2], [1, 4]])
    result = per_class_metrics(confusion, ("cat", "dog"))
    assert result["cat"] == {"precision": pytest.approx(8 / 9), "recall": 0.8, "f1": pytest.approx(2 * (8 / 9) * 0.8 / (8 / 9 + 0.8)),
                             "support": 10}
    assert result["dog"]["support"] == 5 and result["dog"]["recall"] == pytest.approx(0.8)


# ----------------------------------------------------------------------------- training, saving, predicting
def test_table_run_saves_a_model_of_raw_columns(table, tmp_path):
    import keras

    from bmrun.cli.predict import predict_files

    run_dir = tmp_path / "run"
    metrics = train_in_process(run_dir, csv_args(table, "model=mlp", "model.hidden_dims=[16]", "trainer.max_epochs=3",
                                                 "optimizer.lr=0.01", "optimizer.schedule=constant",
                                                 "data.class_weight=balanced"))
    assert metrics["status"] == "completed"
    assert metrics["test"]["accuracy"] > 0.7
    per_class = metrics["test"]["per_class"]
    assert set(per_class) == {"no", "yes"} and sum(c["support"] for c in per_class.values()) == 48
    assert set(metrics["class_weight"]) == {"no", "yes"}

    model = keras.saving.load_model(run_dir / "model" / "model.keras", safe_mode=True)
    rows = {"size": np.array([2.0, np.nan, -2.0], np.float32),  # a missing number
            "colour": np.array(["red", "purple", ""], dtype=object),  # an unseen category, a missing one
            "grade": np.array(["1", "2", "3"], dtype=object)}
    outputs = np.asarray(model.predict(rows, verbose=0))
    assert outputs.shape == (3, 1) and np.isfinite(outputs).all()
    assert outputs[0, 0] > 0 > outputs[2, 0]  # large red: yes; small: no

    predict_rows = write_csv(tmp_path / "rows.csv", ["grade", "colour", "size"], [["1", "red", "2"], ["3", "", "-2"]])
    records = predict_files(str(run_dir), [str(predict_rows)])
    assert [r["name"] for r in records] == ["yes", "no"]
    assert records[0]["input"].endswith("rows.csv:2")

    from bmrun.cli.eval import evaluate_run

    result, _ = evaluate_run(str(run_dir))  # bmrun-eval re-reads the CSV: the run's own test metrics
    assert result["test"]["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_text_run_predicts_raw_strings(tmp_path):
    from bmrun.cli.predict import predict_files

    rng = np.random.default_rng(0)
    good, bad, filler = ["great", "lovely", "superb"], ["awful", "broken", "poor"], ["the", "a", "it", "was", "box"]
    rows = []
    for _ in range(300):
        positive = rng.random() < 0.5
        words = list(rng.choice(good if positive else bad, 2)) + list(rng.choice(filler, 4))
        rng.shuffle(words)
        rows.append([" ".join(words).capitalize() + "!", "pos" if positive else "neg"])
    path = write_csv(tmp_path / "texts.csv", ["review", "label"], rows)
    run_dir = tmp_path / "run"
    metrics = train_in_process(run_dir, csv_args(path, "data.text=review", "data.max_len=8", "data.vocab_size=50",
                                                 "model=linear", "optimizer.lr=0.05", "trainer.max_epochs=3"))
    assert metrics["test"]["accuracy"] > 0.9
    records = predict_files(str(run_dir), [], ["Great, superb box", "it was AWFUL and broken"])
    assert [r["name"] for r in records] == ["pos", "neg"]


def test_regression_table_predicts_values_in_the_target_units(tmp_path):
    from bmrun.cli.predict import predict_files

    rng = np.random.default_rng(0)
    rows = [[f"{x:.3f}", str(rng.choice(["a", "b"])), ""] for x in rng.uniform(0, 1, 200)]
    for row in rows:
        row[2] = f"{100 + 50 * float(row[0]) + (10 if row[1] == 'b' else 0):.2f}"
    path = write_csv(tmp_path / "prices.csv", ["x", "kind", "price"], rows)
    run_dir = tmp_path / "run"
    metrics = train_in_process(run_dir, ["data=csv", f"data.path={path}", "data.target=price", "model=linear",
                                         "optimizer.lr=0.1", "trainer.max_epochs=20", "data.batch_size=16"])
    assert metrics["test"]["r2"] > 0.9 and "per_class" not in metrics["test"]
    rows_path = write_csv(tmp_path / "rows.csv", ["x", "kind"], [["0.5", "b"]])
    [record] = predict_files(str(run_dir), [str(rows_path)])
    assert record["value"] == pytest.approx(135, abs=5)
