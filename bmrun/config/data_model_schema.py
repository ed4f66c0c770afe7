"""Schemas of the ``data`` and ``model`` groups (one dataclass per dataset family / model family).

Field names of the model schemas are the model classes' constructor arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING

from bmrun.config.rules import at_least, choice, in_unit_interval
from bmrun.errors import ConfigError


# ----------------------------------------------------------------------------- data
@dataclass
class DataConfig:
    """Where the examples come from and how they are batched."""

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

    def __post_init__(self) -> None:
        in_unit_interval("val_fraction", self.val_fraction)
        at_least("batch_size", self.batch_size, 1)
        at_least("eval_batch_size", self.eval_batch_size, 1)
        choice("feed", self.feed, ("auto", "resident", "tf_data"))
        if self.limit is not None:
            at_least("limit", self.limit, 1)


@dataclass
class ImdbDataConfig(DataConfig):
    vocab_size: int = 20000
    max_len: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("vocab_size", self.vocab_size, 4)  # 0 pad, 1 start, 2 oov, 3 unused
        at_least("max_len", self.max_len, 1)


@dataclass
class AddingDataConfig(DataConfig):
    seq_len: int = 50
    num_train: int = 20000
    num_test: int = 2000

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("seq_len", self.seq_len, 2)
        at_least("num_train", self.num_train, 2)
        at_least("num_test", self.num_test, 1)


# ----------------------------------------------------------------------------- model
@dataclass
class ModelConfig:
    name: str = MISSING
    dropout_rate: float = 0.0
    init_from: Optional[str] = None  # a run dir whose weights start this model
    freeze: str = "none"  # none | backbone

    def __post_init__(self) -> None:
        in_unit_interval("dropout_rate", self.dropout_rate)
        choice("freeze", self.freeze, ("none", "backbone"))


@dataclass
class LinearModelConfig(ModelConfig):
    pass


@dataclass
class MlpModelConfig(ModelConfig):
    hidden_dims: List[int] = field(default_factory=lambda: [256, 128])
    activation: str = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        for width in self.hidden_dims:
            at_least("hidden_dims", width, 1)


@dataclass
class CnnModelConfig(ModelConfig):
    filters: List[int] = field(default_factory=lambda: [32])
    kernel_size: int = 3
    padding: str = "valid"  # valid | same
    pool_size: int = 2
    dense_dims: List[int] = field(default_factory=lambda: [64])
    batch_norm: bool = False
    activation: str = "relu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.filters:
            raise ConfigError("filters", "needs at least one convolution")
        for width in list(self.filters) + list(self.dense_dims):
            at_least("filters/dense_dims", width, 1)
        at_least("kernel_size", self.kernel_size, 1)
        choice("padding", self.padding, ("valid", "same"))
        at_least("pool_size", self.pool_size, 1)


@dataclass
class RnnModelConfig(ModelConfig):
    cell: str = "lstm"
    num_layers: int = 1
    hidden_dim: int = 128
    bidirectional: bool = False
    embedding_dim: int = 64  # token inputs only

    def __post_init__(self) -> None:
        super().__post_init__()
        choice("cell", self.cell, ("lstm", "gru"))
        at_least("num_layers", self.num_layers, 1)
        at_least("hidden_dim", self.hidden_dim, 1)
        at_least("embedding_dim", self.embedding_dim, 1)


@dataclass
class TransformerModelConfig(ModelConfig):
    num_layers: int = 2
    num_heads: int = 4
    hidden_dim: int = 64
    mlp_dim: int = 128
    patch_size: int = 4  # image inputs: square patches of this side
    position: str = "learned"  # learned | sinusoidal
    pooling: str = "mean"  # mean | cls

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("num_layers", "num_heads", "hidden_dim", "mlp_dim", "patch_size"):
            at_least(key, getattr(self, key), 1)
        if self.hidden_dim % self.num_heads:
            raise ConfigError("hidden_dim", f"{self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        choice("position", self.position, ("learned", "sinusoidal"))
        choice("pooling", self.pooling, ("mean", "cls"))
