"""End-to-end training in-process on the bundled digits: artifacts and metrics."""

from __future__ import annotations

import csv
import json

from conftest import train_in_process


def test_default_cnn_on_digits_writes_every_artifact(tmp_path):
    metrics = train_in_process(tmp_path, ["trainer.max_epochs=2", "data.limit=400"])
    assert metrics["status"] == "completed"
    assert metrics["epochs"] == 2
    for split in ("train", "val", "test"):
        assert 0.0 <= metrics[split]["accuracy"] <= 1.0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test"]["accuracy"] == metrics["test"]["accuracy"]
    assert set(saved["test"]) >= {"loss", "accuracy", "precision", "recall", "f1"}
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert (tmp_path / "model" / "model.keras").is_file()
    assert (tmp_path / "model" / "saved_model" / "saved_model.pb").is_file()
    assert (tmp_path / "checkpoints" / "checkpoint").is_file()
    assert list((tmp_path / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((tmp_path / "tensorboard" / "val").glob("events.out.tfevents.*"))
