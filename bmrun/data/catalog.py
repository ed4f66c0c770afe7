"""What each dataset is, known without loading it (and without TensorFlow).

Config checks use these specs to refuse an incompatible model/data/loss before anything heavy
starts; the loaders return arrays that match them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any, Optional

from bmrun.errors import ConfigError

MULTICLASS, BINARY, REGRESSION = "multiclass", "binary", "regression"
IMAGE, TOKENS, SEQUENCE, TABULAR = "image", "tokens", "sequence", "tabular"


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
        kind: ``image`` (H, W, C), ``tokens`` (length,), ``sequence`` (steps, features) or
            ``tabular`` (features,).
        shape: Shape of one example, without the batch axis.
        vocab_size: Token vocabulary size (``tokens`` only).
    """

    kind: str
    shape: tuple[int, ...]
    vocab_size: Optional[int] = None


@dataclass(frozen=True)
class DatasetInfo:
    """Registry entry: the module that loads the data and the specs of what it returns."""

    module: str
    task: TaskSpec
    input: InputSpec
    summary: str


_DIGITS = tuple(str(i) for i in range(10))
_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
            "Bag", "Ankle boot")

DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("bmrun.data.digits", TaskSpec(MULTICLASS, 10, _DIGITS),
                          InputSpec(IMAGE, (8, 8, 1)), "scikit-learn 8x8 digits"),
    "mnist": DatasetInfo("bmrun.data.mnist", TaskSpec(MULTICLASS, 10, _DIGITS),
                         InputSpec(IMAGE, (28, 28, 1)), "MNIST handwritten digits"),
    "fashion_mnist": DatasetInfo("bmrun.data.fashion_mnist", TaskSpec(MULTICLASS, 10, _FASHION),
                                 InputSpec(IMAGE, (28, 28, 1)), "Zalando Fashion-MNIST"),
    "imdb": DatasetInfo("bmrun.data.imdb", TaskSpec(BINARY, 2, ("negative", "positive")),
                        InputSpec(TOKENS, (200,), vocab_size=20000), "IMDB review sentiment"),
    "adding": DatasetInfo("bmrun.data.adding", TaskSpec(REGRESSION),
                          InputSpec(SEQUENCE, (50, 2)), "adding problem (Hochreiter 1997)"),
    "diabetes": DatasetInfo("bmrun.data.tabular", TaskSpec(REGRESSION),
                            InputSpec(TABULAR, (10,)), "scikit-learn diabetes progression"),
    "breast_cancer": DatasetInfo("bmrun.data.tabular", TaskSpec(BINARY, 2, ("malignant", "benign")),
                                 InputSpec(TABULAR, (30,)), "scikit-learn breast cancer"),
}


def dataset_info(name: str) -> DatasetInfo:
    """Return the registry entry for ``name`` or raise a ConfigError listing the choices."""
    if name not in DATASETS:
        raise ConfigError("data.name", f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name]


def describe(data_cfg: Any) -> tuple[TaskSpec, InputSpec]:
    """Specs for a data config, with its size options and class filter applied."""
    info = dataset_info(data_cfg.name)
    task, inputs = info.task, info.input
    if inputs.kind == TOKENS:
        inputs = replace(inputs, shape=(int(data_cfg.max_len),), vocab_size=int(data_cfg.vocab_size))
    elif inputs.kind == SEQUENCE:
        inputs = replace(inputs, shape=(int(data_cfg.seq_len),) + inputs.shape[1:])
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


def load_module(name: str):
    """Import the loader module of dataset ``name`` (it defines ``load(cfg, seed)``)."""
    return importlib.import_module(dataset_info(name).module)
