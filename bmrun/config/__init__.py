"""From a composed Hydra config to validated, typed objects (no TensorFlow import).

:func:`validate` merges each group onto its schema (unknown keys, wrong types), builds the
dataclasses (ranges and choices, in ``__post_init__``) and checks that the groups fit together
(model vs. data, loss vs. task). Every failure is a :class:`~bmrun.errors.ConfigError` naming
the key.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, get_type_hints

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from bmrun.config.compose import compose
from bmrun.config.migrate import migrate
from bmrun.config.schema import SCHEMAS, TrainConfig
from bmrun.errors import ConfigError
from bmrun import registry
from bmrun.pretrain.config import with_pretrain_budget

__all__ = ["compose", "validate"]

# Datasets that read no file (bundled with scikit-learn, or generated): a data.path is a mistake.
_NO_FILES = ("digits", "diabetes", "breast_cancer", "adding")
GROUPS = ("data", "model", "loss", "optimizer", "device", "trainer", "logger", "augment", "pretrain", "fairness",
          "test")
# Groups added after runs were recorded: a run dir's config.yaml without them gets their default.
_LATER_GROUPS = ("pretrain", "fairness", "test")


def _schema_for(group: str, node: Any) -> type:
    if group in ("model", "data"):
        name = node.get("name") if isinstance(node, DictConfig) else None
        # Unknown, broken or ambiguous name -> one ConfigError paragraph from the registry.
        return registry.entry(group, str(name)).config
    return SCHEMAS[group]["base"]


def _reject_unknown_keys(node: DictConfig, schema: type, prefix: str) -> None:
    """Hydra's ``+key=value`` can slip a key past a schema; nothing unknown reaches training."""
    known = {f.name: f for f in fields(schema)}
    for key in node.keys():
        if key not in known:
            raise ConfigError(f"{prefix}{key}", f"unknown key; {schema.__name__} has: {', '.join(known)}")
        value = node._get_node(key)
        if isinstance(value, DictConfig) and is_dataclass(_resolve_type(schema, key)):
            _reject_unknown_keys(value, _resolve_type(schema, key), f"{prefix}{key}.")


def _resolve_type(schema: type, key: str) -> Any:
    return get_type_hints(schema).get(key)


def _typed(group: str, node: Any) -> Any:
    if not isinstance(node, DictConfig):
        raise ConfigError(group, f"must be a config group (e.g. {group}=<option>), got {node!r}")
    _reject_unknown_keys(node, _schema_for(group, node), f"{group}.")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(_schema_for(group, node)), node)
        return OmegaConf.to_object(merged)
    except ConfigError as error:
        raise ConfigError(f"{group}.{error.key}", str(error).split(": ", 1)[1]) from None
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", "") or ""
        message = str(error).splitlines()[0]
        raise ConfigError(f"{group}.{key}" if key else group, message) from None


def validate(cfg: DictConfig) -> TrainConfig:
    """Validate a composed (or reloaded) config and return it as typed dataclasses.

    Args:
        cfg: The job config from Hydra or a run dir's ``config.yaml``.

    Returns:
        A :class:`TrainConfig` whose group fields hold their schema dataclasses.

    Raises:
        ConfigError: Unknown key, wrong type, out-of-range value or incompatible groups.
    """
    # here, not at the top: bmrun.config.checks imports this module
    from bmrun.config.checks import check_compatibility


    cfg = migrate(cfg)  # keys that left the config: refused with a line, or dropped from old run dirs
    cfg = _resolved(cfg)  # interpolations across groups (conf/data/csv.yaml's) before each group is typed alone
    missing = [group for group in GROUPS if group not in cfg and group not in _LATER_GROUPS]
    if missing:
        raise ConfigError(missing[0], "config group is missing from the config")
    groups = {group: _typed(group, cfg[group]) if group in cfg else SCHEMAS[group]["base"]() for group in GROUPS}
    for key in cfg.keys():
        if key not in {f.name for f in fields(TrainConfig)}:
            raise ConfigError(str(key), "unknown top-level key (see bmrun --help or bmrun --cfg job)")
    try:  # top-level keys: unknown ones and wrong types
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), cfg)
    except OmegaConfBaseException as error:
        raise ConfigError(getattr(error, "full_key", "") or "config", str(error).splitlines()[0]) from None
    top = {f.name: merged[f.name] for f in fields(TrainConfig) if f.name not in GROUPS}
    config = TrainConfig(**groups, **top)
    _refuse_ignored_path(config)
    check_compatibility(config)
    return with_pretrain_budget(config)


def _resolved(cfg: DictConfig) -> DictConfig:
    """A resolved copy of ``cfg``: a group typed on its own cannot see the others."""
    copy = cfg.copy()
    try:
        OmegaConf.resolve(copy)
    except OmegaConfBaseException as error:
        raise ConfigError(getattr(error, "full_key", "") or "config", str(error).splitlines()[0]) from None
    return copy


def _refuse_ignored_path(config: TrainConfig) -> None:
    """``data=digits data.path=/x`` would silently train on the bundled digits: refuse it instead."""
    if config.data.name in _NO_FILES and getattr(config.data, "path", None) is not None:
        raise ConfigError("data.path", f"data={config.data.name} reads no file (its examples come with bmrun), so "
                                       f"data.path={config.data.path} would be ignored. Drop it, or pick the "
                                       f"dataset that reads it: data=csv, data=image_folder, data=mnist, ...")
