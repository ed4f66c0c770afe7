"""The rich form of a dataset: its config dataclass, its task and input specs, and its loader.

Each built-in dataset (``bmrun/data/<name>.py``) defines one :class:`Dataset`; a package may do
the same, or declare just a ``load`` callable (see :mod:`bmrun.data.plugin`). Nothing here
imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Union

from omegaconf import MISSING

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.data.catalog import InputSpec, TaskSpec
from bmrun.errors import ConfigError


@dataclass
class DataConfig:
    """Keys every ``data`` option has: where the examples come from and how they are batched.

    A dataset's dataclass subclasses this and may change a default (e.g. ``batch_size``) or
    add its own keys.
    """

    name: str = MISSING
    path: Optional[str] = None  # a local copy; searched before any other place
    limit: Optional[int] = None  # keep only the first N training examples (quick runs)
    val_fraction: float = 0.1  # carved from the training split with `seed`
    batch_size: int = 128
    eval_batch_size: int = 1024
    shuffle: bool = True
    normalize: bool = True
    classes: Optional[List[int]] = None  # keep only these labels (relabelled 0..k-1)
    download: bool = True  # last resort after every local copy; off = fail fast offline
    # How training batches reach the step: gathered in-graph from the resident arrays (fastest
    # on one device, measured in BENCHMARKS.md) or through tf.data (needed to split batches
    # across replicas). auto = resident on one device, tf_data on several.
    feed: str = "auto"  # auto | resident | tf_data
    # Classification: weigh each example's loss by n / (classes * n_class), so rare classes count
    # as much as common ones (imbalanced data). The weights are recorded in metrics.json.
    class_weight: str = "none"  # none | balanced
    # Keep the labels of this stratified, seeded share of the training split; the rest is the
    # unlabeled pool (used by trainer.semi_supervised; pretrain= uses every image). Val and test
    # splits are untouched.
    label_fraction: float = 1.0
    # Columns whose groups fairness is measured over (data=csv only; bmrun.fairness). They stay
    # model inputs unless data.drop lists them.
    sensitive: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        in_unit_interval("val_fraction", self.val_fraction)
        at_least("batch_size", self.batch_size, 1)
        at_least("eval_batch_size", self.eval_batch_size, 1)
        choice("feed", self.feed, ("auto", "resident", "tf_data"))
        choice("class_weight", self.class_weight, ("none", "balanced"))
        if self.limit is not None:
            at_least("limit", self.limit, 1)
        if not 0.0 < self.label_fraction <= 1.0:  # also refuses NaN
            raise ConfigError("label_fraction", f"is the share of training labels kept, in (0, 1]; got "
                                                f"{self.label_fraction}")


@dataclass(frozen=True)
class Dataset:
    """A dataset in its rich form.

    Attributes:
        name: Its ``data=`` option.
        config: Its config dataclass (a :class:`DataConfig` subclass): the only place its
            defaults are written.
        task: What the labels are.
        inputs: What one example looks like, or a function of the config for datasets whose
            shape is a config key (``data.max_len``, ``data.seq_len``).
        summary: One line, for listings.
        loader: ``loader(cfg, seed) -> RawData`` (official train and test splits).
    """

    name: str
    config: type
    task: TaskSpec
    inputs: Union[InputSpec, Callable[[Any], InputSpec]]
    summary: str
    loader: Callable
    package: str = "bmrun"
    builtin: bool = True

    def specs(self, cfg: Any) -> tuple[TaskSpec, InputSpec]:
        """Task and input specs for a config, known without loading anything."""
        return self.task, self.inputs(cfg) if callable(self.inputs) else self.inputs

    def load(self, cfg: Any, seed: int):
        return self.loader(cfg, seed)
