"""bmrun-explain and bmrun-predict --explain on data=csv runs: attributions by the user's own columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import train_in_process

COLOURS = ("red", "green", "blue", "grey")


def write_rows(path: Path, driver: str, n: int = 400, seed: int = 0) -> Path:
    """Three numbers (``size`` with gaps), one category (``colour``, with gaps) and a label that only
    ``driver`` decides: the sign of ``weight``, or whether ``colour`` is red or green."""
    rng = np.random.default_rng(seed)
    weight, size, age = rng.normal(size=(3, n))
    colour = rng.choice(COLOURS, n)
    label = weight > 0 if driver == "weight" else np.isin(colour, ["red", "green"])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["weight", "size", "age", "colour", "label"])
        for i in range(n):
            writer.writerow([f"{weight[i]:.4f}", "" if i % 17 == 0 else f"{size[i]:.4f}", f"{age[i]:.4f}",
                             "" if i % 23 == 0 and driver == "weight" else colour[i], "yes" if label[i] else "no"])
    return path


def train_table(tmp_path: Path, driver: str) -> Path:
    run_dir = tmp_path / f"run_{driver}"
    train_in_process(run_dir, ["data=csv", f"data.path={write_rows(tmp_path / f'{driver}.csv', driver)}",
                               "data.target=label", "model=mlp", "model.hidden_dims=[16]", "trainer.max_epochs=8",
                               "optimizer.lr=0.01", "optimizer.schedule=constant"])  # the model these bounds were set for
    return run_dir


@pytest.fixture(scope="module")
def numeric_run(tmp_path_factory) -> Path:
    return train_table(tmp_path_factory.mktemp("columns"), "weight")


def read_importance(run_dir: Path) -> list[tuple[str, float]]:
    with open(run_dir / "explain" / "feature_importance.csv", newline="") as handle:
        return [(row["feature"], float(row["importance"])) for row in csv.DictReader(handle)]


def test_encoded_components_map_back_to_their_columns():
    from bmrun.data.columns import encoded_width
    from bmrun.explain.columns import encoded_column_names

    columns = {"numeric": [{"name": "a", "mean": 0, "variance": 1, "indicator": True},
                           {"name": "b", "mean": 0, "variance": 1, "indicator": False}],
               "categorical": [{"name": "c", "vocabulary": ["", "x", "y"]}]}
    names = encoded_column_names(columns)
    assert names == ["a", "b", "a", "c", "c", "c", "c"] and len(names) == encoded_width(columns)


def test_the_numeric_column_that_decides_the_label_ranks_first(numeric_run):
    from bmrun.cli.explain import explain

    result = explain(str(numeric_run))
    ranking = read_importance(numeric_run)
    assert [name for name, _ in ranking] == result["ranking"]
    assert sorted(result["ranking"]) == ["age", "colour", "size", "weight"]  # the user's columns, once each
    assert ranking[0][0] == "weight" and ranking[0][1] > 3 * ranking[1][1]
    assert [v for _, v in ranking] == sorted((v for _, v in ranking), reverse=True)
    assert result["completeness_error"] < 0.01  # in the encoded space: sum = f(x) - f(baseline)
    from PIL import Image

    picture = Image.open(numeric_run / "explain" / "feature_importance.png")
    assert picture.size[0] >= 400 and np.asarray(picture).std() > 10


def test_the_categorical_column_that_decides_the_label_ranks_first(tmp_path):
    from bmrun.cli.explain import explain

    run_dir = train_table(tmp_path, "colour")
    result = explain(str(run_dir))
    ranking = read_importance(run_dir)
    assert ranking[0][0] == "colour" and ranking[0][1] > 3 * ranking[1][1]
    assert result["completeness_error"] < 0.01


def test_per_row_attributions_add_up_for_one_hot_and_missing_values(numeric_run):
    from bmrun.explain.columns import column_attributions
    from bmrun.explain.inner import outputs_with, layer_output
    from bmrun.explain.columns import encoding_layer
    from bmrun.models.loading import load_run_model

    model = load_run_model(numeric_run, "test")
    rows = {"weight": np.array([1.5, -1.0, np.nan]), "size": np.array([np.nan, 0.3, 0.0]),
            "age": np.array([0.0, 2.0, -1.0]), "colour": np.array(["red", "", "purple"], dtype=object)}
    names, maps, error = column_attributions(model, rows, "binary")
    assert names == ["weight", "size", "age", "colour"] and maps.shape == (3, 4)
    layer = encoding_layer(model)
    start = outputs_with(model, layer, rows, np.zeros_like(layer_output(model, layer, rows)))[:, 0]
    actual = np.asarray(model(rows_tensor(rows)))[:, 0]
    np.testing.assert_allclose(maps.sum(axis=1), actual - start, rtol=0.01, atol=1e-3)
    assert error < 0.01


def rows_tensor(rows):
    from bmrun.explain.inner import as_model_input

    return as_model_input(rows)


def test_predict_explain_writes_attributions_by_column(numeric_run, tmp_path, capsys):
    from bmrun.cli.predict import main

    rows = tmp_path / "rows.csv"
    rows.write_text("weight,size,age,colour\n2.0,0.1,0.3,red\n-2.0,,0.1,\n0.01,1,1,blue\n")
    main([str(numeric_run), str(rows), "--explain"])
    printed = capsys.readouterr().out
    assert "attributions" in printed and "weight" in printed
    with open(numeric_run / "explain" / "predictions.csv", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 3 and written[0]["input"].endswith("rows.csv:2")
    assert {"attr_weight", "attr_size", "attr_age", "attr_colour", "class", "probability"} <= set(written[0])
    for row in written[:2]:  # a clear-cut row: the deciding column carries the prediction
        values = {name: abs(float(row[f"attr_{name}"])) for name in ("weight", "size", "age", "colour")}
        assert max(values, key=values.get) == "weight"
    assert float(written[0]["attr_weight"]) > 0 > float(written[1]["attr_weight"])
    main([str(numeric_run), str(rows), "--explain", "--json"])
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    assert set(record["attributions"]) == {"weight", "size", "age", "colour"}


def test_predict_explain_is_refused_for_models_without_columns(tmp_path):
    from bmrun.cli.predict import predict_files
    from bmrun.errors import BmrunError

    run_dir = tmp_path / "digits"
    train_in_process(run_dir, ["model=linear", "data.limit=100", "trainer.max_epochs=1"])
    array = tmp_path / "x.npy"
    np.save(array, np.zeros((1, 8, 8, 1), np.float32))
    with pytest.raises(BmrunError, match="--explain"):
        predict_files(str(run_dir), [str(array)], explain=True)


def test_table_runs_refuse_what_does_not_apply_to_them(numeric_run, tmp_path):
    from bmrun.cli.explain import explain
    from bmrun.errors import BmrunError

    with pytest.raises(BmrunError, match="smoothgrad adds pixel noise"):
        explain(str(numeric_run), "smoothgrad")
    with pytest.raises(BmrunError, match="gradcam needs a convolutional model"):
        explain(str(numeric_run), "gradcam")
    with pytest.raises(BmrunError, match="--text is for models trained on a text column"):
        explain(str(numeric_run), texts=["a review"])
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("weight,colour\n1,red\n")
    with pytest.raises(BmrunError, match="needs the column.*size"):
        explain(str(numeric_run), inputs=[str(lacking)])
