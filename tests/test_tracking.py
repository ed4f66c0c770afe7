"""MLflow: a real SQLite store read back through mlflow.search_runs (export, one tiny training
run, resume into the same MLflow run, sweeps as parent runs, an unreachable store)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from bench_runs import write_runs  # noqa: E402
from conftest import QUIET, resume_in_process, run_cli, train_in_process  # noqa: E402

mlflow = pytest.importorskip("mlflow", reason="MLflow is an optional extra: pip install 'bmrun[mlflow]'")


def search(uri: str) -> list:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=["bmrun"], output_format="list")


def test_export_logs_params_history_and_artifacts_and_is_idempotent(tmp_path, capsys):
    from bmrun.cli import runs as cli

    write_runs(tmp_path / "outputs", 4)
    sweep = tmp_path / "outputs" / "multirun" / "s1"
    write_runs(sweep, 3, sweep=True)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cli.main(["export", "--mlflow", str(tmp_path / "outputs")])  # default URI: beside outputs/
    assert "7 runs exported" in capsys.readouterr().out  # 4 runs and 3 sweep jobs (+ their sweep's run)
    found = search(uri)
    children = [r for r in found if "mlflow.parentRunId" in r.data.tags]
    parents = [r for r in found if r.data.tags.get("bmrun.sweep") == "true"]
    assert len(found) == 8 and len(children) == 3 and len(parents) == 1
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    one = next(r for r in found if r.data.tags.get("bmrun.run_dir", "").endswith("-000000"))
    run_dir = Path(one.data.tags["bmrun.run_dir"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert one.data.params["optimizer.lr"] == metrics["overrides"][1].split("=")[1]
    history = mlflow.tracking.MlflowClient(uri).get_metric_history(one.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2, 3, 4, 5]
    artifacts = {a.path for a in mlflow.tracking.MlflowClient(uri).list_artifacts(one.info.run_id)}
    assert {"config.yaml", "metrics.json", "history.csv"} <= artifacts
    cli.main(["export", "--mlflow", "--uri", uri, str(tmp_path / "outputs")])
    assert len(search(uri)) == 8  # the second export updates the same runs


@pytest.mark.slow
def test_training_with_logger_mlflow_logs_and_resume_continues_the_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    run_dir = tmp_path / "run"
    common = ["data=digits", "data.limit=200", "logger.mlflow=true", f"logger.mlflow_uri={uri}", *QUIET]
    result = run_cli(["trainer.max_epochs=1", f"hydra.run.dir={run_dir}", *common], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [run] = search(uri)
    assert run.info.status == "FINISHED"
    assert {"val_accuracy", "test_accuracy", "train_loss"} <= set(run.data.metrics)
    assert run.data.params["data.name"] == "digits" and run.data.params["data.limit"] == "200"
    assert "bmrun.command" in run.data.tags
    resume_in_process(run_dir, ["trainer.max_epochs=2", *common])  # one CLI run above is enough
    [again] = search(uri)
    assert again.info.run_id == run.info.run_id
    steps = [m.step for m in mlflow.tracking.MlflowClient(uri).get_metric_history(run.info.run_id, "val_accuracy")]
    assert steps == [1, 2]


@pytest.mark.slow
def test_unreachable_store_is_said_once_and_the_run_trains(tmp_path, capsys, monkeypatch):
    uri = "http://127.0.0.1:9"  # the discard port: nothing listens there
    for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")):
        monkeypatch.setenv(name, os.environ.get(name, value))  # bmrun's defaults, unset again after the test
    # In-process: a store that fails is the sink's business, not the CLI's (one CLI run above).
    train_in_process(tmp_path / "run", ["data=digits", "data.limit=200", "trainer.max_epochs=2", "logger.mlflow=true",
                                        f"logger.mlflow_uri={uri}"])
    stderr = " ".join(capsys.readouterr().err.split())  # the console may wrap a long line
    assert stderr.count("MLflow tracking failed") == 1
    assert "Traceback" not in stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "completed"


def test_logger_mlflow_without_mlflow_says_how_to_install(monkeypatch):
    import importlib.util

    from bmrun.config.schema import LoggerConfig
    from bmrun.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r'pip install "bmrun\[mlflow\]"'):
        LoggerConfig(mlflow=True)
    LoggerConfig(mlflow=False)  # off: no MLflow needed
