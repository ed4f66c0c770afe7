"""``bmrun resume=<run dir>``: continue a run with the config it was started with.

The run's own ``config.yaml`` is reloaded; command-line values may change how long the run
trains and how it reports (``trainer.max_epochs=20``, ``logger.*``: :data:`SAFE_TO_CHANGE`),
never what it learns (model, data, loss, optimizer...), which would make the checkpoint
belong to another experiment. The allowed changes are returned so the run records them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from omegaconf import DictConfig, ListConfig, OmegaConf

from bmrun.config.migrate import migrate
from bmrun.errors import ConfigError, RunAlreadyFinished, RunDirBusy, RunDirError
from bmrun.run_dir import CHECKPOINTS, CONFIG, METRICS, read_metrics, require_run_dir
from bmrun.run_lock import RunLock

# Keys a resumed run may change: how long and how it reports, not what it learns.
SAFE_TO_CHANGE = ("trainer.max_epochs", "pretrain.max_epochs", "trainer.log_every_n_steps", "trainer.checkpoint_every_n_steps",
                  "trainer.checkpoint_every_n_epochs",
                  "trainer.keep_checkpoints", "trainer.test_with", "test.", "trainer.early_stopping.", "logger.", "verbose",
                  "objective", "fail_on_job_error", "data.path", "data.download", "data.eval_batch_size",
                  "data.sensitive",
                  "device.intra_op_threads", "device.inter_op_threads", "device.memory_growth")
_GROUPS = ("data", "model", "loss", "optimizer", "device", "trainer", "logger", "augment", "pretrain", "fairness",
           "test")


def _safe(key: str) -> bool:
    return any(key == safe or (safe.endswith(".") and key.startswith(safe)) for safe in SAFE_TO_CHANGE)


def config_for_resume(run_dir: Path, overrides: Iterable[str]) -> tuple[DictConfig, dict[str, list]]:
    """The config to resume ``run_dir`` with: its config.yaml plus the overrides that are safe.

    Returns:
        The config, and the changes it makes to the saved one: ``{key: [old, new]}``.

    Raises:
        RunDirError: ``run_dir`` is not a run (no config.yaml or no checkpoints/).
        ConfigError: An override would change the experiment (another model, data, loss,
            optimizer...): the checkpoint would no longer belong to the config. Names every key.
    """
    run_dir = require_run_dir(run_dir, "resume")
    if not (run_dir / CHECKPOINTS).is_dir():
        raise RunDirError(f"resume={run_dir}: the run has no checkpoints/ folder, so there is nothing to resume; "
                          f"start a new run instead.")
    cfg = migrate(OmegaConf.load(run_dir / CONFIG))  # moved keys where an override names them now
    leaves = _leaf_keys(cfg)
    # Hydra: only when composing or parsing overrides, not for --help
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    changes: dict[str, list] = {}
    refused: list[str] = []
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in ("resume", "experiment", "debug", "hparams_search") or key.startswith("hydra"):
            continue
        value = parser.parse_override(override).value()
        if key in _GROUPS:  # model=mlp: a group option, compared by name
            old = OmegaConf.select(cfg, f"{key}.name")
            if str(value) != str(old):
                refused.append(f"{key} ({old} -> {value})")
            continue
        if key not in leaves:
            refused.append(f"{key} (not a key of this run)")
            continue
        old = OmegaConf.select(cfg, key)
        if _plain(old) == _plain(value):
            continue
        if not _safe(key):
            refused.append(f"{key} ({old} -> {value})")
            continue
        changes[key] = [_plain(old), _plain(value)]
        OmegaConf.update(cfg, key, value, merge=False)
    if refused:
        raise ConfigError("resume", f"would change the experiment of {run_dir}: {', '.join(refused)}. Its checkpoint "
                                    f"belongs to the saved config; start a new run for another experiment. On resume "
                                    f"only these may change: {', '.join(SAFE_TO_CHANGE)}")
    cfg.resume = str(run_dir)
    return cfg, changes


def _plain(value):
    return OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) else value


def _leaf_keys(cfg: DictConfig, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in cfg.items():
        full = f"{prefix}{key}"
        if isinstance(value, DictConfig):
            keys |= _leaf_keys(value, full + ".")
        else:
            keys.add(full)
    return keys


def auto_resume_action(run_dir: Path, overrides: Iterable[str]) -> tuple[str, dict]:
    """What ``resume=auto`` does with the job dir ``run_dir`` (a re-run sweep, or a fixed run dir).

    Returns:
        ``("skip", metrics)`` for a completed run of the same overrides, ``("resume", metrics)``
        for an interrupted or killed one with a checkpoint, ``("fresh", metrics)`` otherwise
        (nothing there yet, failed, diverged, or stopped before its first checkpoint).

    Raises:
        RunDirError: The dir holds a run of other overrides (another sweep's job).
        RunDirBusy: A live process is training in it.
    """

    if not (run_dir / METRICS).is_file() or not (run_dir / CONFIG).is_file():
        return "fresh", {}
    try:
        metrics = read_metrics(run_dir)
    except (OSError, ValueError):
        return "fresh", {}
    wanted = sorted(o for o in overrides if not o.startswith("resume="))
    recorded = sorted(o for o in metrics.get("overrides", []) if not o.startswith("resume="))
    if recorded != wanted:
        raise RunDirError(f"resume=auto: {run_dir} holds a run of other overrides ({' '.join(recorded) or 'none'}, "
                          f"not {' '.join(wanted) or 'none'}); re-run the same command, or use another "
                          f"hydra.sweep.dir / hydra.run.dir.")
    status = metrics.get("status")
    if status == "completed":
        return "skip", metrics
    lock = RunLock(run_dir)
    if status == "running" and lock.path.exists() and lock.owner_alive():
        owner = lock.owner() or {}
        raise RunDirBusy(f"resume=auto: {run_dir} is being trained by process {owner.get('pid')} on "
                         f"{owner.get('host')}.")
    if status in ("interrupted", "running") and (run_dir / CHECKPOINTS / "checkpoint").is_file():
        return "resume", metrics
    return "fresh", metrics


def check_resumable(run_dir: Path, config) -> None:
    """Refuse ``resume=run_dir`` early when training would refuse it anyway, before any file is touched.

    Args:
        run_dir: The run to resume.
        config: Its validated resume config (see :func:`config_for_resume`).

    Raises:
        RunAlreadyFinished: The run completed all the epochs ``config`` asks for.
        RunDirBusy: A live process holds the run's lock.
    """

    lock = RunLock(run_dir)
    if lock.path.exists() and lock.owner_alive():
        owner = lock.owner() or {}
        raise RunDirBusy(f"{run_dir} is being trained by process {owner.get('pid')} on {owner.get('host')}; "
                         f"wait for it to finish or stop it (Ctrl-C saves a checkpoint); if that process is gone, "
                         f"delete {lock.path}.")
    try:
        previous = read_metrics(run_dir) if (run_dir / METRICS).is_file() else {}
    except (OSError, ValueError):
        previous = {}
    budget = config.trainer.max_epochs  # the same test as training's own (bmrun.training.train)
    key = "pretrain.max_epochs" if config.pretrain.max_epochs is not None else "trainer.max_epochs"
    epochs = previous.get("epochs") if isinstance(previous.get("epochs"), int) else 0
    # An interrupted run that already trained the epochs asked for is refused here too: training
    # would refuse it only after taking the run's lock and would record the refusal as a failure.
    if epochs >= budget > 0 and previous.get("status") in ("completed", "interrupted", "failed"):
        done = "already finished" if previous["status"] == "completed" else f"was {previous['status']} after"
        raise RunAlreadyFinished(f"{run_dir} {done} {epochs} epochs; to train further pass "
                                 f"{key}=<more than {epochs}> with resume=.")
