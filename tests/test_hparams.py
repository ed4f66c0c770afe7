"""TensorBoard HParams: which config values become hparams, and what the event files hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmrun.tensorboard.hparams import final_metrics, hparams_for
from conftest import train_in_process, validated

TINY = ["data.limit=200", "trainer.max_epochs=1"]


def read_session(log_dir: Path) -> tuple[dict, dict]:
    """The hparams and the metric scalars of the HParams session in ``log_dir``, as TensorBoard reads them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2
    from tensorboard.util import tensor_util

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    content = events.PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    hparams = {}
    for name, value in start.hparams.items():
        kind = value.WhichOneof("kind")
        hparams[name] = {"number_value": value.number_value, "string_value": value.string_value,
                         "bool_value": value.bool_value}[kind]
    scalars = {tag: float(tensor_util.make_ndarray(events.Tensors(tag)[-1].tensor_proto))
               for tag in events.Tags()["tensors"] if not tag.startswith("_hparams_/")}
    return hparams, scalars


def test_hparams_are_the_touched_config_values_plus_model_and_data():
    overrides = ["optimizer=sgd", "optimizer.lr=1e-2", "model.filters=[8,16]", "model.padding=same", "+trainer.deterministic=true",
                 "seed=3", "data.limit=200", "logger.progress_bar=false", "~model.init_from", "objective=val/f1"]
    config = validated([o.lstrip("+") for o in overrides if not o.startswith(("~", "objective"))])
    values = hparams_for(config, overrides + ["experiment=fashion_cnn_fast"])
    assert values == {"model": "cnn", "data": "digits", "optimizer": "sgd", "optimizer.lr": 0.01,
                      "model.filters": "[8, 16]", "model.padding": "same", "trainer.deterministic": True, "seed": 3, "data.limit": 200,
                      "experiment": "fashion_cnn_fast"}
    # Typed from the config, not from the text: "1e-2" and "0.01" are one float hparam.
    assert isinstance(values["optimizer.lr"], float) and isinstance(values["seed"], int)


def test_final_metrics_flatten_splits_and_skip_non_numbers():
    metrics = {"train": {"loss": 0.5, "samples_per_s": 900.0}, "val": {"accuracy": 0.75},
               "test": {"accuracy": 0.7, "note": "x"}, "epochs": 2, "duration_s": 1.5, "status": "completed"}
    assert final_metrics(metrics) == {"train/loss": 0.5, "train/samples_per_s": 900.0, "val/accuracy": 0.75,
                                      "test/accuracy": 0.7, "epochs": 2.0, "duration_s": 1.5}


def test_run_writes_hparams_session_that_tensorboard_reads_back(tmp_path):
    overrides = TINY + ["optimizer.lr=0.005", "model.dropout_rate=0.25", "seed=3"]
    metrics = train_in_process(tmp_path, overrides)
    hparams, scalars = read_session(tmp_path / "tensorboard" / "hparams")
    assert hparams == {"model": "cnn", "data": "digits", "data.limit": 200, "trainer.max_epochs": 1,
                       "optimizer.lr": pytest.approx(0.005), "model.dropout_rate": 0.25, "seed": 3}
    for split in ("train", "val", "test"):
        for name, value in metrics[split].items():
            if isinstance(value, dict):  # test.per_class: not a scalar
                continue
            assert scalars[f"{split}/{name}"] == pytest.approx(value, rel=1e-6)  # float32 in the event file
    assert scalars["epochs"] == 1 and scalars["duration_s"] == pytest.approx(metrics["duration_s"], rel=1e-6)


def test_logger_hparams_false_writes_no_session(tmp_path):
    train_in_process(tmp_path, TINY + ["logger.hparams=false"])
    assert (tmp_path / "tensorboard" / "val").is_dir()
    assert not (tmp_path / "tensorboard" / "hparams").exists()
