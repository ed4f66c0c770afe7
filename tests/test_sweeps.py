"""Sweeps through Hydra's own sweepers and launchers, via the real CLI.

Each sweep is a real ``bmrun`` process, so the sweeps are few and tiny (200 digits, one or
two epochs) and each test checks everything its sweep can show.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bmrun.sweep.callback import SweepReport
from conftest import load_metrics, run_cli, train_in_process

TINY = ["data=digits", "data.limit=200", "trainer.max_epochs=1", "logger.progress_bar=false",
        "logger.print_config=false"]


def _job_dirs(sweep: Path) -> list[Path]:
    return sorted((p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))


def _summary(sweep: Path) -> list[dict]:
    with open(sweep / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _comparable(metrics: dict) -> dict:
    """What two runs of one config must share exactly (timings excluded)."""
    train = {k: v for k, v in metrics["train"].items() if k != "samples_per_s"}
    return {"test": metrics["test"], "val": metrics["val"], "train": train, "epochs": metrics["epochs"]}


@pytest.mark.slow
def test_job_of_a_multirun_equals_the_same_config_run_alone(tmp_path):
    """Jobs share one process: nothing of job 1 (seeds, Keras state, graphs) may leak into job 2."""
    common = TINY + ["trainer.max_epochs=2", "trainer.deterministic=true"]
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", "seed=1,2", *common, f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # The reference trains in this (pytest) process: it shares nothing with the sweep's process.
    train_in_process(tmp_path / "alone", ["seed=2", *common])

    jobs = _job_dirs(sweep)
    assert [load_metrics(j)["status"] for j in jobs] == ["completed", "completed"]
    assert _comparable(load_metrics(jobs[1])) == _comparable(load_metrics(tmp_path / "alone"))
    assert _comparable(load_metrics(jobs[0])) != _comparable(load_metrics(jobs[1]))  # the seed matters

    # End of sweep: summary.csv (job order) and the table on stdout (best val/accuracy first).
    rows = _summary(sweep)
    assert [r["job"] for r in rows] == ["0", "1"] and {r["status"] for r in rows} == {"completed"}
    assert float(rows[1]["test/accuracy"]) == load_metrics(jobs[1])["test"]["accuracy"]
    assert "seed=2" in rows[1]["overrides"] and rows[1]["objective"] == "val/accuracy"
    stdout = " ".join(proc.stdout.split())  # rich wraps long lines
    assert "best val/accuracy first" in stdout and "summary.csv" in stdout
    # Each job has its own HParams session for `tensorboard --logdir <sweep>`.
    for job in jobs:
        assert list((job / "tensorboard" / "hparams").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_failed_jobs_are_recorded_the_sweep_goes_on_and_the_exit_status_says_so(tmp_path):
    sweep = tmp_path / "sweep"
    # Jobs: (1.5, 1e30) and (1.5, 1e-3) fail validation, (0.0, 1e30) diverges, (0.0, 1e-3) trains.
    proc = run_cli(["-m", "model.dropout_rate=1.5,0.0", "optimizer.lr=1e30,1e-3", *TINY,
                    f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    metrics = [load_metrics(j) for j in _job_dirs(sweep)]
    assert [m["status"] for m in metrics] == ["failed", "failed", "diverged", "completed"]
    assert "dropout_rate" in metrics[0]["error"] and "NaN or infinite" in metrics[2]["error"]
    assert proc.returncode == 1, proc.stderr
    assert "3 of 4 jobs did not complete" in proc.stderr
    assert [r["status"] for r in _summary(sweep)] == ["failed", "failed", "diverged", "completed"]
    stdout = " ".join(proc.stdout.split())  # rich wraps long lines
    table = stdout[stdout.index("best val/accuracy first"):]
    assert table.index("completed") < table.index("failed")  # failed jobs rank last


def test_fail_on_job_error_false_exits_zero(tmp_path):
    sweep = tmp_path / "sweep"  # fails in validation: no TensorFlow import, fast
    proc = run_cli(["-m", "model.dropout_rate=1.5", "fail_on_job_error=false", *TINY, f"hydra.sweep.dir={sweep}"],
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert load_metrics(sweep / "0")["status"] == "failed"
    assert "1 of 1 jobs did not complete" in proc.stderr and _summary(sweep)[0]["status"] == "failed"


def test_exit_status_counts_only_this_sweeps_jobs(tmp_path):
    """A sweep dir that is reused (e.g. a resumed Optuna study) keeps old failures out of the verdict."""
    from bmrun.run_dir import write_metrics

    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}, "fail_on_job_error": True})
    (tmp_path / "0").mkdir()
    write_metrics(tmp_path / "0", {"status": "failed"})
    callback = SweepReport(table=False)
    callback.on_multirun_start(config)
    (tmp_path / "1").mkdir()
    write_metrics(tmp_path / "1", {"status": "completed", "objective": {"key": "val/accuracy", "value": 0.5}})
    callback.on_multirun_end(config)  # does not exit: job 0 is from an earlier sweep
    assert len(_summary(tmp_path)) == 2

    callback.on_multirun_start(config)
    (tmp_path / "2").mkdir()
    write_metrics(tmp_path / "2", {"status": "diverged"})
    with pytest.raises(SystemExit) as exit_info:
        callback.on_multirun_end(config)
    assert exit_info.value.code == 1


@pytest.mark.slow
def test_optuna_search_runs_every_trial_even_when_some_fail_and_a_rerun_tells_them_again(tmp_path):
    sweep = tmp_path / "optuna"
    # dropout 1.5 is invalid: with sampler seed 0, optuna 2.10's TPE picks 1.5, 0.0, 1.5 (failing
    # trials first and last). A failed trial returns -inf: Optuna records it as its worst value.
    args = ["-m", "hparams_search=optuna", "hydra.sweeper.n_trials=3", "hydra.sweeper.sampler.seed=0",
            "model.dropout_rate=choice(0.0,1.5)", *TINY, f"hydra.sweep.dir={sweep}", "resume=auto"]
    proc = run_cli(args, cwd=tmp_path)
    jobs = _job_dirs(sweep)
    assert len(jobs) == 3, proc.stderr
    metrics = [load_metrics(j) for j in jobs]
    assert [m["status"] for m in metrics] == ["failed", "completed", "failed"], proc.stderr
    assert proc.returncode == 1  # fail_on_job_error applies to searches too
    done = metrics[1]
    assert done["objective"]["key"] == "val/accuracy"
    assert any(o.startswith("model.filters=[") for o in done["overrides"])  # quoted choice -> a list

    results = OmegaConf.load(sweep / "optimization_results.yaml")
    assert set(results.best_params) == {"optimizer.lr", "model.filters", "model.dropout_rate"}
    assert results.best_params["model.dropout_rate"] == 0.0
    assert results.best_value == done["objective"]["value"]
    assert len(_summary(sweep)) == 3

    # resume=auto: the seeded sampler proposes the same trials; the completed one is told again
    # from its metrics.json, untouched, and the failed ones run (and fail) again.
    completed = (jobs[1] / "metrics.json").read_text()
    best = (sweep / "optimization_results.yaml").read_text()
    again = run_cli(args, cwd=tmp_path)
    assert again.returncode == 1 and again.stdout.count("already completed") == 1, again.stderr
    assert (jobs[1] / "metrics.json").read_text() == completed
    assert [load_metrics(j)["status"] for j in _job_dirs(sweep)] == ["failed", "completed", "failed"]
    assert (sweep / "optimization_results.yaml").read_text() == best


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_processes_and_a_rerun_redoes_only_the_failed_job(tmp_path):
    """One joblib sweep (its workers each pay a TensorFlow import) shows both the parallel jobs
    and what ``resume=auto`` does when it is run again after a job failed."""
    sweep = tmp_path / "joblib"
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2", *TINY, f"hydra.sweep.dir={sweep}",
            "resume=auto"]
    # A fresh interpreter: loky's worker processes hang when their parent is a fork (forked_cli).
    proc = run_cli(args, cwd=tmp_path, fresh=True)
    assert proc.returncode == 0, proc.stderr
    assert "Joblib.Parallel(n_jobs=2" in proc.stdout + proc.stderr
    jobs = _job_dirs(sweep)
    assert len(jobs) == 2
    for job, seed in zip(jobs, (1, 2)):
        metrics = load_metrics(job)
        assert metrics["status"] == "completed" and metrics["run_dir"] == str(job)
        assert f"seed={seed}" in metrics["overrides"]
        assert (job / "model" / "model.keras").is_file() and (job / "history.csv").is_file()
        assert list((job / "tensorboard" / "hparams").glob("events.out.tfevents.*"))
    assert len(_summary(sweep)) == 2

    kept = (sweep / "0" / "metrics.json").read_text()
    failed = json.loads((sweep / "1" / "metrics.json").read_text())
    (sweep / "1" / "metrics.json").write_text(json.dumps({**failed, "status": "failed"}))
    run_cli(args, tmp_path, check=True, fresh=True)
    assert (sweep / "0" / "metrics.json").read_text() == kept  # completed: skipped, untouched
    assert load_metrics(sweep / "1")["status"] == "completed"
    assert len(_summary(sweep)) == 2


def _hydra_config(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from bmrun.config.schema import register_schemas
    from bmrun.cli.help import config_dir

    register_schemas()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


def test_slurm_preset_composes_with_sensible_defaults():
    cfg = _hydra_config(["hydra/launcher=slurm", "hydra.launcher.partition=gpu"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.timeout_min, launcher.gpus_per_node, launcher.cpus_per_task, launcher.mem_gb) == (240, 1, 8, 32)
    assert launcher.tasks_per_node == 1 and launcher.partition == "gpu" and launcher.max_num_timeout == 0
    assert OmegaConf.to_container(cfg.hydra.launcher, resolve=False)["submitit_folder"].startswith("${hydra.sweep.dir}")
    # SIGTERM before the time limit, so that bmrun checkpoints (submitit's USR2 would not let it).
    assert launcher.additional_parameters.signal == "TERM@120"


def test_optuna_preset_composes():
    cfg = _hydra_config(["hparams_search=optuna"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert sweeper.params["optimizer.lr"].startswith("tag(log")
    assert set(sweeper.params) == {"optimizer.lr", "model.filters", "model.dropout_rate"}
    assert cfg.objective == "val/accuracy"  # the metric every trial returns
    assert "SweepReport" in cfg.hydra.callbacks.sweep_report._target_


def test_cli_prints_the_slurm_launcher_config(tmp_path):
    proc = run_cli(["hydra/launcher=slurm", "--cfg", "hydra", "-p", "hydra.launcher"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SlurmLauncher" in proc.stdout and "gpus_per_node: 1" in proc.stdout
