"""What a dataset is: its task and input specs (no TensorFlow), and :func:`describe`.

Config checks use these specs to refuse an incompatible model/data/loss before anything heavy
starts; the loaders return arrays that match them. Each dataset's own specs live in its module
(``bmrun/data/<name>.py``), found through :mod:`bmrun.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from bmrun.errors import ConfigError

MULTICLASS, BINARY, REGRESSION = "multiclass", "binary", "regression"
IMAGE, TOKENS, SEQUENCE, TABULAR = "image", "tokens", "sequence", "tabular"
# One (user id, item id) pair per example, ids kept as strings; the recommender families map them
# to embedding rows themselves (see bmrun.data.ratings).
INTERACTIONS = "interactions"
# Raw inputs that the model encodes itself (data=csv): a dict of named columns (numbers with
# NaN for missing, strings for categories), or one string per example.
TABLE, TEXT = "table", "text"


@dataclass(frozen=True)
class TaskSpec:
    """What the labels are.

    Attributes:
        kind: ``multiclass``, ``binary`` or ``regression``.
        num_classes: Classes of a multiclass task (2 for binary), else None.
        class_names: Human names for the classes, if any.
    """

    kind: str
    num_classes: Optional[int] = None
    class_names: Optional[tuple[str, ...]] = None

    @property
    def is_classification(self) -> bool:
        return self.kind in (MULTICLASS, BINARY)

    @property
    def num_outputs(self) -> int:
        """Width of the model's last layer: one logit per class, one for binary or regression."""
        return self.num_classes if self.kind == MULTICLASS else 1


@dataclass(frozen=True)
class InputSpec:
    """What one example looks like.

    Attributes:
        kind: ``image`` (H, W, C), ``tokens`` (length,), ``sequence`` (steps, features),
            ``tabular`` (features,), ``table`` (a dict of raw columns; shape: (columns,)),
            ``text`` (one raw string; shape: (tokens,) after the model's own vectorisation) or
            ``interactions`` ((2,): a user id and an item id, as strings).
        shape: Shape of one example, without the batch axis.
        vocab_size: Token vocabulary size (``tokens`` only).
    """

    kind: str
    shape: tuple[int, ...]
    vocab_size: Optional[int] = None


def describe(data_cfg: Any) -> tuple[TaskSpec, InputSpec]:
    """Specs for a data config, with its size options and class filter applied.

    Built-in datasets know their specs without loading; a plugin dataset is loaded (once, and
    cached) to infer them.

    Raises:
        ConfigError: Unknown dataset, or a ``data.classes`` filter that does not fit its labels.
    """
    from bmrun import registry

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
