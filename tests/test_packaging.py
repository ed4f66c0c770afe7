"""The wheel carries code *and* configs: build it, install it in a fresh venv, run bmrun from it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from conftest import REPO


@pytest.mark.slow
def test_wheel_installs_in_fresh_venv_and_runs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = dist.glob("bmrun-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Dependencies come from this environment (a plain path entry: its .pth hooks, such as the
    # editable install of bmrun itself, are not processed), bmrun itself from the wheel.
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    Path(fresh_site, "deps-from-test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    where = subprocess.run([str(python), "-c", "import bmrun, bmrun.cli.help as h; print(bmrun.__file__); print(h.config_dir())"],
                           check=True, capture_output=True, text=True, cwd=workdir, env=env).stdout.split()
    assert where[0].startswith(str(env_dir)) and where[1].startswith(str(env_dir)), where
    bmrun = env_dir / "bin" / "bmrun"
    job = subprocess.run([str(bmrun), "--cfg", "job", "model=linear"], capture_output=True, text=True, cwd=workdir,
                         env=env)
    assert job.returncode == 0, job.stderr
    assert "name: linear" in job.stdout and "name: digits" in job.stdout
    helped = subprocess.run([str(bmrun), "--help"], capture_output=True, text=True, cwd=workdir, env=env)
    assert "fashion_mnist" in helped.stdout
    trained = subprocess.run([str(bmrun), "model=linear", "trainer.max_epochs=1", "logger.progress_bar=false"],
                             capture_output=True, text=True, cwd=workdir, env=env)
    assert trained.returncode == 0, trained.stderr
    assert list((workdir / "outputs").rglob("metrics.json"))
