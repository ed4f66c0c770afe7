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
def test_streamed_run_trains_and_its_raw_model_reads_image_paths(tmp_path, table, monkeypatch):
    import csv

    import keras

    from bmrun.cli.predict import predict_files
    from bmrun.cli.predict_rows import raw_column_batch
    from bmrun.models.loading import open_run
    import bmrun.models.raw_model  # noqa: F401  (registers bmrun's layers for safe mode)

    metrics = train_in_process(tmp_path / "run", _args(table, "trainer.max_epochs=1", "model.fusion=attention",
                                                       "data.memory_budget=1KiB"))
    assert {"accuracy", "roc_auc"} <= set(metrics["test"])
    run = open_run(str(tmp_path / "run"), "test")  # the .keras file reloads in safe mode
    assert set(run.model.input) == {"price", "season", "title", "photo"}
    records = predict_files(str(tmp_path / "run"), [str(table)])
    assert len(records) == 240 and {r["name"] for r in records} <= {"yes", "no"}

    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[1]["photo"] = ""  # no image, as an empty cell (row 0 names a file never written)
    with open(table.with_name("edited.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.chdir(table.parent)  # the CSV's relative paths, opened from its folder
    raw = keras.saving.load_model(str(tmp_path / "run" / "model" / "raw_model.keras"), safe_mode=True)
    given = {key: np.array([r[key] for r in rows], dtype=object) for key in ("photo", "title", "season")}
    given["price"] = np.array([float(r["price"] or "nan") for r in rows], np.float32)
    batch, _ = raw_column_batch(run.model.columns, [str(table.with_name("edited.csv"))], [])
    expected = run.model.predict(batch, verbose=0)
    assert sum(not (table.parent / r["photo"]).is_file() for r in rows) == 7  # 6 files never written, 1 empty
    np.testing.assert_allclose(raw.predict(given, verbose=0), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_drop_modality_trains_without_it(tmp_path, table):
    from bmrun.models.loading import open_run

    train_in_process(tmp_path, _args(table, "trainer.max_epochs=1", "data.drop_modality=image"))
    assert set(open_run(str(tmp_path), "test").model.input) == {"price", "season", "title"}
    assert_accuracy_from_its_counts(load_metrics(tmp_path)["test"])


def _first_batches(table, budget):
    from bmrun import registry
    from bmrun.data.arrays import prepare
    from bmrun.data.catalog import describe
    from bmrun.data.pipeline import DataPipeline

    config = validated(_args(table, f"data.memory_budget={budget}"))
    raw = registry.dataset("csv").load(config.data, 0)
    task, inputs = describe(config.data)
    data = prepare(raw, task, inputs, val_fraction=0.1, limit=None, normalize=True, seed=0)
    pipeline = DataPipeline(data, batch_size=32, eval_batch_size=64, shuffle=True, seed=0)
    batches = [next(iter(pipeline.train_dataset(1, skip_batches=1))), next(iter(pipeline.eval_dataset("test")))]
    return raw, data, pipeline, batches


def test_streamed_image_columns_give_the_resident_batches(table):
    raw, data, resident, batches = _first_batches(table, "512MiB")
    raw_s, data_s, streamed, batches_s = _first_batches(table, "1KiB")
    assert streamed.streaming and not resident.streaming
    assert "images streamed from disk" in raw_s.notes and "6 rows without a readable photo image" in raw_s.notes
    assert data_s.columns == data.columns  # the same pixel statistics, from the files' sums
    for (x, y), (x_s, y_s) in zip(batches, batches_s):
        np.testing.assert_array_equal(y.numpy(), y_s.numpy())
        assert set(x) == set(x_s)
        for key in x:  # NaN (no image) rows included
            assert x[key].dtype == x_s[key].dtype
            np.testing.assert_array_equal(x[key].numpy(), x_s[key].numpy())
    assert any(np.isnan(x["photo"].numpy()).any() for x, _ in batches_s)  # an absent image was compared
    assert np.isnan(np.asarray(data_s.test.x["photo"])).any()  # decoded on demand, absent rows NaN
