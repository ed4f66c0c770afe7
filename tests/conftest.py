"""Shared test helpers: compose configs with Hydra's compose API, train in-process, run the CLI.

Runs are shrunk to seconds with small ``data.limit`` / ``trainer.max_epochs`` overrides. Tests
that need a fresh process (device settings, signals, exit codes) use :func:`run_cli`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def compose(overrides: Iterable[str] = ()):
    """The job config ``bmrun <overrides>`` would run (Hydra compose API, no TensorFlow)."""
    from bmrun.config import compose as bmrun_compose

    return bmrun_compose(overrides)


def validated(overrides: Iterable[str] = ()):
    """Composed and validated (typed) config."""
    from bmrun.config import validate

    return validate(compose(overrides))


QUIET = ("logger.progress_bar=false", "logger.print_config=false")

# Debian's dataset-fashion-mnist package. Tests that read the real data are marked with
# ``needs_fashion_mnist``: without the package they are reported as skipped, with the reason.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                       "t10k-labels-idx1-ubyte.gz")


def fashion_mnist_missing() -> Optional[str]:
    """Why the real Fashion-MNIST cannot be read here, or None when it can."""
    missing = [name for name in FASHION_MNIST_FILES if not (FASHION_MNIST_DIR / name).is_file()]
    if missing:
        return (f"real Fashion-MNIST not installed: {FASHION_MNIST_DIR} lacks {', '.join(missing)} "
                f"(apt-get install dataset-fashion-mnist)")
    return None


needs_fashion_mnist = pytest.mark.skipif(fashion_mnist_missing() is not None,
                                         reason=fashion_mnist_missing() or "Fashion-MNIST is installed")


def train_in_process(run_dir: Path, overrides: Iterable[str] = ()) -> dict:
    """Train in this process (TensorFlow imported once per test session) and return metrics."""
    from omegaconf import OmegaConf

    from bmrun.run_dir import write_config
    from bmrun.config import validate
    from bmrun.training.train import train

    overrides = list(QUIET) + list(overrides)
    cfg = compose(overrides)
    config = validate(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, OmegaConf.to_yaml(cfg, resolve=True))
    return train(config, run_dir, overrides=tuple(overrides))


def run_cli(args: Iterable[str], cwd: Path, *, env: Optional[dict] = None, timeout: float = 600,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m bmrun ARGS`` in ``cwd`` and capture its output."""
    full_env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    full_env.update({"PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})})
    proc = subprocess.run([sys.executable, "-m", "bmrun", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"bmrun {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_dirs(root: Path) -> list[Path]:
    """Every run dir (a folder holding metrics.json) under ``root``, sorted."""
    return sorted(p.parent for p in Path(root).rglob("metrics.json"))


def load_metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """An empty Keras cache, so loaders cannot find the user's real one."""
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home
