"""Runs are never lost: kill/resume exactness, graceful signals, divergence, early stopping."""

from __future__ import annotations

import csv
import signal
from collections import defaultdict
from pathlib import Path

import pytest

from bmrun.errors import DivergedError
from conftest import (kill_mid_run, load_metrics, resume_in_process, run_cli, start_cli, train_in_process,
                      wait_for_checkpoint)

# Long enough (~800 steps) to be killed mid-run, often mid-epoch; checkpoints every 8 steps.
RESUMABLE = ["model=mlp", "data=digits", "data.batch_size=16", "trainer.max_epochs=10", "trainer.steps_per_call=4",
             "trainer.checkpoint_every_n_steps=8", "trainer.deterministic=true", "logger.progress_bar=false", "seed=7"]


def _history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:  # timings differ between runs by nature; everything else must not
        for key in ("epoch_s", "samples_per_s"):
            row.pop(key, None)
    return rows


def _event_steps(log_dir: Path) -> dict:
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2

    steps = defaultdict(list)
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                steps[(path.parent.name, value.tag)].append(event.step)
    return steps


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path):
    # The uninterrupted reference trains in this process (deterministic ops make it the same run
    # as the CLI's); the killed run and its resume are real `bmrun` processes.
    reference = tmp_path / "reference"
    expected = train_in_process(reference, RESUMABLE)
    interrupted = kill_mid_run(RESUMABLE, tmp_path, "killed", max_wait=1.0)
    resumed = run_cli([f"resume={interrupted}"], tmp_path, check=True)
    assert "resuming" in resumed.stderr
    got = load_metrics(interrupted)
    assert got["status"] == "completed" and got["epochs"] == 10
    assert got["test"] == expected["test"]  # identical, not approximately equal
    assert got["val"] == expected["val"]
    assert _history(interrupted) == _history(reference)
    for (split, tag), steps in _event_steps(interrupted / "tensorboard").items():
        assert steps == sorted(set(steps)), f"duplicate or out-of-order steps in {split}/{tag}"


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_checkpoints_reports_and_resumes(tmp_path, sig, code):
    run_dir = tmp_path / "run"
    args = [*RESUMABLE, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}"]
    proc = start_cli(args, tmp_path)
    wait_for_checkpoint(run_dir, proc)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    metrics = load_metrics(run_dir)
    assert metrics["status"] == "interrupted"
    assert metrics["resume_command"] == f"bmrun resume={run_dir}"
    # Resumed in this process: the CLI's resume is the SIGKILL test's.
    metrics = resume_in_process(run_dir)
    assert metrics["status"] == "completed" and metrics["epochs"] == 3
    assert load_metrics(run_dir)["status"] == "completed"
    assert [int(r["epoch"]) for r in _history(run_dir)] == [1, 2, 3]


def test_resume_can_extend_training(tmp_path):
    run_dir = tmp_path / "run"
    train_in_process(run_dir, ["model=linear", "trainer.max_epochs=2"])
    first = load_metrics(run_dir)
    finished = (run_dir / "metrics.json").read_bytes()
    proc = run_cli([f"resume={run_dir}"], tmp_path)
    assert proc.returncode == 2 and "already finished 2 epochs" in proc.stderr
    assert (run_dir / "metrics.json").read_bytes() == finished  # the finished run stays completed, untouched
    resume_in_process(run_dir, ["trainer.max_epochs=4"])  # the refusal above is the CLI's
    metrics = load_metrics(run_dir)
    assert metrics["epochs"] == 4 and metrics["duration_s"] > first["duration_s"]
    assert [int(r["epoch"]) for r in _history(run_dir)] == [1, 2, 3, 4]


def test_nan_loss_stops_with_diverged_status(tmp_path):
    with pytest.raises(DivergedError) as info:
        train_in_process(tmp_path, ["model=mlp", "optimizer=sgd", "optimizer.lr=1e30", "optimizer.momentum=0",
                                    "trainer.max_epochs=3", "trainer.steps_per_call=2"])
    metrics = load_metrics(tmp_path)
    assert metrics["status"] == "diverged"
    assert metrics["step"] == info.value.step >= 1
    assert "learning rate" in metrics["error"]


def test_early_stopping_keeps_and_tests_the_best_epoch(tmp_path):
    common = ["model=linear", "trainer.max_epochs=6", "trainer.early_stopping.enabled=true",
              "trainer.early_stopping.patience=1", "trainer.early_stopping.min_delta=100",
              "trainer.early_stopping.monitor=val/loss"]
    best = train_in_process(tmp_path / "best", common)
    assert best["stopped_early"] and best["epochs"] == 2
    assert best["best_epoch"] == 1 and best["tested_weights"] == "best"
    last = train_in_process(tmp_path / "last", [*common, "trainer.test_with=last"])
    assert last["epochs"] == 2 and last["test"] != best["test"]  # epoch-2 weights differ from epoch-1 ones
    assert (tmp_path / "best" / "checkpoints" / "best.weights.h5").is_file()


def test_saved_model_loads_in_safe_mode_and_predicts_like_training(tmp_path):
    """The exported model (.keras in safe mode, and the SavedModel) gives the test metrics the run reported."""
    import numpy as np
    import tensorflow as tf

    from bmrun.models.loading import load_run_model
    from bmrun.data import load_prepared
    from conftest import validated

    overrides = ["model=mlp", "trainer.max_epochs=1", "data.limit=200", "seed=5", "logger.saved_model=true"]
    metrics = train_in_process(tmp_path, overrides)
    model = load_run_model(tmp_path, "test")
    test = load_prepared(validated(overrides).data, 5).test
    logits = model.predict(test.x.astype("float32"), verbose=0)
    assert logits.shape == (len(test.y), 10)
    accuracy = float(np.mean(logits.argmax(-1) == test.y))
    assert accuracy == pytest.approx(metrics["test"]["accuracy"], abs=1e-9)
    loss = float(np.mean(tf.nn.sparse_softmax_cross_entropy_with_logits(test.y, logits)))
    assert loss == pytest.approx(metrics["test"]["loss"], rel=1e-5)
    saved_model = tf.saved_model.load(str(tmp_path / "model" / "saved_model"))  # kept alive: it owns the variables
    served = saved_model.serve(tf.constant(test.x[:32], tf.float32))
    np.testing.assert_allclose(np.asarray(served), logits[:32], rtol=1e-5, atol=1e-5)
