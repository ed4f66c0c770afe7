"""``bmrun resume=<run dir>``: continue a run with the config it was started with.

The run's own ``config.yaml`` is reloaded; command-line values may change plain settings
(``trainer.max_epochs=20`` to train longer) but not swap a config group, which would make the
checkpoint meaningless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from omegaconf import DictConfig, OmegaConf

from bmrun.errors import ConfigError, RunDirError
from bmrun.run_dir import CHECKPOINTS, CONFIG, require_run_dir

def config_for_resume(run_dir: Path, overrides: Iterable[str]) -> DictConfig:
    """The config to resume ``run_dir`` with: its config.yaml plus value overrides.

    Raises:
        RunDirError: ``run_dir`` is not a run (no config.yaml or no checkpoints/).
        ConfigError: An override names a config group or a key the run does not have.
    """
    run_dir = require_run_dir(run_dir, "resume")
    config_file = run_dir / CONFIG
    if not (run_dir / CHECKPOINTS).is_dir():
        raise RunDirError(f"resume={run_dir}: the run has no checkpoints/ folder, so there is nothing to resume; "
                          f"start a new run instead.")
    cfg = OmegaConf.load(config_file)
    leaves = _leaf_keys(cfg)
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key == "resume" or key.startswith("hydra"):
            continue
        if key not in leaves:
            raise ConfigError(key, "resume continues a run with its own config: only its existing values can "
                                   "change (e.g. trainer.max_epochs=20), not config groups or new keys")
        OmegaConf.update(cfg, key, parser.parse_override(override).value(), merge=False)
    cfg.resume = str(run_dir)
    return cfg


def _leaf_keys(cfg: DictConfig, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in cfg.items():
        full = f"{prefix}{key}"
        if isinstance(value, DictConfig):
            keys |= _leaf_keys(value, full + ".")
        else:
            keys.add(full)
    return keys
