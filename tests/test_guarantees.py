"""What bmrun guarantees one level above a single run: resumable sweeps, checkpoint integrity,
one owner per run dir, resumes that cannot change the experiment, write errors, pipes."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import QUIET, load_metrics, resume_in_process, run_cli, start_cli, train_in_process, wait_for_checkpoint

TINY = ["model=linear", "data.limit=300", "trainer.max_epochs=2", "logger.progress_bar=false"]
# A sweep job long enough to be killed mid-run (checkpoints every 8 steps).
SLOW_JOB = ["model=mlp", "data.batch_size=16", "trainer.max_epochs=3", "trainer.steps_per_call=4",
            "trainer.checkpoint_every_n_steps=8", "trainer.deterministic=true", "logger.progress_bar=false"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _lock(run_dir: Path, pid: int) -> None:
    (run_dir / ".lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))


@pytest.mark.slow
# ----------------------------------------------------------------------------- resumable sweeps
def test_a_killed_sweep_rerun_with_resume_auto_skips_resumes_and_completes(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "seed=3,4", *SLOW_JOB, f"hydra.sweep.dir={sweep}", "resume=auto"]
    proc = start_cli(args, tmp_path)
    wait_for_checkpoint(sweep / "0", proc)
    proc.send_signal(signal.SIGKILL)  # a preempted node: no handler runs, the lock stays behind
    proc.communicate()
    assert load_metrics(sweep / "0")["status"] == "running" and (sweep / "0" / ".lock").exists()
    assert not (sweep / "1").exists()

    again = run_cli(args, tmp_path, check=True)
    assert "resuming" in again.stderr
    for job in ("0", "1"):
        metrics = load_metrics(sweep / job)
        assert metrics["status"] == "completed" and metrics["epochs"] == 3
    assert len((sweep / "summary.csv").read_text().strip().splitlines()) == 3  # header + both jobs

    finished = {job: (sweep / job / "metrics.json").read_text() for job in ("0", "1")}
    third = run_cli(args, tmp_path, check=True)
    assert third.stdout.count("already completed") == 2
    assert {job: (sweep / job / "metrics.json").read_text() for job in ("0", "1")} == finished


def test_resume_auto_decides_from_the_job_dir(tmp_path):
    from bmrun.config.resume import auto_resume_action
    from bmrun.errors import RunDirBusy, RunDirError

    run_dir = tmp_path / "job"
    assert auto_resume_action(run_dir, ["seed=1", "resume=auto"])[0] == "fresh"  # nothing there yet
    train_in_process(run_dir, [*TINY, "seed=1"])
    metrics = load_metrics(run_dir)
    overrides = metrics["overrides"]
    assert auto_resume_action(run_dir, overrides + ["resume=auto"])[0] == "skip"
    with pytest.raises(RunDirError, match="holds a run of other overrides"):
        auto_resume_action(run_dir, ["seed=2", "resume=auto"])
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "interrupted"}))
    assert auto_resume_action(run_dir, overrides)[0] == "resume"
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "running"}))
    _lock(run_dir, os.getpid())
    with pytest.raises(RunDirBusy, match=str(os.getpid())):
        auto_resume_action(run_dir, overrides)
    _lock(run_dir, _dead_pid())  # killed: its lock is stale
    assert auto_resume_action(run_dir, overrides)[0] == "resume"
    (run_dir / "metrics.json").write_text(json.dumps({**metrics, "status": "failed"}))
    assert auto_resume_action(run_dir, overrides)[0] == "fresh"


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoints_carry_checksums_and_only_the_last_n_are_kept(tmp_path):
    train_in_process(tmp_path, [*TINY, "trainer.max_epochs=4", "trainer.keep_checkpoints=3"])
    folder = tmp_path / "checkpoints"
    indexes = sorted(p.name for p in folder.glob("ckpt-*.index"))
    records = sorted(p.name[: -len(".sha256")] + ".index" for p in folder.glob("ckpt-*.sha256"))
    assert len(indexes) == 3 and records == indexes


def test_checkpoint_every_n_epochs_thins_epoch_end_checkpoints_but_keeps_the_last(tmp_path):
    """Epochs 2, 4 and the budget's last (5) are checkpointed; a resume goes on from the last one."""
    import csv

    from bmrun.config import validate
    from bmrun.config.resume import config_for_resume
    from bmrun.training.train import train

    train_in_process(tmp_path, [*TINY, "trainer.max_epochs=5", "trainer.keep_checkpoints=10",
                                "trainer.checkpoint_every_n_epochs=2"])
    with open(tmp_path / "history.csv", newline="") as handle:
        step_of_epoch = {int(row["epoch"]): int(row["step"]) for row in csv.DictReader(handle)}
    saved = sorted(int(p.name.split("-")[1].split(".")[0]) for p in (tmp_path / "checkpoints").glob("ckpt-*.index"))
    assert saved == [step_of_epoch[2], step_of_epoch[4], step_of_epoch[5]]
    resumed = train(validate(config_for_resume(tmp_path, ["trainer.max_epochs=6"])[0]), tmp_path)
    assert resumed["epochs"] == 6


