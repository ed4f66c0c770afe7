"""Any column name a CSV can hold: safe internal keys, names shown as written, duplicates refused."""

from __future__ import annotations

import csv
import keyword
from pathlib import Path

import numpy as np
import pytest

from conftest import train_in_process, validated

# Names from real exports: a Python keyword, punctuation and spaces, a leading digit, non-ASCII
# letters, another keyword, and names bmrun's own model layers carry.
ODD = ["class", "Unit Price ($)", "2nd_visit", "größe", "lambda", "a name with spaces", "head", "a/b"]


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def odd_rows(n: int = 300, seed: int = 0) -> list[list[str]]:
    """``label`` is ``yes`` when price + (class == 1st) - größe / 2 > 0; the rest is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        cls, price, size = str(rng.choice(["1st", "2nd", "3rd"])), rng.normal(), rng.normal()
        label = "yes" if price + (cls == "1st") - size / 2 > 0 else "no"
        rows.append([cls, f"{price:.3f}", f"{rng.normal():.3f}", f"{size:.3f}", str(rng.choice(["x", "y"])),
                     f"{rng.normal():.3f}", f"{rng.normal():.3f}", str(rng.choice(["p", "q"])), label])
    return rows


# ----------------------------------------------------------------------------- keys (no TensorFlow)
def test_every_name_gets_a_distinct_safe_key_and_plain_names_keep_theirs():
    from bmrun.data.columns import column_keys

    names = ODD + ["size", "", "column_1_class", "dense_0", "Größe"]
    keys = column_keys(names)
    assert list(keys) == names and len(set(keys.values())) == len(names)
    for key in keys.values():
        assert key.isascii() and key.isidentifier() and not keyword.iskeyword(key)
    assert keys["size"] == "size"  # a plain name is its own key: a dict of such columns needs no renaming
    assert keys["class"] == "column_1_class_"  # a plain column already holds "column_1_class"
    assert keys["Unit Price ($)"] == "column_2_Unit_Price"
    assert keys["2nd_visit"] == "column_3_2nd_visit"
    assert keys["head"] == "column_7_head" and keys["dense_0"] == "column_12_dense_0"  # the model's own layers
    assert keys[""] == "column_10"


def test_odd_names_are_read_as_written(tmp_path):
    from bmrun.data.csv import parse

    path = write_csv(tmp_path / "odd.csv", ODD + ["label"], odd_rows(40))
    raw = parse(validated(["data=csv", f"data.path={path}", "data.target=label", "model=linear"]).data).raw
    assert raw.columns["categorical"] == ["class", "lambda", "a/b"]
    assert raw.columns["keys"]["Unit Price ($)"] == "column_2_Unit_Price"
    assert set(raw.x_train) == set(raw.columns["keys"].values())


def test_duplicate_names_are_refused_naming_both_positions(tmp_path):
    from bmrun.errors import DataError

    path = write_csv(tmp_path / "twice.csv", ["id", "price", "colour", "price", "label"],
                     [["1", "2", "red", "3", "yes"], ["2", "4", "blue", "5", "no"]])
    with pytest.raises(DataError, match=r"line 1: columns 2 and 4 are both named 'price'\. Every column needs"):
        validated(["data=csv", f"data.path={path}", "data.target=label", "model=linear"])
    # names that differ only by spaces around them are the same column name
    path = write_csv(tmp_path / "spaces.csv", ["a", " a ", "label"], [["1", "2", "yes"]])
    with pytest.raises(DataError, match=r"columns 1 and 2 are both named 'a'"):
        validated(["data=csv", f"data.path={path}", "data.target=label", "model=linear"])


# ----------------------------------------------------------------------------- end to end
def test_odd_names_train_save_reload_predict_explain_and_group(tmp_path):
    import keras
    import tensorflow as tf

    from bmrun.cli.explain import explain
    from bmrun.cli.predict import predict_files

    path = write_csv(tmp_path / "odd.csv", ODD + ["label"], odd_rows())
    run_dir = tmp_path / "run"
    metrics = train_in_process(run_dir, ["data=csv", f"data.path={path}", "data.target=label", "model=linear",
                                         "optimizer.lr=0.05", "trainer.max_epochs=8",
                                         "data.sensitive=[class,'a/b']", "loss.fairness_group=class",
                                         "loss.fairness_penalty=0.1", "logger.saved_model=true"])
    assert metrics["status"] == "completed" and metrics["test"]["accuracy"] > 0.8
    assert set(metrics["fairness"]) == {"class", "a/b"}  # fairness groups by the names as written
    assert set(metrics["fairness"]["class"]["groups"]) >= {"1st", "2nd", "3rd"}

    # the .keras model reloads in safe mode and takes a dict of raw columns keyed by safe keys
    model = keras.saving.load_model(run_dir / "model" / "model.keras", safe_mode=True)
    columns = model.columns["numeric"] + model.columns["categorical"]
    assert [c["name"] for c in columns] == ["Unit Price ($)", "2nd_visit", "größe", "a name with spaces", "head",
                                            "class", "lambda", "a/b"]
    key = {c["name"]: c["key"] for c in columns}
    rows = {key[name]: np.array([2.0, -2.0], np.float32) for name in ("Unit Price ($)", "2nd_visit", "größe",
                                                                        "a name with spaces", "head")}
    rows.update({key["class"]: np.array(["1st", "3rd"], dtype=object),
                 key["lambda"]: np.array(["x", "y"], dtype=object), key["a/b"]: np.array(["p", ""], dtype=object)})
    outputs = np.asarray(model.predict(rows, verbose=0))
    assert outputs[0, 0] > 0 > outputs[1, 0]
    serving = tf.saved_model.load(str(run_dir / "model" / "saved_model")).signatures["serve"]
    assert set(serving.structured_input_signature[1]) == set(key.values())

    # bmrun-predict reads rows by the names as written (any order, the target left out)
    header = ["a/b", "größe", "class", "lambda", "Unit Price ($)", "head", "a name with spaces", "2nd_visit"]
    rows_path = write_csv(tmp_path / "rows.csv", header, [["p", "-2", "1st", "x", "2", "0", "0", "0"],
                                                          ["q", "2", "3rd", "y", "-2", "0", "", "0"]])
    records = predict_files(str(run_dir), [str(rows_path)], explain=True)
    assert [r["name"] for r in records] == ["yes", "no"]
    assert set(records[0]["attributions"]) == set(header)
    assert abs(records[0]["attributions"]["Unit Price ($)"]) > abs(records[0]["attributions"]["2nd_visit"])
    result = explain(str(run_dir))  # bmrun-explain on the test split: importance by the names as written
    assert set(result["ranking"]) == set(header) and result["ranking"][0] in ("Unit Price ($)", "class", "größe")


def test_a_text_column_with_an_odd_name(tmp_path):
    import keras

    from bmrun.cli.predict import predict_files

    rng = np.random.default_rng(0)
    rows = []
    for _ in range(200):
        positive = rng.random() < 0.5
        words = list(rng.choice(["great", "superb"] if positive else ["awful", "poor"], 2)) + ["the", "box"]
        rows.append([" ".join(words), "pos" if positive else "neg"])
    path = write_csv(tmp_path / "texts.csv", ["review (free text)", "class"], rows)
    run_dir = tmp_path / "run"
    metrics = train_in_process(run_dir, ["data=csv", f"data.path={path}", "data.target=class",
                                         "data.text='review (free text)'", "data.max_len=6", "data.vocab_size=20",
                                         "model=linear", "optimizer.lr=0.05", "trainer.max_epochs=3"])
    assert metrics["status"] == "completed"
    model = keras.saving.load_model(run_dir / "model" / "model.keras", safe_mode=True)
    assert model.columns["text"]["key"] == "column_1_review_free_text"
    records = predict_files(str(run_dir), [], ["superb box", "awful, poor"])
    assert [r["name"] for r in records] == ["pos", "neg"]
