"""tf.distribute: MirroredStrategy over logical CPUs, and a 2-process multi-worker run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import load_metrics, run_cli, run_dirs, train_in_process

COMMON = ["model=cnn", "data=digits", "trainer.max_epochs=6", "logger.progress_bar=false", "seed=3"]


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path):
    # Logical CPUs must be set before TensorFlow starts, so only the mirrored run needs a process.
    train_in_process(tmp_path / "single", COMMON)
    run_cli([*COMMON, "device=multi_gpu", "device.logical_cpus=2", f"hydra.run.dir={tmp_path / 'mirrored'}"],
            tmp_path, check=True)
    single, mirrored = load_metrics(tmp_path / "single"), load_metrics(tmp_path / "mirrored")
    assert "2x CPU (MirroredStrategy)" in mirrored["device"]
    assert abs(single["test"]["accuracy"] - mirrored["test"]["accuracy"]) <= 0.01
    assert mirrored["test"]["accuracy"] > 0.9


@pytest.mark.slow
def test_mirrored_batch_norm_trains_its_statistics_on_every_replica(tmp_path):
    """The fused batch norm assigns its moving statistics from replica context, as Keras's does."""
    import numpy as np

    from bmrun.models.loading import load_run_model

    run_dir = tmp_path / "bn"
    run_cli([*COMMON, "trainer.max_epochs=3", "model.batch_norm=true", "device=multi_gpu", "device.logical_cpus=2",
             f"hydra.run.dir={run_dir}"], tmp_path, check=True)
    metrics = load_metrics(run_dir)
    assert "2x CPU (MirroredStrategy)" in metrics["device"] and metrics["test"]["accuracy"] > 0.8
    layer = load_run_model(run_dir, "test").get_layer("bn_0")
    assert np.abs(np.asarray(layer.moving_mean)).max() > 1e-3


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_process_multi_worker_run_only_chief_writes(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        env.pop("HYDRA_FULL_ERROR", None)
        args = [*COMMON, "trainer.max_epochs=2", "device=multi_worker", f"hydra.run.dir={tmp_path / 'run'}"]
        procs.append(subprocess.Popen([sys.executable, "-m", "bmrun", *args], cwd=tmp_path, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    (run_dir,) = run_dirs(tmp_path)
    metrics = load_metrics(run_dir)
    assert metrics["status"] == "completed" and "MultiWorkerMirroredStrategy" in metrics["device"]
    assert metrics["test"]["accuracy"] > 0.8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the worker wrote nothing here