def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous_good_one(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_in_process(run_dir, [*TINY, "trainer.max_epochs=3"])
    steps = sorted(int(p.name.split("-")[1].split(".")[0]) for p in (run_dir / "checkpoints").glob("ckpt-*.index"))
    latest = run_dir / "checkpoints" / f"ckpt-{steps[-1]}.data-00000-of-00001"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # truncated, as by a full disk
    capsys.readouterr()
    resume_in_process(run_dir, ["trainer.max_epochs=4"])
    stderr = " ".join(capsys.readouterr().err.split())  # the console wraps long lines (a deep tmp path)
    assert f"ckpt-{steps[-1]} is corrupt" in stderr
    assert f"resuming {run_dir} at epoch 3, step {steps[-2]}" in stderr  # the step it goes back to
    metrics = load_metrics(run_dir)
    assert metrics["status"] == "completed" and metrics["epochs"] == 4


# ----------------------------------------------------------------------------- one owner, same experiment
def test_a_stale_lock_does_not_block_a_resume_and_a_finished_run_leaves_no_lock(tmp_path):
    run_dir = tmp_path / "run"
    train_in_process(run_dir, TINY)
    assert not (run_dir / ".lock").exists()
    _lock(run_dir, _dead_pid())
    resume_in_process(run_dir, ["trainer.max_epochs=3"])
    assert load_metrics(run_dir)["epochs"] == 3 and not (run_dir / ".lock").exists()


def test_a_busy_run_dir_is_refused_and_left_untouched(tmp_path):
    run_dir = tmp_path / "run"
    train_in_process(run_dir, TINY)
    before = (run_dir / "metrics.json").read_text()
    _lock(run_dir, os.getpid())
    proc = run_cli([f"resume={run_dir}", "trainer.max_epochs=3"], tmp_path)
    assert proc.returncode == 2 and f"process {os.getpid()}" in proc.stderr and "Traceback" not in proc.stderr
    assert (run_dir / "metrics.json").read_text() == before


def test_safe_resume_changes_are_allowed_and_recorded(tmp_path):
    run_dir = tmp_path / "run"
    train_in_process(run_dir, TINY)
    # The resume goes through the CLI: it records the changed values and rewrites config.yaml.
    run_cli([f"resume={run_dir}", "trainer.max_epochs=3", "logger.tensorboard=false"], tmp_path, check=True)
    metrics = load_metrics(run_dir)
    assert metrics["resumes"][-1]["changes"] == {"trainer.max_epochs": [2, 3], "logger.tensorboard": [True, False]}
    assert metrics["resumes"][-1]["from_epoch"] == 2
    # the run keeps the overrides it was started with (train_in_process's default among them)
    assert metrics["overrides"] == [*QUIET, "logger.saved_model=false", *TINY]
    assert "max_epochs: 3" in (run_dir / "config.yaml").read_text()


def test_resume_refuses_every_change_to_the_experiment_naming_each_key(tmp_path):
    from bmrun.config.resume import config_for_resume
    from bmrun.errors import ConfigError

    train_in_process(tmp_path, TINY)
    with pytest.raises(ConfigError) as info:
        config_for_resume(tmp_path, ["model=mlp", "optimizer.lr=0.1", "data.batch_size=8", "seed=5",
                                     "trainer.max_epochs=9"])
    message = str(info.value)
    for key in ("model (linear -> mlp)", "optimizer.lr", "data.batch_size", "seed (0 -> 5)"):
        assert key in message
    assert "trainer.max_epochs" not in message.split("On resume only")[0]


# ----------------------------------------------------------------------------- write errors
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_checkpointing_fails_the_run_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import tensorflow as tf

    from bmrun.errors import ArtifactWriteError

    real_save = tf.train.CheckpointManager.save
    calls = {"n": 0}

    def save_then_fill_the_disk(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:
            _no_space()
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save_then_fill_the_disk)
    with pytest.raises(ArtifactWriteError) as info:
        train_in_process(tmp_path, [*TINY, "trainer.max_epochs=3"])
    assert "No space left on device" in str(info.value) and "checkpoints" in str(info.value)
    metrics = load_metrics(tmp_path)
    assert metrics["status"] == "failed" and metrics["failed_path"].endswith("checkpoints")
    first = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert first is not None and tf.train.load_checkpoint(first).get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 1


def test_disk_full_while_exporting_names_the_file_and_leaves_metrics_readable(tmp_path, monkeypatch):
    import keras

    from bmrun.errors import ArtifactWriteError

    monkeypatch.setattr(keras.Model, "save", _no_space)
    with pytest.raises(ArtifactWriteError, match="model.keras"):
        train_in_process(tmp_path, TINY)
    metrics = load_metrics(tmp_path)  # valid JSON: the failure record, or the previous version
    assert metrics["status"] == "failed" and "No space left on device" in metrics["error"]


def test_disk_full_for_metrics_keeps_the_previous_metrics_file(tmp_path, monkeypatch):
    import bmrun.run_dir as run_dir_module
    from bmrun.errors import ArtifactWriteError

    (tmp_path / "metrics.json").write_text(json.dumps({"status": "running", "marker": 1}))
    monkeypatch.setattr(run_dir_module.os, "fsync", _no_space)
    with pytest.raises(ArtifactWriteError, match="metrics.json"):
        run_dir_module.write_metrics(tmp_path, {"status": "completed"})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"status": "running", "marker": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left behind


def test_a_write_error_reaches_the_user_as_one_paragraph(tmp_path):
    code = ("import errno, keras, sys\n"
            "def full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "keras.Model.save = full\n"
            "from bmrun.cli import main\n"
            f"sys.argv = ['bmrun', *{TINY + list(QUIET)!r}, 'hydra.run.dir={tmp_path / 'run'}']\n"
            "main()\n")
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 4, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- pipes
@pytest.mark.parametrize("command", [["bmrun", "--help"], ["bmrun-report", "{runs}"],
                                     ["bmrun-report", "{runs}", "--format", "csv"]])
def test_console_scripts_piped_into_a_reader_that_closes_early_exit_quietly(tmp_path, command):
    runs = tmp_path / "runs"
    for i in range(400):  # a report far longer than a pipe's buffer
        (runs / f"run{i:03d}").mkdir(parents=True)
        (runs / f"run{i:03d}" / "metrics.json").write_text(json.dumps(
            {"status": "completed", "val": {"accuracy": i / 400}, "test": {"accuracy": i / 400},
             "objective": {"key": "val/accuracy", "value": i / 400}, "overrides": [f"seed={i}"]}))
    script = Path(sys.executable).parent / command[0]
    args = [str(script)] + [a.format(runs=runs) for a in command[1:]]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "80"})
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_a_training_run_piped_into_a_reader_that_closes_early_still_finishes(tmp_path):
    """``bmrun ... 2>&1 | head -1``: the console goes quiet, the run completes and says so."""
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.Popen([sys.executable, "-m", "bmrun", "model=linear", "data.limit=300",
                             "trainer.max_epochs=3", f"hydra.run.dir={run_dir}"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**env, "PYTHONUNBUFFERED": "1"})
    proc.stdout.readline()
    proc.stdout.close()  # what `2>&1 | head -1` does, long before the epochs and the results table
    assert proc.wait(timeout=300) == 0
    metrics = load_metrics(run_dir)
    assert metrics["status"] == "completed" and metrics["epochs"] == 3 and "accuracy" in metrics["test"]


