"""The Hydra callback that closes every multirun: ``summary.csv``, the results table, the exit code.

Registered in ``conf/train.yaml`` under ``hydra.callbacks``, so it works with every sweeper
(basic, Optuna) and launcher (basic, joblib, submitit): it runs in the process that started the
sweep, after the sweeper returns, and learns what the jobs did from the files they wrote rather
than from return values, which a launcher running jobs elsewhere does not hand to callbacks.

A job that fails writes ``"status": "failed"`` (or ``diverged``, ``interrupted``) and the
sweep goes on (see :func:`bmrun.cli.app.run_job`); here, at the very end, any such job of this
sweep makes the process exit 1, unless ``fail_on_job_error=false``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from bmrun import console
from bmrun.run_dir import METRICS
from bmrun.sweep.report import print_report
from bmrun.sweep.summary import SUMMARY_CSV, collect, is_failure, write_summary_csv
from bmrun.sweep.importance import for_summary, print_importance
from bmrun.tracking.index import find_run_dirs, load_runs
from bmrun.tracking.mlflow_sink import end_sweep, start_sweep

SWEEP_FAILED_EXIT_CODE = 1


def _fingerprint(run_dir: Path) -> tuple:
    """What changes when a job writes into ``run_dir``: the stats of metrics.json and of the
    overrides Hydra saves when it starts a job there."""
    stats = []
    for path in (run_dir / METRICS, run_dir / ".hydra" / "overrides.yaml"):
        try:
            info = path.stat()
            stats.append((info.st_mtime_ns, info.st_size))
        except OSError:
            stats.append(None)
    return tuple(stats)


def _print_importance(sweep_dir: Path) -> None:
    """The swept keys ranked by their effect on the objective, when the sweep has enough runs."""

    result = for_summary(load_runs([sweep_dir], use_index=False))
    if result is not None:
        print_importance(result)


class SweepReport(Callback):
    """Summarise a multirun when it ends and fail the process if one of its jobs failed.

    Args:
        top: Show only the best N jobs in the terminal table (``summary.csv`` keeps all).
        table: Print the table at all (``hydra.callbacks.sweep_report.table=false`` to skip).
    """

    def __init__(self, top: Optional[int] = None, table: bool = True) -> None:
        self.top = top
        self.table = table
        self._before: dict[str, tuple] = {}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A sweep dir may be reused (e.g. an Optuna study resumed into the same folder): remember
        # which runs were already there, so that only this sweep's jobs decide the exit code.
        sweep_dir = Path(config.hydra.sweep.dir)
        if OmegaConf.select(config, "logger.mlflow", default=False):  # the jobs' parent MLflow run

            start_sweep(sweep_dir, OmegaConf.select(config, "logger.mlflow_uri", default=None))
        if sweep_dir.is_dir():
            self._before = {str(run_dir): _fingerprint(run_dir) for run_dir in find_run_dirs(sweep_dir)}

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = collect(sweep_dir) if sweep_dir.is_dir() else []
        if not rows:
            return
        write_summary_csv(rows, sweep_dir / SUMMARY_CSV)
        if self.table:
            print_report(sweep_dir, rows, top=self.top)
        console.out.print(f"summary {sweep_dir / SUMMARY_CSV}  |  bmrun-report {sweep_dir}  |  "
                          f"tensorboard --logdir {sweep_dir}")
        _print_importance(sweep_dir)
        ours = [row for row in rows if _fingerprint(Path(row["run_dir"])) != self._before.get(row["run_dir"])]
        failed = [row for row in ours if is_failure(row)]
        if OmegaConf.select(config, "logger.mlflow", default=False):
            end_sweep(sweep_dir, OmegaConf.select(config, "logger.mlflow_uri", default=None), bool(failed))
        if not failed:
            return
        jobs = ", ".join(f"{row['job']} ({row['status']})" for row in failed)
        message = f"{len(failed)} of {len(ours)} jobs did not complete: {jobs}; see their metrics.json and bmrun.log"
        if OmegaConf.select(config, "fail_on_job_error", default=True):
            console.print_error("sweep failed", message + ". Exit status 1 (fail_on_job_error=false exits 0).")
            sys.exit(SWEEP_FAILED_EXIT_CODE)
        console.err.print(f"[yellow]bmrun sweep:[/] {message} (fail_on_job_error=false: exit status 0)")
