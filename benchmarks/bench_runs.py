"""How fast ``bmrun-runs`` lists many runs, and ``bmrun-report --importance`` ranks a big sweep.

Generates run dirs as training leaves them (config.yaml, metrics.json, history.csv; no
training), then times the console scripts in fresh processes, as a user runs them::

    python benchmarks/bench_runs.py [--runs 10000] [--trials 1000] [--keep DIR]

Bars (issue 35): 10,000 runs in under 10 s cold (no index) and under 1 s warm; importance of a
1,000-trial sweep in under 2 s. Prints one Markdown table of the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

_BASE_CONFIG = {
    "data": {"name": "digits", "path": None, "limit": None, "val_fraction": 0.1, "batch_size": 64,
             "eval_batch_size": 1024, "shuffle": True, "normalize": True, "classes": None, "download": True,
             "feed": "auto", "class_weight": "none", "label_fraction": 1.0, "sensitive": []},
    "model": {"name": "cnn", "init_from": None, "freeze": "none", "filters": [32], "kernel_size": 3,
              "padding": "valid", "pool_size": 2, "hidden_dims": [64], "batch_norm": False, "activation": "relu",
              "dropout_rate": 0.0},
    "loss": {"name": "auto", "label_smoothing": 0.0, "l2": 0.0, "fairness_penalty": 0.0, "fairness_group": None},
    "optimizer": {"name": "adam", "lr": 0.001, "weight_decay": 0.0, "momentum": 0.0, "nesterov": False,
                  "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1.0e-07, "clip_norm": None, "clip_value": None,
                  "schedule": "constant", "warmup_epochs": 0.0, "min_lr_ratio": 0.0, "ema_decay": 0.0},
    "trainer": {"max_epochs": 5, "steps_per_epoch": None, "early_stopping_patience": 0, "deterministic": False,
                "test_with": "last", "steps_per_call": "auto", "monitor": "auto"},
    "logger": {"tensorboard": True, "progress_bar": True, "print_config": True, "hparams": True,
               "confusion_matrix": False, "misclassified": False, "saliency": False,
               "histograms_every_n_epochs": 0, "tflite": [], "mlflow": False, "mlflow_uri": None},
    "augment": {"name": "none", "tta": "none", "shift": 0, "horizontal_flip": False, "rotation": 0.0},
    "device": {"name": "auto", "precision": "auto", "threads": 0, "memory_growth": True},
    "seed": 0, "objective": "auto", "resume": None, "verbose": False,
}


def write_run(run_dir: Path, rng: random.Random, *, index: int, started: float) -> dict:
    """One finished (or failed) run dir; returns the values it was given."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = json.loads(json.dumps(_BASE_CONFIG))
    config["model"]["name"] = rng.choice(["cnn", "mlp"])
    config["optimizer"]["lr"] = round(10 ** rng.uniform(-4, -1), 6)
    config["model"]["dropout_rate"] = rng.choice([0.0, 0.1, 0.3])
    config["data"]["batch_size"] = rng.choice([32, 64, 128])
    # The objective depends mostly on lr (best near 1e-2.5), a little on dropout, not on batch size.
    score = 0.95 - 0.08 * abs(__import__("math").log10(config["optimizer"]["lr"]) + 2.5) \
        - 0.05 * config["model"]["dropout_rate"] + rng.gauss(0, 0.005)
    status = "failed" if index % 50 == 7 else "completed"
    epochs = config["trainer"]["max_epochs"]
    metrics = {"status": status, "run_dir": str(run_dir), "model": config["model"]["name"], "data": "digits",
               "overrides": [f"model={config['model']['name']}", f"optimizer.lr={config['optimizer']['lr']}",
                             f"model.dropout_rate={config['model']['dropout_rate']}",
                             f"data.batch_size={config['data']['batch_size']}"],
               "epochs": epochs, "duration_s": round(rng.uniform(5, 60), 2)}
    if status == "completed":
        metrics.update({"test": {"loss": 1 - score, "accuracy": score - 0.01}, "val": {"loss": 1 - score, "accuracy": score},
                        "train": {"loss": 0.9 - score, "accuracy": min(1.0, score + 0.02)},
                        "objective": {"key": "val/accuracy", "value": score}})
    else:
        metrics["error"] = "Traceback-free failure: out of memory"
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    lines = ["epoch,step,train_loss,val_loss,val_accuracy"]
    for epoch in range(1, epochs + 1):
        value = score - 0.3 / epoch
        lines.append(f"{epoch},{epoch * 10},{1 - value:.6g},{1 - value:.6g},{value:.6g}")
    (run_dir / "history.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(run_dir / "config.yaml", (started, started))
    return {"config": config, "metrics": metrics}


def write_runs(root: Path, count: int, *, seed: int = 0, sweep: bool = False) -> list[Path]:
    """``count`` run dirs under ``root``: ``<date>/<time>`` folders, or a sweep's ``0..n-1``."""
    rng = random.Random(seed)
    now = time.time()
    paths = []
    for index in range(count):
        started = now - index * 600  # one run every ten minutes, back in time
        if sweep:
            run_dir = root / str(index)
        else:
            stamp = time.localtime(started)
            run_dir = root / time.strftime("%Y-%m-%d", stamp) / f"{time.strftime('%H-%M-%S', stamp)}-{index:06d}"
        write_run(run_dir, rng, index=index, started=started)
        paths.append(run_dir)
    if sweep:
        (root / "multirun.yaml").write_text("hydra: {}\n", encoding="utf-8")
    return paths


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-runs-"))
    runs_root, sweep_root = work / "outputs", work / "sweep"
    if not runs_root.exists():
        write_runs(runs_root, args.runs)
    if not sweep_root.exists():
        write_runs(sweep_root, args.trials, seed=1, sweep=True)
    python = sys.executable
    listing = [python, "-m", "bmrun.cli.runs", str(runs_root), "--top", "20"]
    startup = _time([python, "-c", "import bmrun.cli.runs"])
    uncached = _time(listing + ["--no-index"])
    (runs_root / ".bmrun-runs.json").unlink(missing_ok=True)
    cold = _time(listing)
    warm = min(_time(listing) for _ in range(3))
    importance = min(_time([python, "-m", "bmrun.cli.report", str(sweep_root), "--importance", "--top", "5"])
                     for _ in range(2))
    print(f"| measurement | seconds | bar |\n|---|---:|---:|\n"
          f"| python + import bmrun.cli.runs | {startup:.2f} | |\n"
          f"| bmrun-runs, {args.runs} runs, no index | {uncached:.2f} | |\n"
          f"| bmrun-runs, {args.runs} runs, cold (builds the index) | {cold:.2f} | 10 |\n"
          f"| bmrun-runs, {args.runs} runs, warm index | {warm:.2f} | 1 |\n"
          f"| bmrun-report --importance, {args.trials} trials | {importance:.2f} | 2 |")


if __name__ == "__main__":
    main()