def test_a_checkpoint_killed_before_its_checksum_record_is_still_used(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_in_process(run_dir, TINY)
    for record in (run_dir / "checkpoints").glob("ckpt-*.sha256"):
        record.unlink()  # as if every save had been killed between the two writes
    capsys.readouterr()
    resume_in_process(run_dir, ["trainer.max_epochs=3"])
    stderr = " ".join(capsys.readouterr().err.split())  # the console wraps long lines (a deep tmp path)
    assert "corrupt" not in stderr and "at epoch 3" in stderr
    assert load_metrics(run_dir)["epochs"] == 3


# An Optuna study rerun with resume=auto, and a joblib sweep's: tests/test_sweeps.py, with the
# sweeper's and the launcher's own tests (one sweep each shows both).


@pytest.mark.parametrize("status", ["interrupted", "completed"])
def test_resume_asking_for_no_more_epochs_than_were_trained_is_refused_before_the_run_is_touched(tmp_path, status):
    """An interrupted run resumed with fewer epochs than it trained stays interrupted, byte for byte."""
    from bmrun.config import validate
    from bmrun.config.resume import check_resumable, config_for_resume
    from bmrun.errors import BmrunError

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    from omegaconf import OmegaConf

    from conftest import compose

    OmegaConf.save(compose(["trainer.max_epochs=400"]), run_dir / "config.yaml")
    (run_dir / "metrics.json").write_text(json.dumps({"status": status, "epochs": 167}))
    config = validate(config_for_resume(run_dir, ["trainer.max_epochs=12"])[0])
    with pytest.raises(BmrunError, match="167 epochs; to train further pass trainer.max_epochs=<more than 167>"):
        check_resumable(run_dir, config)
    assert json.loads((run_dir / "metrics.json").read_text()) == {"status": status, "epochs": 167}
    check_resumable(run_dir, validate(config_for_resume(run_dir, ["trainer.max_epochs=168"])[0]))  # more: allowed
