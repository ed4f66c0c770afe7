"""End-to-end training in-process on the bundled digits: artifacts and metrics."""

from __future__ import annotations

import csv
import json
import math


def test_default_cnn_on_digits_writes_every_artifact(digits_run):
    tmp_path, metrics = digits_run  # the session's digits CNN run (conftest.DIGITS_RUN), read only
    assert metrics["status"] == "completed"
    assert metrics["epochs"] == 2
    # Two epochs on 400 digits learn something: well above chance (1 in 10), and a test loss below
    # an untrained model's log(10).
    for split in ("train", "val", "test"):
        assert metrics[split]["accuracy"] > 0.3, (split, metrics[split])
    assert metrics["test"]["loss"] < math.log(10)
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
