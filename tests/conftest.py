"""Shared test helpers: compose configs with Hydra's compose API, train in-process, run the CLI.

Runs are shrunk to seconds with small ``data.limit`` / ``trainer.max_epochs`` overrides. Tests
that need a fresh process (device settings, signals, exit codes) use :func:`run_cli`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collection_modifyitems(items: list) -> None:
    """Files with the most ``slow`` tests run first, each file's tests in their own order.

    With ``-n 2`` whole files go to the two workers (``--dist loadfile`` in pyproject.toml, so a
    module's trained fixture is made once); starting with the long files keeps one long file from
    running alone at the end while the other worker idles.
    """
    slow: dict = {}
    for item in items:
        slow[item.path] = slow.get(item.path, 0) + (item.get_closest_marker("slow") is not None)
    items.sort(key=lambda item: -slow[item.path])  # stable: the order inside a file is kept


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


def help_line(capsys, group: str, option: str, key: str) -> str:
    """The line ``bmrun GROUP=OPTION --help`` prints for ``key`` (its type, default and meaning)."""
    from bmrun.cli.keys import print_keys

    print_keys(group, option)
    return next(line for line in capsys.readouterr().out.splitlines() if f"{key} " in line)


def train_in_process(run_dir: Path, overrides: Iterable[str] = ()) -> dict:
    """Train in this process (TensorFlow imported once per test session) and return metrics.

    Without ``logger.saved_model`` or ``logger.tflite`` among the overrides the run writes
    ``model/model.keras`` only (``logger.saved_model=false``).
    """
    from omegaconf import OmegaConf

    from bmrun.run_dir import write_config
    from bmrun.config import validate
    from bmrun.training.train import train

    overrides = list(QUIET) + list(overrides)
    if not any(o.startswith(("logger.saved_model=", "logger.tflite=")) for o in overrides):
        # The SavedModel export is a third of a tiny run; the tests that read one ask for it, and
        # every CLI run (run_cli) keeps the default.
        overrides.insert(len(QUIET), "logger.saved_model=false")
    cfg = compose(overrides)
    config = validate(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, OmegaConf.to_yaml(cfg, resolve=True))
    return train(config, run_dir, overrides=tuple(overrides))


def resume_in_process(run_dir: Path, overrides: Iterable[str] = ()) -> dict:
    """``resume=<run_dir> OVERRIDES`` in this process; returns the finished run's metrics."""
    from bmrun.config import validate
    from bmrun.config.resume import config_for_resume
    from bmrun.training.train import train

    return train(validate(config_for_resume(Path(run_dir), list(overrides))[0]), Path(run_dir))


def assert_same_results(got: dict, expected: dict) -> None:
    """Two runs ended alike: the same test metrics and training metrics (speed aside)."""
    assert got["test"] == expected["test"]
    assert {**got["train"], "samples_per_s": 0} == {**expected["train"], "samples_per_s": 0}


def assert_accuracy_from_its_counts(test: dict, examples: Optional[int] = None) -> None:
    """A classification test block's accuracy is what its per-class table counts: the hits
    (recall x support) over every test example (``examples``, where the test knows it)."""
    table = test["per_class"]
    support = sum(row["support"] for row in table.values())
    hits = sum(row["recall"] * row["support"] for row in table.values())
    assert support > 0 and test["accuracy"] == pytest.approx(hits / support, abs=1e-9), test
    if examples is not None:
        assert support == examples


_server = None


def _cli_server():
    """This test worker's :class:`forked_cli.CliServer`, started on first use."""
    global _server
    if _server is None:
        import atexit

        from forked_cli import CliServer

        _server = CliServer()
        atexit.register(_server.close)
    return _server


def _cli_env(env: Optional[dict]) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    full_env.update({"PYTHONUNBUFFERED": "1", "COLUMNS": "200", **(env or {})})
    return full_env


def run_cli(args: Iterable[str], cwd: Path, *, env: Optional[dict] = None, timeout: float = 600,
            check: bool = False, fresh: bool = False, module: str = "bmrun") -> subprocess.CompletedProcess:
    """Run ``python -m bmrun ARGS`` (or ``-m MODULE``: ``bmrun.cli.predict`` ...) in ``cwd`` and
    capture its output.

    The command runs in a process forked from one that has imported TensorFlow already
    (:mod:`forked_cli`: the same entry point, exit codes and signals, 4 s less start-up);
    ``fresh=True`` starts a new interpreter instead, for what happens while one starts.
    """
    args = list(args)
    if fresh:
        proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=_cli_env(env),
                              capture_output=True, text=True, timeout=timeout)
    else:
        forked = _cli_server().start(args, cwd, _cli_env(env), module)
        stdout, stderr = forked.communicate(timeout=timeout)
        proc = subprocess.CompletedProcess([module, *args], forked.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def start_cli(args: Iterable[str], cwd: Path):
    """``python -m bmrun ARGS`` in the background (for tests that signal or kill it): a
    :class:`forked_cli.ForkedProcess`, whose ``communicate()`` gives the output as text."""
    return _cli_server().start(list(args), cwd, _cli_env({"COLUMNS": os.environ.get("COLUMNS", "80")}))


def wait_for_checkpoint(run_dir: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not (Path(run_dir) / "checkpoints" / "checkpoint").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


def kill_mid_run(args: Iterable[str], cwd: Path, name: str, *, max_wait: float = 2.5) -> Path:
    """A run killed with SIGKILL after its first checkpoint and before it finished.

    Waits a random moment after the checkpoint (shorter on each retry) so the kill lands at
    varying steps; retries when the run finished first.
    """
    for attempt in range(4):
        run_dir = Path(cwd) / f"{name}{attempt}"
        proc = start_cli([*args, f"hydra.run.dir={run_dir}"], cwd)
        wait_for_checkpoint(run_dir, proc)
        time.sleep(random.uniform(0.2, max_wait) / (attempt + 1))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if load_metrics(run_dir)["status"] == "running":
            return run_dir
    pytest.fail("the run always finished before the kill")


def run_dirs(root: Path) -> list[Path]:
    """Every run dir (a folder holding metrics.json) under ``root``, sorted."""
    return sorted(p.parent for p in Path(root).rglob("metrics.json"))


def load_metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


# The one small digits CNN run that eval, predict, export and explain tests read: trained once
# per test session (per xdist worker). Batch norm on and every TFLite kind, so the export tests
# check the fused kernel's conversion; TensorBoard on, so explain writes its images there too.
DIGITS_RUN = ("model=cnn", "data.limit=400", "trainer.max_epochs=2", "model.batch_norm=true",
              "logger.tflite=[float32,int8,float16]", "logger.tensorboard=true")


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> tuple[Path, dict]:
    """A finished digits run (path, metrics) shared by the whole session: never write into it;
    tests that write outputs into a run dir take :func:`copy_of_digits_run`."""
    run_dir = tmp_path_factory.mktemp("digits_run")
    metrics = train_in_process(run_dir, DIGITS_RUN)
    return run_dir, metrics


def copy_of_digits_run(digits_run: tuple[Path, dict], tmp_path_factory, name: str) -> Path:
    """A private copy of the shared digits run, for tests that write into the run dir."""
    target = tmp_path_factory.mktemp(name) / "run"
    shutil.copytree(digits_run[0], target)
    return target


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """An empty Keras cache, so loaders cannot find the user's real one."""
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


# ----------------------------------------------------------------------------- plugins
EXAMPLE_PLUGIN = REPO / "examples" / "plugin"


def fake_distribution(site: Path, name: str, entry_points: dict, modules: Optional[dict] = None) -> Path:
    """An installed-looking distribution without pip: ``<name>.dist-info`` with its entry points
    (``{group: {option: "module:attr"}}``) and optional modules (``{"file.py": code}``) in ``site``.

    ``importlib.metadata`` finds it once ``site`` is on ``sys.path`` (or ``PYTHONPATH``): the same
    arrangement pip makes, with no network and no change to the test venv.
    """
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = []
    for group, points in entry_points.items():
        lines += [f"[{group}]"] + [f"{option} = {value}" for option, value in points.items()] + [""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    for file, code in (modules or {}).items():
        (site / file).write_text(code)
    return site


def example_plugin_entry_points() -> dict:
    """The entry points examples/plugin/pyproject.toml declares (a tiny reader: no tomllib on 3.10)."""
    points: dict = {}
    group = None
    for line in (EXAMPLE_PLUGIN / "pyproject.toml").read_text().splitlines():
        line = line.strip()
        if line.startswith("[project.entry-points."):
            group = line[len("[project.entry-points."):-1].strip('"')
            points[group] = {}
        elif line.startswith("["):
            group = None
        elif group and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            points[group][key] = value.strip('"')
    return points


def use_site(site: Path) -> None:
    """Put ``site`` on this process's path and make the registry and Hydra see its plugins."""
    from bmrun import registry
    from bmrun.config.schema import register_schemas

    if str(site) not in sys.path:
        sys.path.insert(0, str(site))
    registry.reload()
    register_schemas()


def drop_site(site: Path) -> None:
    from bmrun import registry

    while str(site) in sys.path:
        sys.path.remove(str(site))
    registry.reload()


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory) -> dict:
    """The example plugin, "installed" for this session: returns the env for subprocesses.

    Its dist-info goes to a temporary site folder and its source (examples/plugin) on the path,
    so nothing is downloaded or built; when ``make test`` has pip-installed it too, both copies
    declare the same entry points and the first on the path is used.
    """
    site = fake_distribution(tmp_path_factory.mktemp("site"), "bmrun-example-plugin", example_plugin_entry_points())
    if str(EXAMPLE_PLUGIN) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_PLUGIN))
    use_site(site)
    path = os.pathsep.join([str(site), str(EXAMPLE_PLUGIN)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return {"PYTHONPATH": path}
