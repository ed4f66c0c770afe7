"""Typed schemas for every config group.

Each YAML file in ``conf/<group>/`` starts from one of these dataclasses (its defaults list names
``/schema/<group>/<name>@_here_``), so Hydra rejects unknown keys and wrong types while composing.
Ranges and choices are checked in ``__post_init__``, which runs when :func:`bmrun.config.validate`
turns the composed config into these objects. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from omegaconf import MISSING

from bmrun.errors import ConfigError


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(key, f"{value!r} is not one of: {', '.join(choices)}")


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(key, f"must be >= {low}, got {value}")


def _in_unit_interval(key: str, value: float, *, closed_top: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed_top else 0.0 <= value < 1.0
    if not ok:
        top = "1]" if closed_top else "1)"
        raise ConfigError(key, f"must be in [0, {top}, got {value}")


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
        _in_unit_interval("val_fraction", self.val_fraction)
        _at_least("batch_size", self.batch_size, 1)
        _at_least("eval_batch_size", self.eval_batch_size, 1)
        _choice("feed", self.feed, ("auto", "resident", "tf_data"))
        if self.limit is not None:
            _at_least("limit", self.limit, 1)


@dataclass
class ImdbDataConfig(DataConfig):
    vocab_size: int = 20000
    max_len: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least("vocab_size", self.vocab_size, 4)  # 0 pad, 1 start, 2 oov, 3 unused
        _at_least("max_len", self.max_len, 1)


@dataclass
class AddingDataConfig(DataConfig):
    seq_len: int = 50
    num_train: int = 20000
    num_test: int = 2000

    def __post_init__(self) -> None:
        super().__post_init__()
        _at_least("seq_len", self.seq_len, 2)
        _at_least("num_train", self.num_train, 2)
        _at_least("num_test", self.num_test, 1)


# ----------------------------------------------------------------------------- model
@dataclass
class ModelConfig:
    name: str = MISSING
    dropout_rate: float = 0.0
    init_from: Optional[str] = None  # a run dir whose weights start this model
    freeze: str = "none"  # none | backbone

    def __post_init__(self) -> None:
        _in_unit_interval("dropout_rate", self.dropout_rate)
        _choice("freeze", self.freeze, ("none", "backbone"))


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
            _at_least("hidden_dims", width, 1)


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
            _at_least("filters/dense_dims", width, 1)
        _at_least("kernel_size", self.kernel_size, 1)
        _choice("padding", self.padding, ("valid", "same"))
        _at_least("pool_size", self.pool_size, 1)


@dataclass
class RnnModelConfig(ModelConfig):
    cell: str = "lstm"
    num_layers: int = 1
    hidden_dim: int = 128
    bidirectional: bool = False
    embedding_dim: int = 64  # token inputs only

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice("cell", self.cell, ("lstm", "gru"))
        _at_least("num_layers", self.num_layers, 1)
        _at_least("hidden_dim", self.hidden_dim, 1)
        _at_least("embedding_dim", self.embedding_dim, 1)


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
            _at_least(key, getattr(self, key), 1)
        if self.hidden_dim % self.num_heads:
            raise ConfigError("hidden_dim", f"{self.hidden_dim} is not divisible by num_heads={self.num_heads}")
        _choice("position", self.position, ("learned", "sinusoidal"))
        _choice("pooling", self.pooling, ("mean", "cls"))


# ----------------------------------------------------------------------------- loss
@dataclass
class LossConfig:
    name: str = "auto"  # auto picks from the dataset's task
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        _choice("name", self.name, ("auto", "cross_entropy", "binary_cross_entropy", "mse"))
        _in_unit_interval("label_smoothing", self.label_smoothing)


# ----------------------------------------------------------------------------- optimizer
@dataclass
class OptimizerConfig:
    name: str = MISSING
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0  # sgd
    nesterov: bool = False  # sgd
    beta_1: float = 0.9  # adam, adamw
    beta_2: float = 0.999
    epsilon: float = 1e-7
    clip_norm: Optional[float] = None  # global gradient-norm clipping
    clip_value: Optional[float] = None
    schedule: str = "constant"  # constant | cosine | warmup_cosine | linear
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0  # final lr of decaying schedules, as a fraction of lr

    def __post_init__(self) -> None:
        _choice("name", self.name, ("sgd", "adam", "adamw"))
        if not self.lr > 0:
            raise ConfigError("lr", f"must be > 0, got {self.lr}")
        _at_least("weight_decay", self.weight_decay, 0.0)
        _in_unit_interval("momentum", self.momentum)
        _in_unit_interval("beta_1", self.beta_1)
        _in_unit_interval("beta_2", self.beta_2)
        for key in ("clip_norm", "clip_value"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ConfigError(key, f"must be > 0 or null, got {value}")
        _choice("schedule", self.schedule, ("constant", "cosine", "warmup_cosine", "linear"))
        _at_least("warmup_epochs", self.warmup_epochs, 0.0)
        _in_unit_interval("min_lr_ratio", self.min_lr_ratio, closed_top=True)


# ----------------------------------------------------------------------------- device
@dataclass
class DeviceConfig:
    name: str = "auto"  # auto | cpu | gpu | multi_gpu | multi_worker
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16
    xla: bool = False
    memory_growth: bool = True
    logical_cpus: int = 0  # split the CPU into N logical devices (tests, multi-device on CPU)
    intra_op_threads: int = 0  # 0 = TensorFlow's choice
    inter_op_threads: int = 0

    def __post_init__(self) -> None:
        _choice("name", self.name, ("auto", "cpu", "gpu", "multi_gpu", "multi_worker"))
        _choice("precision", self.precision, ("float32", "mixed_float16", "mixed_bfloat16"))
        for key in ("logical_cpus", "intra_op_threads", "inter_op_threads"):
            _at_least(key, getattr(self, key), 0)


# ----------------------------------------------------------------------------- trainer
@dataclass
class EarlyStoppingConfig:
    enabled: bool = False
    monitor: str = "val/loss"
    mode: str = "auto"  # auto | min | max
    patience: int = 3
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _choice("mode", self.mode, ("auto", "min", "max"))
        _at_least("patience", self.patience, 0)
        _at_least("min_delta", self.min_delta, 0.0)


@dataclass
class TrainerConfig:
    max_epochs: int = 10
    steps_per_call: int = 0  # training steps fused into one compiled call; 0 = auto
    log_every_n_steps: int = 50
    deterministic: bool = False
    checkpoint_every_n_steps: int = 0  # 0 = end of each epoch only
    test_with: str = "best"  # best | last: which weights the final test uses
    limit_train_batches: int = 0  # 0 = all
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    # Adversarial training (images): epsilons on the [0, 1] pixel scale.
    adversarial: str = "none"  # none | fgsm | pgd
    adv_epsilon: float = 0.1
    adv_steps: int = 5  # pgd
    adv_step_size: float = 0.03  # pgd
    adv_fraction: float = 0.5  # share of each batch replaced by its adversarial version
    adv_eval_epsilon: float = 0.0  # > 0: report test/adv_accuracy under FGSM at this epsilon

    def __post_init__(self) -> None:
        _at_least("max_epochs", self.max_epochs, 1)
        _at_least("steps_per_call", self.steps_per_call, 0)
        _at_least("log_every_n_steps", self.log_every_n_steps, 1)
        _at_least("checkpoint_every_n_steps", self.checkpoint_every_n_steps, 0)
        _choice("test_with", self.test_with, ("best", "last"))
        _at_least("limit_train_batches", self.limit_train_batches, 0)
        _choice("adversarial", self.adversarial, ("none", "fgsm", "pgd"))
        _in_unit_interval("adv_epsilon", self.adv_epsilon, closed_top=True)
        _at_least("adv_steps", self.adv_steps, 1)
        _in_unit_interval("adv_step_size", self.adv_step_size, closed_top=True)
        _in_unit_interval("adv_fraction", self.adv_fraction, closed_top=True)
        _in_unit_interval("adv_eval_epsilon", self.adv_eval_epsilon, closed_top=True)


# ----------------------------------------------------------------------------- logger
@dataclass
class LoggerConfig:
    tensorboard: bool = True
    progress_bar: bool = True
    print_config: bool = True
    hparams: bool = True
    confusion_matrix: bool = False
    misclassified: bool = False
    saliency: bool = False
    histograms_every_n_epochs: int = 0  # 0 = off
    tflite: List[str] = field(default_factory=list)  # TFLite copies to write and test: float32, int8, float16

    def __post_init__(self) -> None:
        _at_least("histograms_every_n_epochs", self.histograms_every_n_epochs, 0)
        for kind in self.tflite:
            _choice("tflite", kind, ("float32", "int8", "float16"))


# ----------------------------------------------------------------------------- augment
@dataclass
class AugmentConfig:
    """Random transforms of training images (never val/test); see ``bmrun/data/augment.py``."""

    name: str = "none"
    shift: int = 0  # pixels: zero-pad by this much on each side, crop back at a random offset
    horizontal_flip: bool = False  # off by default: digits and letters must not mirror
    rotation: float = 0.0  # degrees: each image turns by a uniform angle in [-rotation, rotation]
    noise_std: float = 0.0  # Gaussian noise, in pixel units (raw images are 0..255)

    @property
    def enabled(self) -> bool:
        return self.shift > 0 or self.horizontal_flip or self.rotation > 0 or self.noise_std > 0

    def __post_init__(self) -> None:
        _at_least("shift", self.shift, 0)
        _at_least("rotation", self.rotation, 0.0)
        if self.rotation > 180:
            raise ConfigError("rotation", f"is a largest angle in degrees, at most 180, got {self.rotation}")
        _at_least("noise_std", self.noise_std, 0.0)


# ----------------------------------------------------------------------------- top level
@dataclass
class TrainConfig:
    data: Any = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    device: Any = MISSING
    trainer: Any = MISSING
    logger: Any = MISSING
    augment: Any = MISSING
    seed: int = 0
    resume: Optional[str] = None  # a run dir: continue that run with its own config
    verbose: int = 0  # 1: bmrun debug lines; 2: TensorFlow's own logs too
    objective: str = "auto"  # the metric a sweeper optimises, e.g. val/accuracy
    fail_on_job_error: bool = True  # multirun: exit non-zero at the end if a job failed

    def __post_init__(self) -> None:
        _at_least("verbose", self.verbose, 0)
        _at_least("seed", self.seed, 0)


SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"base": DataConfig, "imdb": ImdbDataConfig, "adding": AddingDataConfig},
    "model": {
        "linear": LinearModelConfig,
        "mlp": MlpModelConfig,
        "cnn": CnnModelConfig,
        "rnn": RnnModelConfig,
        "transformer": TransformerModelConfig,
    },
    "loss": {"base": LossConfig},
    "optimizer": {"base": OptimizerConfig},
    "device": {"base": DeviceConfig},
    "trainer": {"base": TrainerConfig},
    "logger": {"base": LoggerConfig},
    "augment": {"base": AugmentConfig},
}


def register_schemas() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            store.store(group=f"schema/{group}", name=name, node=node)
