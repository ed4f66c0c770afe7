"""bmrun-explain on a fused run: each modality's and each column's importance by occlusion."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import load_metrics, train_in_process
from multimodal_helpers import ensure_registered, write_table


def test_occlusion_finds_the_one_column_a_model_reads():
    import keras

    from bmrun.explain.modalities import occlusion

    # A "fused" model of a price (read) and a text column (ignored); NaN price reads as 0.
    price, title = keras.Input((), name="price"), keras.Input((), dtype="string", name="title")
    clean = keras.layers.Lambda(lambda p: keras.ops.where(keras.ops.isnan(p), 0.0, p))(price)
    model = keras.Model({"price": price, "title": title}, keras.layers.Reshape((1,))(clean))
    model.columns = {"modalities": {"images": [], "texts": [{"name": "title", "key": "title"}],
                                    "table": {"numeric": [{"name": "price", "key": "price"}], "categorical": []}}}
    x = {"price": np.array([-1.0, 2.0, -3.0, 4.0], np.float32), "title": np.array(["a", "b", "c", "d"], object)}
    y = np.array([0, 1, 0, 1])
    found = occlusion(model, x, y, "binary", 2)
    assert found["score"] == 1.0 and found["metric"] == "accuracy"
    assert found["modalities"][0][0] == "table" and found["modalities"][0][2] == pytest.approx(0.5)
    assert dict((m, v) for m, _, v in found["modalities"])["text"] == 0.0
    assert [c for c, *_ in found["columns"]] == ["price", "title"]


@pytest.mark.slow  # trains a fused model (about 30 s alone)
def test_explain_on_a_fused_run_writes_modality_and_column_importance(tmp_path_factory):
    from bmrun.cli.explain import explain

    ensure_registered(tmp_path_factory.mktemp("site"))
    table = write_table(tmp_path_factory.mktemp("table"), 240, missing_every=40)
    run_dir = tmp_path_factory.mktemp("run")
    train_in_process(run_dir, ["model=multimodal", "data=csv", f"data.path={table}", "data.target=label",
                               "data.images=[photo]", "data.text=[title]", "logger.tensorboard=false",
                               "trainer.max_epochs=1"])
    result = explain(str(run_dir))
    assert result["method"] == "occlusion"
    # Occlusion's full score is the saved model on every test row: the run's own test accuracy.
    assert result["accuracy"] == pytest.approx(load_metrics(run_dir)["test"]["accuracy"], abs=1e-6)
    rows = list(csv.DictReader(open(run_dir / "explain" / "modality_importance.csv")))
    assert {row["modality"] for row in rows} == {"image", "text", "table"}
    columns = {row["column"]: row["modality"] for row in csv.DictReader(open(run_dir / "explain" /
                                                                            "column_importance.csv"))}
    assert columns == {"photo": "image", "title": "text", "price": "table", "season": "table"}
    assert (run_dir / "explain" / "modality_importance.png").stat().st_size > 0
