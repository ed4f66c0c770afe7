"""``compose(overrides)``: the job config that ``bmrun <overrides>`` would run, without running it.

One composition path for every caller that is not the ``bmrun`` command itself (tests,
benchmarks, ``bmrun-eval``): Hydra's compose API over the packaged ``conf/``, with bmrun's
schemas registered. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Iterable, Optional

from omegaconf import DictConfig


def compose(overrides: Iterable[str] = (), *, config_dir: Optional[str] = None,
            return_hydra_config: bool = False) -> DictConfig:
    """Compose the primary config with command-line style overrides.

    Args:
        overrides: ``key=value`` / ``group=option`` strings, as on the command line.
        config_dir: Extra config folder searched before bmrun's own (like ``--config-dir``).
        return_hydra_config: Keep the ``hydra`` node (sweep/run dirs, launcher settings).

    Returns:
        The composed (unvalidated) config; :func:`bmrun.config.validate` types it.

    Raises:
        ConfigError: An override names an unknown group option or key, or has the wrong type.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bmrun.config.migrate import removed_override
    from bmrun.config.paths import packaged_config_dir
    from bmrun.config.schema import register_schemas
    from bmrun.errors import ConfigError

    register_schemas()
    overrides = list(overrides)
    removed = removed_override(overrides)  # a key that left the config: say what replaced it
    if removed is not None:
        raise removed
    if config_dir is not None:
        overrides.append(f"hydra.searchpath=[file://{config_dir}]")
    GlobalHydra.instance().clear()  # a caller's earlier initialize() must not leak in
    try:
        with initialize_config_dir(config_dir=packaged_config_dir(), version_base="1.3"):
            return hydra_compose(config_name="train", overrides=overrides, return_hydra_config=return_hydra_config)
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError("overrides", str(error).splitlines()[0]) from None
