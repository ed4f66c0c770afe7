"""Overheads a user feels around training: start-up, sweeps, memory, and the fast preset.

    python benchmarks/bench_overheads.py [--json out.json] [--skip-preset]

Measures (each as a fresh ``bmrun`` process, like a user at a terminal):
    help_s          median wall time of ``bmrun --help`` (target <= 0.5 s)
    cfg_job_s       median wall time of ``bmrun --cfg job``
    sweep_job_overhead_s   per-job cost of an 8-job sweep of ``model=linear data=digits
                    trainer.max_epochs=1`` beyond each job's training epoch (target <= 1 s):
                    (wall(8 jobs) - wall(1 job)) / 7 - mean epoch time
    peak_rss_gib    peak resident memory of ``bmrun model=cnn data=fashion_mnist`` (1 epoch;
                    target <= 1.5 GiB)
    fashion_cnn_fast  wall time and test accuracy of ``bmrun experiment=fashion_cnn_fast``
                    (targets: <= 60 s, >= 0.91)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BMRUN = [sys.executable, "-m", "bmrun"]
QUIET = ["logger.progress_bar=false", "logger.print_config=false"]


def timed(args, cwd, repeat=1) -> tuple[float, subprocess.CompletedProcess]:
    walls, proc = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([*BMRUN, *args], cwd=cwd, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"bmrun {' '.join(args)} failed:\n{proc.stderr}")
    return statistics.median(walls), proc


def epoch_seconds(run_dir: Path) -> float:
    with open(run_dir / "history.csv", newline="") as handle:
        return sum(float(row["epoch_s"]) for row in csv.DictReader(handle))


def sweep_overhead(work: Path) -> dict:
    job = ["model=linear", "data=digits", "trainer.max_epochs=1", *QUIET]
    one, _ = timed(["-m", "seed=0", *job, f"hydra.sweep.dir={work / 'one'}"], work)
    eight, _ = timed(["-m", "seed=0,1,2,3,4,5,6,7", *job, f"hydra.sweep.dir={work / 'eight'}"], work)
    runs = sorted(p.parent for p in (work / "eight").rglob("metrics.json"))
    epochs = statistics.mean(epoch_seconds(r) for r in runs[1:])
    return {"sweep_1_job_s": one, "sweep_8_jobs_s": eight, "mean_epoch_s": epochs,
            "sweep_job_overhead_s": (eight - one) / 7 - epochs}


def peak_rss(work: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    timed(["model=cnn", "data=fashion_mnist", "trainer.max_epochs=1", *QUIET, f"hydra.run.dir={work / 'rss'}"], work)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(before, after) / 2**20  # KiB -> GiB


def fast_preset(work: Path) -> dict:
    wall, _ = timed(["experiment=fashion_cnn_fast", *QUIET, f"hydra.run.dir={work / 'fast'}"], work)
    metrics = json.loads((work / "fast" / "metrics.json").read_text())
    return {"wall_s": wall, "test_accuracy": metrics["test"]["accuracy"], "epochs": metrics["epochs"],
            "samples_per_s": metrics["train"].get("samples_per_s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json")
    parser.add_argument("--skip-preset", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = {"help_s": timed(["--help"], work, repeat=7)[0],
                   "cfg_job_s": timed(["--cfg", "job"], work, repeat=5)[0]}
        print(f"bmrun --help {results['help_s']:.3f} s   bmrun --cfg job {results['cfg_job_s']:.3f} s", flush=True)
        results.update(sweep_overhead(work))
        print(f"8-job sweep {results['sweep_8_jobs_s']:.1f} s, 1-job sweep {results['sweep_1_job_s']:.1f} s, "
              f"epoch {results['mean_epoch_s']:.2f} s -> per-job overhead {results['sweep_job_overhead_s']:.2f} s",
              flush=True)
        results["peak_rss_gib"] = peak_rss(work)
        print(f"peak RSS, cnn on fashion_mnist: {results['peak_rss_gib']:.2f} GiB", flush=True)
        if not args.skip_preset:
            results["fashion_cnn_fast"] = fast_preset(work)
            fast = results["fashion_cnn_fast"]
            print(f"experiment=fashion_cnn_fast: {fast['wall_s']:.1f} s wall, test accuracy "
                  f"{fast['test_accuracy']:.4f}, {fast['epochs']} epochs", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
