"""``data=custom data.target=module:callable``: a loader that is not a package.

The callable follows the plugin protocol (:mod:`bmrun.data.plugin`) and is imported from the
working directory or ``PYTHONPATH``; ``data.args={...}`` are its keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bmrun.data.dataset import DataConfig
from bmrun.data.plugin import CallableDataset
from bmrun.plugins import check_target_keys, import_target


@dataclass
class CustomDataConfig(DataConfig):
    """``data=custom``.

    Attributes:
        target: ``module:callable`` with the signature ``load(seed, **args) -> dict``.
        args: Keyword arguments passed to it.
    """

    target: str = ""
    # Any = None rather than Dict = {}: Hydra merges a command-line dict into an existing one
    # key by key, which struct mode refuses for new keys; a None value is simply replaced.
    args: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_target_keys("data", self.target, self.args, "load(seed, **args) returning a dict of NumPy arrays")


class CustomDataset(CallableDataset):
    """The ``custom`` option: whatever ``data.target`` names, called with ``data.args``."""

    builtin = True

    def __init__(self):
        super().__init__("custom", None, "data.target", "bmrun", config=CustomDataConfig)
        self.summary = "a loader named by data.target=module:callable"

    def kwargs(self, cfg: Any) -> dict:
        return dict(cfg.args or {})

    def cache_key(self, cfg: Any) -> str:
        return repr((cfg.target, self.kwargs(cfg)))

    def what(self, cfg: Any) -> str:
        return f"data.target={cfg.target}"

    def _load(self, cfg: Any, seed: int) -> tuple:
        self.fn = import_target(cfg.target, "data.target")
        return super()._load(cfg, seed)


DATASET = CustomDataset()
