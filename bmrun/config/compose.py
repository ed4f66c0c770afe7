"""``compose(overrides)``: the job config that ``bmrun <overrides>`` would run, without running it.

One composition path for every caller (the ``bmrun`` command's pre-flight check, tests,
benchmarks, ``bmrun-eval``): Hydra's compose API over the packaged ``conf/``, with bmrun's
schemas registered. Hydra's failures become one :class:`~bmrun.errors.ConfigError` line that
names the closest valid key or option. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Iterable, Optional

from omegaconf import DictConfig
from bmrun.errors import ConfigError
from bmrun import registry

_UNPARSED = re.compile(r"Error parsing override '([^']+)'")
_UNKNOWN_KEY = re.compile(r"Could not override '([^']+)'")
_UNKNOWN_OPTION = re.compile(r"Could not (?:find|load) '([^'/]+)/([^']+)'")


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
    # Hydra: only when composing or parsing overrides, not for --help
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    # here, not at the top: bmrun.config.migrate imports this module
    from bmrun.config.migrate import current_names, removed_override

    overrides = current_names(overrides)  # renamed family keys: the old name works, with a note
    removed = removed_override(overrides)  # a key that left the config: say what replaced it
    if removed is not None:
        raise removed
    try:
        return _compose(overrides, config_dir, return_hydra_config)
    except (HydraException, OmegaConfBaseException) as error:
        message = str(error)
        if error.__cause__ is not None:  # "Error merging override seed=abc" says why only in its cause
            message += "\n" + str(error.__cause__).splitlines()[0]
        raise _explained(message, overrides, config_dir) or ConfigError("overrides", _first_lines(message)) from None


def _compose(overrides: list[str], config_dir: Optional[str], return_hydra_config: bool) -> DictConfig:
    # Hydra: only when composing or parsing overrides, not for --help
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    # here, not at the top: bmrun.config.paths imports this module
    from bmrun.config.paths import packaged_config_dir
    from bmrun.config.schema import register_schemas

    register_schemas()
    if config_dir is not None:
        overrides = overrides + [f"hydra.searchpath=[file://{config_dir}]"]
    GlobalHydra.instance().clear()  # a caller's earlier initialize() must not leak in
    with initialize_config_dir(config_dir=packaged_config_dir(), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=overrides, return_hydra_config=return_hydra_config)


def _first_lines(message: str) -> str:
    """Hydra's message without its search-path dump and its ``HYDRA_FULL_ERROR`` advice."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    kept = [line for line in lines[:2] if "HYDRA_FULL_ERROR" not in line and not line.startswith("Config search path")]
    return " ".join(kept) or message


def _explained(message: str, overrides: list[str], config_dir: Optional[str]):
    """A ConfigError naming the closest valid key or option, for the two common typos; else None."""

    parsing = _UNPARSED.search(message)
    if parsing:  # a value with spaces, $, (, ) ...: Hydra's grammar reads it as an expression
        key, _, value = parsing.group(1).partition("=")
        return ConfigError(key, f"{value!r} is not a plain value to Hydra's override grammar; quote it, "
                                f"e.g. '{key}=\"{value}\"' (single quotes for the shell, double for Hydra).")
    option = _UNKNOWN_OPTION.search(message)
    if option:
        group, name = option.groups()
        choices = group_options(group, config_dir)
        if not choices:
            return None
        hint = closest(name, choices)
        guess = f"did you mean {group}={hint}? " if hint else ""
        return ConfigError(f"{group}={name}", f"no such option; {guess}The {group} options are: {', '.join(choices)} "
                                               f"(bmrun --help lists every group).")
    key = _UNKNOWN_KEY.search(message)
    if key:
        key = key.group(1)
        groups_only = [o for o in overrides if o.split("=", 1)[0] in config_groups(config_dir)]
        try:
            chosen = _compose(groups_only, config_dir, True)
        except Exception:  # the groups alone fail too: Hydra's own line says more than a guess
            return None
        choices = dict(chosen.hydra.runtime.choices)
        hint = closest(key, sorted(k for k in _leaf_keys(chosen) if not k.startswith("hydra.")))
        guess = f"did you mean {hint}? " if hint else ""
        group = key.split(".", 1)[0]
        option = choices.get(group)
        where = f"bmrun {group}={option} --help" if option and group in config_groups(config_dir) else "bmrun --cfg job"
        return ConfigError(key, f"unknown key; {guess}List the keys with {where}.")
    return None


def closest(word: str, choices: Iterable[str]) -> Optional[str]:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _leaf_keys(node: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for key in node.keys():
        value = node._get_node(key)
        if isinstance(value, DictConfig):
            keys += _leaf_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys


def config_groups(config_dir: Optional[str] = None) -> list[str]:
    """The user-facing config groups (folders of conf/ and of an extra config dir)."""
    # here, not at the top: bmrun.config.paths imports this module
    from bmrun.config.paths import packaged_config_dir

    roots = [Path(packaged_config_dir())] + ([Path(config_dir)] if config_dir else [])
    return sorted({p.name for root in roots if root.is_dir() for p in root.iterdir()
                   if p.is_dir() and p.name not in ("hydra", "schema")})


def group_options(group: str, config_dir: Optional[str] = None) -> list[str]:
    """Every option of a config group: its YAML files and the registry's entries (plugins too)."""
    # here, not at the top: bmrun.config.paths imports this module
    from bmrun.config.paths import packaged_config_dir

    roots = [Path(packaged_config_dir())] + ([Path(config_dir)] if config_dir else [])
    names = {f.stem for root in roots for f in (root / group).glob("*.yaml")}
    if group in registry.GROUPS:
        try:
            names |= set(registry.every(group))
        except ConfigError:
            pass
    return sorted(names)
