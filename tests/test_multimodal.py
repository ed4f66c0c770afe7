"""``data=csv`` with image and text columns and ``model=multimodal`` (issue 34)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_accuracy_from_its_counts, load_metrics, train_in_process, validated
from multimodal_helpers import ensure_registered, write_table

from bmrun.errors import BmrunError


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    ensure_registered(tmp_path_factory.mktemp("site"))
    return write_table(tmp_path_factory.mktemp("table"), 240, missing_every=40)


def _args(path, *extra):
    return ["model=multimodal", "data=csv", f"data.path={path}", "data.target=label", "data.images=[photo]",
            "data.text=[title]", "logger.tensorboard=false", *extra]


def test_config_sees_every_modality(table):
    from bmrun.data.catalog import describe
    from bmrun.specs import MULTIMODAL

    config = validated(_args(table))
    task, inputs = describe(config.data)
    assert (task.kind, inputs.kind, inputs.shape) == ("binary", MULTIMODAL, (4,))  # price, season, title, photo
    assert config.model.encoders == {"image": "cnn", "text": "bag"}


@pytest.mark.parametrize("extra, words", [
    (["data.text=[photo]"], "both in data.text and in data.images"),
    (["data.drop_modality=text", "data.images=[]", "data.text=title"], "leaves one modality out"),
    (["model.encoders.image=factorization"], "does not read images"),
    (["model.encoders.text=cnn"], "encoders.text"),
    (["model=mlp"], "cannot read data=csv (multimodal inputs)"),
])
def test_bad_configs_are_one_line(table, extra, words):
    with pytest.raises(BmrunError, match=None) as caught:
        validated(_args(table) + extra)
    assert words in str(caught.value)


def test_image_path_outside_the_folder_is_refused(tmp_path, table):
    folder = tmp_path / "t"
    path = write_table(folder, 20)
    lines = path.read_text().splitlines()
    lines[3] = "../../etc/passwd" + lines[3][lines[3].index(","):]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BmrunError) as caught:
        validated(_args(path))
    assert "leads outside the CSV's folder" in str(caught.value) and "line 4" in str(caught.value)


def test_an_image_column_without_any_file_is_refused(tmp_path, table):
    path = write_table(tmp_path / "t", 20, missing_every=1)
    with pytest.raises(BmrunError) as caught:
        validated(_args(path))
    assert "no file of the image column(s) 'photo' exists" in str(caught.value)


def test_a_missing_file_is_an_error_when_asked(tmp_path, table):
    from bmrun import registry

    path = write_table(tmp_path / "t", 30, missing_every=7)
    config = validated(_args(path, "data.on_bad_file=error"))
    with pytest.raises(BmrunError) as caught:
        registry.dataset("csv").load(config.data, 0)
    assert "does not exist (data.on_bad_file=error)" in str(caught.value)


def test_images_decode_to_pixels_with_nan_for_the_absent(table):
    from bmrun import registry

    raw = registry.dataset("csv").load(validated(_args(table)).data, 0)
    photos = np.concatenate([raw.x_train["photo"], raw.x_test["photo"]])
    assert photos.shape[1:] == (16, 16, 1) and photos.dtype == np.float16
    absent = np.isnan(photos.reshape(len(photos), -1)).all(axis=1)
    assert absent.sum() == 240 // 40  # one in 40 files never written
    assert np.nanmax(photos) == 230 and "6 rows without a readable photo image" in raw.notes


@pytest.mark.slow
def test_fused_run_trains_saves_and_predicts_raw_rows(tmp_path, table):
    from bmrun.cli.predict import predict_files
    from bmrun.models.loading import open_run

    metrics = train_in_process(tmp_path, _args(table, "trainer.max_epochs=2", "model.fusion=attention"))
    assert {"accuracy", "roc_auc"} <= set(metrics["test"])
    run = open_run(str(tmp_path), "test")  # the .keras file reloads in safe mode
    assert set(run.model.input) == {"price", "season", "title", "photo"}
    records = predict_files(str(tmp_path), [str(table)])
    assert len(records) == 240 and {r["name"] for r in records} <= {"yes", "no"}


@pytest.mark.slow
def test_drop_modality_trains_without_it(tmp_path, table):
    from bmrun.models.loading import open_run

    train_in_process(tmp_path, _args(table, "trainer.max_epochs=1", "data.drop_modality=image"))
    assert set(open_run(str(tmp_path), "test").model.input) == {"price", "season", "title"}
    assert_accuracy_from_its_counts(load_metrics(tmp_path)["test"])
