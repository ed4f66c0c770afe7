"""Each dataset's task and input specs (:func:`describe`), and the spec names datasets use.

Config checks use these specs to refuse an incompatible model/data/loss before anything heavy
starts; the loaders return arrays that match them. Each dataset's own specs live in its module
(``bmrun/data/<name>.py``), found through :mod:`bmrun.registry`. The kinds and spec types are
defined in :mod:`bmrun.specs` (below outputs and fairness) and named here too, so a dataset,
family or plugin imports everything about data from one place.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bmrun import registry
from bmrun.errors import ConfigError
from bmrun.specs import (BINARY, IMAGE, INTERACTIONS, MULTICLASS, REGRESSION, SEQUENCE, TABLE, TABULAR, TEXT,
                         TOKENS, InputSpec, TaskSpec)

__all__ = ["BINARY", "IMAGE", "INTERACTIONS", "MULTICLASS", "REGRESSION", "SEQUENCE", "TABLE", "TABULAR", "TEXT",
           "TOKENS", "InputSpec", "TaskSpec", "describe"]


def describe(data_cfg: Any) -> tuple[TaskSpec, InputSpec]:
    """Specs for a data config, with its size options and class filter applied.

    Built-in datasets know their specs without loading; a plugin dataset is loaded (once, and
    cached) to infer them.

    Raises:
        ConfigError: Unknown dataset, or a ``data.classes`` filter that does not fit its labels.
    """
    task, inputs = registry.dataset(data_cfg.name).specs(data_cfg)
    classes = getattr(data_cfg, "classes", None)
    if classes:
        if task.kind != MULTICLASS:
            raise ConfigError("data.classes", f"filters labels of multiclass data; {data_cfg.name} is {task.kind}")
        bad = [c for c in classes if not 0 <= int(c) < task.num_classes]
        if bad or len(set(classes)) != len(classes) or len(classes) < 2:
            raise ConfigError("data.classes", f"needs >= 2 distinct labels in 0..{task.num_classes - 1}, got {list(classes)}")
        names = tuple(task.class_names[int(c)] for c in classes) if task.class_names else None
        task = replace(task, num_classes=len(classes), class_names=names)
    return task, inputs
