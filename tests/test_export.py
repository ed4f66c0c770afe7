"""Exports: TFLite (``logger.tflite``) files, sizes and the accuracy each compressed copy keeps;
``logger.saved_model=false`` (the ``.keras`` file alone)."""

from __future__ import annotations

import pytest

from conftest import train_in_process, validated

FAST = ("trainer.max_epochs=2", "data.limit=400", "logger.tensorboard=false")


@pytest.fixture(scope="module")
def cnn_run(digits_run):
    """The session's digits run (conftest.DIGITS_RUN): batch norm on, so its fused kernel must
    convert (and fold) like Keras's own layer, and every TFLite kind. These tests only read it."""
    return digits_run


def test_every_kind_is_written_with_its_size(cnn_run):
    run_dir, metrics = cnn_run
    export = metrics["export"]
    assert export["model.keras"]["bytes"] == (run_dir / "model" / "model.keras").stat().st_size
    assert export["saved_model"]["bytes"] > 0
    for kind in ("float32", "int8", "float16"):
        entry = export[f"tflite_{kind}"]
        path = run_dir / "model" / f"model_{kind}.tflite"
        assert path.is_file() and "error" not in entry
        assert entry["bytes"] == path.stat().st_size
        assert entry["batch"] is None  # a CNN converts with a dynamic batch axis
    sizes = {kind: export[f"tflite_{kind}"]["bytes"] for kind in ("float32", "int8", "float16")}
    assert sizes["int8"] < sizes["float32"] / 2.5  # int8 weights: about 4x smaller
    assert sizes["float16"] < sizes["float32"] * 0.7  # float16 weights: about 2x smaller


def test_tflite_accuracy_is_close_to_the_keras_model(cnn_run):
    _, metrics = cnn_run
    keras_accuracy = metrics["test"]["accuracy"]
    export = metrics["export"]
    # float32 computes the same function; one example in 359 may flip on rounding.
    assert export["tflite_float32"]["test_accuracy"] == pytest.approx(keras_accuracy, abs=0.006)
    assert export["tflite_float16"]["test_accuracy"] == pytest.approx(keras_accuracy, abs=0.02)
    assert export["tflite_int8"]["test_accuracy"] == pytest.approx(keras_accuracy, abs=0.05)


def test_metrics_json_holds_the_export_section(cnn_run):
    from conftest import load_metrics

    run_dir, metrics = cnn_run
    assert load_metrics(run_dir)["export"] == metrics["export"]


def test_default_is_no_tflite_and_kinds_are_checked():
    from bmrun.errors import ConfigError

    assert validated([]).logger.tflite == []
    assert validated(["logger.tflite=[int8]"]).logger.tflite == ["int8"]
    with pytest.raises(ConfigError, match="logger.tflite"):
        validated(["logger.tflite=[int4]"])


@pytest.mark.slow
def test_recurrent_model_converts_with_a_fixed_batch(tmp_path):
    metrics = train_in_process(tmp_path, ["model=rnn", "model.hidden_dim=16", "trainer.max_epochs=1", "data.limit=200",
                                          "logger.tensorboard=false", "logger.tflite=[float32]"])
    entry = metrics["export"]["tflite_float32"]
    assert "error" not in entry, entry
    assert entry["batch"] == 1 and not entry["select_tf_ops"]
    assert entry["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=0.006)


def test_a_failed_conversion_is_recorded_not_raised(tmp_path, monkeypatch):
    import numpy as np

    from bmrun.artifacts import tflite
    from bmrun.data import load_prepared
    from bmrun.models import build_model

    config = validated(["data.limit=50"])
    data = load_prepared(config.data, 0)
    model = build_model(config.model, data)

    def broken(*args, **kwargs):
        raise RuntimeError("<unknown>:0: error: loc(fused[...]): error: 'tf.Foo' op is neither a custom op nor a flex op")

    monkeypatch.setattr(tflite, "_convert", broken)
    result = tflite.export_tflite(model, tmp_path, ["int8"], data.test.x, data.test.y, data.task)
    assert result == {"tflite_int8": {"error": "conversion failed: 'tf.Foo' op is neither a custom op nor a flex op"}}
    assert not list(tmp_path.glob("*.tflite"))

    monkeypatch.setattr(tflite, "_convert", lambda *a, **k: (b"not a flatbuffer", {"batch": None}))
    result = tflite.export_tflite(model, tmp_path, ["float32"], data.test.x[:3], np.zeros(3), data.task)
    entry = result["tflite_float32"]
    assert entry["bytes"] == len(b"not a flatbuffer") and entry["error"].startswith("evaluation failed")


def test_without_the_saved_model_a_run_writes_the_keras_file_alone(tmp_path):
    """``logger.saved_model=false``: model.keras only, recorded as such; resuming a run that had a
    SavedModel removes it rather than leave one that no longer matches the model; TFLite, which
    converts the SavedModel, is refused beside it."""
    from bmrun.errors import ConfigError
    from conftest import resume_in_process

    run_dir = tmp_path / "run"
    first = train_in_process(run_dir, [*FAST, "trainer.max_epochs=1", "data.limit=200", "logger.saved_model=true"])
    assert (run_dir / "model" / "saved_model" / "saved_model.pb").is_file() and "saved_model" in first["export"]
    metrics = resume_in_process(run_dir, ["trainer.max_epochs=2", "logger.saved_model=false"])
    assert set(metrics["export"]) == {"model.keras"}
    assert (run_dir / "model" / "model.keras").is_file() and not (run_dir / "model" / "saved_model").exists()
    with pytest.raises(ConfigError, match="logger.saved_model=false"):
        validated(["logger.tflite=[float32]", "logger.saved_model=false"])
