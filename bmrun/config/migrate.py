"""Keys that left the config or took new names: one line saying so, and old run dirs still open.

The few-label variants below measured nothing beyond seed-to-seed spread (their rows are in
BENCHMARKS.md, "Few labels"), so they left the core. A command that sets one is refused with
:data:`REMOVED`'s line; a run dir's ``config.yaml`` that records one at its old default (every
run made before) loads without it, so resume, ``bmrun-eval`` and ``bmrun-predict`` keep working.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Iterable, Optional

from omegaconf import DictConfig, OmegaConf

from bmrun.errors import ConfigError
from bmrun.models.keys import RENAMED_MODEL_KEYS

log = logging.getLogger("bmrun")

_FIXMATCH = ("FixMatch with RandAugment (trainer.semi_supervised=consistency) is the method kept; "
             "its measurements are in BENCHMARKS.md (Few labels).")

# key -> (its old default, what to tell a user who sets it)
REMOVED: dict[str, tuple[Any, str]] = {
    "trainer.teacher": ("model", "the EMA teacher was removed: it measured no gain beyond seed spread. " + _FIXMATCH
                        + " optimizer.ema_decay still averages the weights the run evaluates."),
    "trainer.distribution_alignment": (False, "distribution alignment was removed: it measured no gain. " + _FIXMATCH),
    "trainer.flexible_thresholds": (False, "FlexMatch's flexible thresholds were removed: they measured no gain. "
                                    + _FIXMATCH),
    "trainer.similarity_weight": (0.0, "SimMatch was removed: it measured no gain beyond seed spread. " + _FIXMATCH),
    "trainer.similarity_temperature": (0.1, "SimMatch was removed. " + _FIXMATCH),
    "trainer.neighbour_weight": (0.1, "SimMatch was removed. " + _FIXMATCH),
}
# Keys that moved to another group: old key -> new key. Commands and run dirs' config.yaml that
# use the old one keep working, with a one-line note.
MOVED: dict[str, str] = {"trainer.beam_size": "test.beam_size"}  # the final test's, not training's
# (key, value) -> what to tell a user who chooses it
REMOVED_VALUES: dict[tuple[str, str], str] = {
    ("trainer.semi_supervised", "pseudo_label"): "pseudo_label was removed: FixMatch's consistency scored above it "
                                                 "at every seed. Use trainer.semi_supervised=consistency.",
}


def removed_override(overrides: Iterable[str]) -> Optional[ConfigError]:
    """The refusal of the first command-line override that sets a removed key or value, else None."""
    for text in overrides:
        key, sep, value = text.lstrip("+~").partition("=")
        if not sep:
            continue
        if key in REMOVED:
            return ConfigError(key, REMOVED[key][1])
        message = REMOVED_VALUES.get((key, value.strip().strip("'\"")))
        if message:
            return ConfigError(key, message)
    return None


def current_names(overrides: Iterable[str]) -> list[str]:
    """Overrides with renamed or moved keys under their current names, each rename noted once."""
    result = []
    for text in overrides:
        prefix = text[:len(text) - len(text.lstrip("+~"))]
        key, sep, value = text[len(prefix):].partition("=")
        group, _, leaf = key.rpartition(".")
        new = f"model.{RENAMED_MODEL_KEYS[leaf]}" if group == "model" and leaf in RENAMED_MODEL_KEYS \
            else MOVED.get(key)
        if new:
            log.warning("%s is now called %s (the old name still works)", key, new)
            text = f"{prefix}{new}{sep}{value}"
        result.append(text)
    return result


def migrate(cfg: DictConfig) -> DictConfig:
    """``cfg`` as today's schema reads it: removed keys at their old defaults dropped, moved keys
    in their new group, an older image folder run's two classes kept multiclass, and a cnn saved
    before ``model.pooling`` kept flattening (a copy when anything changes).

    Raises:
        ConfigError: A removed key holds another value, or a removed value is chosen.
    """
    for (key, value), message in REMOVED_VALUES.items():
        if OmegaConf.select(cfg, key, default=None) == value:
            raise ConfigError(key, message)
    if OmegaConf.select(cfg, "data.name", default=None) == "image_folder" and \
            OmegaConf.select(cfg, "data.task", default=None) is None:
        # Two-class image folders were multiclass before data.task existed: their run dirs keep that model.
        cfg = copy.deepcopy(cfg)
        with _writable(cfg.data):
            cfg.data.task = "multiclass"
    if OmegaConf.select(cfg, "model.name", default=None) == "cnn" and "pooling" not in cfg.model:
        # Every cnn flattened before model.pooling existed; today's auto would rebuild an audio run's
        # model with a max over time, which its checkpoints do not fit.
        cfg = copy.deepcopy(cfg)
        with _writable(cfg.model):
            cfg.model.pooling = "flatten"
    old_names = [key for key in RENAMED_MODEL_KEYS if isinstance(cfg.get("model"), DictConfig) and key in cfg.model]
    if old_names:  # a run dir written before the family keys took their current names
        cfg = copy.deepcopy(cfg)
        with _writable(cfg.model):
            for key in old_names:
                cfg.model[RENAMED_MODEL_KEYS[key]] = cfg.model.pop(key)
    moved = [key for key in MOVED if OmegaConf.select(cfg, key, default=None) is not None]
    if moved:  # a run dir written before the key moved group (trainer.beam_size)
        cfg = copy.deepcopy(cfg)
        for key in moved:
            group, leaf = key.rsplit(".", 1)
            node = OmegaConf.select(cfg, group)
            with _writable(node):
                value = node.pop(leaf)
            with _writable(cfg):
                OmegaConf.update(cfg, MOVED[key], value, force_add=True)
    present = [key for key in REMOVED if OmegaConf.select(cfg, key, default=None) is not None]
    if not present:
        return cfg
    cfg = copy.deepcopy(cfg)  # DictConfig.copy() would share the nested group nodes
    for key in present:
        default, message = REMOVED[key]
        if OmegaConf.select(cfg, key) != default:
            raise ConfigError(key, message)
        group, leaf = key.rsplit(".", 1)
        node = OmegaConf.select(cfg, group)
        with _writable(node):
            node.pop(leaf)
    return cfg


class _writable:
    """Lift a node's struct flag while keys are dropped (a reloaded run config may be struct)."""

    def __init__(self, node: DictConfig):
        self.node = node

    def __enter__(self):
        self.flag = OmegaConf.is_struct(self.node)
        OmegaConf.set_struct(self.node, False)

    def __exit__(self, *exc):
        OmegaConf.set_struct(self.node, self.flag)
