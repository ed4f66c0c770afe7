"""Typed schemas for every config group.

Each YAML file in ``conf/<group>/`` starts from one of these dataclasses (its defaults list names
``/schema/<group>/<name>@_here_``), so Hydra rejects unknown keys and wrong types while composing.
Each family and dataset declares its own schema in its module (:func:`register_schemas` takes
them from :mod:`bmrun.registry`). Ranges and choices are checked in ``__post_init__``, when
:func:`bmrun.config.validate` builds these objects. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, List, Optional

from omegaconf import MISSING

from bmrun import registry
from bmrun.data.dataset import DataConfig
from bmrun.errors import ConfigError
from bmrun.fairness.config import FairnessConfig
from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.pretrain.config import PretrainConfig


# ----------------------------------------------------------------------------- loss
@dataclass
class LossConfig:
    name: str = "auto"  # auto picks from the dataset's task
    label_smoothing: float = 0.0
    l2: float = 0.0  # adds l2 * sum(w^2) over kernels and embeddings (coupled L2; see optimizer.weight_decay)
    # Demographic-parity penalty (bmrun.fairness.penalty): adds fairness_penalty x the batch's
    # max - min mean predicted positive probability over the groups of data column fairness_group.
    fairness_penalty: float = 0.0
    fairness_group: Optional[str] = None

    def __post_init__(self) -> None:
        choice("name", self.name, ("auto", "cross_entropy", "binary_cross_entropy", "mse", "dice", "dice_ce", "mae", "ctc",
                                          "token_cross_entropy"))
        in_unit_interval("label_smoothing", self.label_smoothing)
        at_least("l2", self.l2, 0.0)
        if self.fairness_penalty < 0:
            raise ConfigError("fairness_penalty", f"is the weight of the demographic-parity penalty: 0 (off) or "
                              f"more, got {self.fairness_penalty}")


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
    ema_decay: float = 0.0  # > 0: evaluate, test and export a moving average of the weights

    def __post_init__(self) -> None:
        choice("name", self.name, ("sgd", "adam", "adamw"))
        if not self.lr > 0:
            raise ConfigError("lr", f"must be > 0, got {self.lr}")
        at_least("weight_decay", self.weight_decay, 0.0)
        for key in ("momentum", "beta_1", "beta_2"):
            in_unit_interval(key, getattr(self, key))
        for key in ("clip_norm", "clip_value"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ConfigError(key, f"must be > 0 or null, got {value}")
        choice("schedule", self.schedule, ("constant", "cosine", "warmup_cosine", "linear"))
        at_least("warmup_epochs", self.warmup_epochs, 0.0)
        in_unit_interval("min_lr_ratio", self.min_lr_ratio, closed_top=True)
        in_unit_interval("ema_decay", self.ema_decay)


# ----------------------------------------------------------------------------- device
@dataclass
class DeviceConfig:
    name: str = "auto"  # auto | cpu | gpu | multi_gpu | multi_worker
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16 | auto (bf16 where the chip has it)
    xla: bool = False
    memory_growth: bool = True
    logical_cpus: int = 0  # split the CPU into N logical devices (tests, multi-device on CPU)
    intra_op_threads: int = 0  # 0 = TensorFlow's choice
    inter_op_threads: int = 0  # 0 = 2 on a CPU (bmrun.runtime.device.cpu_inter_op_threads), else TensorFlow's choice

    def __post_init__(self) -> None:
        choice("name", self.name, ("auto", "cpu", "gpu", "multi_gpu", "multi_worker"))
        choice("precision", self.precision, ("float32", "mixed_float16", "mixed_bfloat16", "auto"))
        for key in ("logical_cpus", "intra_op_threads", "inter_op_threads"):
            at_least(key, getattr(self, key), 0)


# ----------------------------------------------------------------------------- trainer
@dataclass
class EarlyStoppingConfig:
    enabled: bool = False
    monitor: str = "val/loss"
    mode: str = "auto"  # auto | min | max
    patience: int = 3
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        choice("mode", self.mode, ("auto", "min", "max"))
        at_least("patience", self.patience, 0)
        at_least("min_delta", self.min_delta, 0.0)


@dataclass
class TrainerConfig:
    max_epochs: int = 10
    steps_per_call: int = 0  # training steps fused into one compiled call; 0 = auto
    log_every_n_steps: int = 50
    deterministic: bool = False
    checkpoint_every_n_steps: int = 0  # 0 = end of each epoch only
    checkpoint_every_n_epochs: int = 1  # epoch-end checkpoints every n epochs (and at the last one)
    keep_checkpoints: int = 2  # recent checkpoints kept; a corrupt newest one falls back to the one before
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
    # Semi-supervised training (images, data.label_fraction < 1), FixMatch: every step also trains
    # on an unlabeled batch unlabeled_ratio times larger; confident predictions on a weak view of
    # each unlabeled image are the targets of a strong view (bmrun/methods/consistency.py).
    semi_supervised: str = "none"  # none | consistency
    unlabeled_ratio: int = 7
    confidence_threshold: float = 0.95  # a prediction becomes a target when its probability is above this
    unlabeled_weight: float = 1.0
    # consistency's strong view: randaugment (FixMatch's: randaugment_ops operations at random
    # magnitudes, then Cutout) or mild (shift, rotation, zoom, contrast, noise)
    strong_view: str = "randaugment"  # randaugment | mild
    randaugment_ops: int = 2

    def __post_init__(self) -> None:
        for key, low in (("max_epochs", 1), ("steps_per_call", 0), ("log_every_n_steps", 1),
                         ("checkpoint_every_n_steps", 0), ("checkpoint_every_n_epochs", 1), ("keep_checkpoints", 1)):
            at_least(key, getattr(self, key), low)
        choice("test_with", self.test_with, ("best", "last"))
        at_least("limit_train_batches", self.limit_train_batches, 0)
        choice("adversarial", self.adversarial, ("none", "fgsm", "pgd"))
        at_least("adv_steps", self.adv_steps, 1)
        for key in ("adv_epsilon", "adv_step_size", "adv_fraction", "adv_eval_epsilon"):
            in_unit_interval(key, getattr(self, key), closed_top=True)
        choice("semi_supervised", self.semi_supervised, ("none", "consistency"))
        at_least("unlabeled_ratio", self.unlabeled_ratio, 1)
        if not 0.0 < self.confidence_threshold <= 1.0:
            raise ConfigError("confidence_threshold", f"is a probability in (0, 1]; got {self.confidence_threshold}")
        at_least("unlabeled_weight", self.unlabeled_weight, 0.0)
        choice("strong_view", self.strong_view, ("randaugment", "mild"))
        at_least("randaugment_ops", self.randaugment_ops, 1)


# ----------------------------------------------------------------------------- test
@dataclass
class TestConfig:
    """The final test's settings, which ``bmrun-eval`` shares (``test.beam_size``)."""

    name: str = "default"
    beam_size: int = 1  # text pairs: 1 decodes greedily, more keeps that many beams (trainer.beam_size before)

    def __post_init__(self) -> None:
        at_least("beam_size", self.beam_size, 1)


# ----------------------------------------------------------------------------- logger
@dataclass
class LoggerConfig:
    tensorboard: bool = True
    progress_bar: bool = True
    # compact: group options and keys off their defaults; full: the whole tree; false: none (true: compact)
    print_config: str = "compact"
    hparams: bool = True
    confusion_matrix: bool = False
    misclassified: bool = False
    saliency: bool = False
    segmentation: bool = True  # segmentation runs: image | truth | prediction of the first test images each epoch
    histograms_every_n_epochs: int = 0  # 0 = off
    tflite: List[str] = field(default_factory=list)  # TFLite copies to write and test: float32, int8, float16
    saved_model: bool = True  # model/saved_model/ beside model.keras (Serving, TFLite); false: the .keras file alone
    mlflow: bool = False  # log params, metrics by epoch, tags and artifacts to an MLflow store
    mlflow_uri: Optional[str] = None  # default: sqlite:///<folder holding outputs/>/mlflow.db

    def __post_init__(self) -> None:
        at_least("histograms_every_n_epochs", self.histograms_every_n_epochs, 0)
        self.print_config = {"true": "compact", "false": "false"}.get(str(self.print_config).lower(),
                                                                        str(self.print_config).lower())
        choice("print_config", self.print_config, ("compact", "full", "false"))
        for kind in self.tflite:
            choice("tflite", kind, ("float32", "int8", "float16"))
        if self.tflite and not self.saved_model:
            raise ConfigError("logger.tflite", "converts the SavedModel, which logger.saved_model=false leaves out")
        # An optional extra: refused here, before any training, rather than after the first epoch.
        if self.mlflow and importlib.util.find_spec("mlflow") is None:
            raise ConfigError("logger.mlflow", 'needs MLflow, which is not installed: pip install "bmrun[mlflow]"')


# ----------------------------------------------------------------------------- augment
@dataclass
class AugmentConfig:
    """Random transforms of training images; see ``bmrun/data/augment.py``.

    ``tta=flip`` is the one transform of val/test images: each is also seen mirrored and the two
    outputs are averaged (test-time augmentation, inside the compiled evaluation).
    """

    name: str = "none"
    tta: str = "none"  # none | flip: average each val/test prediction with its mirror image's
    shift: int = 0  # pixels: zero-pad by this much on each side, crop back at a random offset
    horizontal_flip: bool = False  # off by default: digits and letters must not mirror
    rotation: float = 0.0  # degrees: each image turns by a uniform angle in [-rotation, rotation]
    noise_std: float = 0.0  # Gaussian noise, in pixel units (raw images are 0..255)
    cutout: float = 0.0  # side of one square blacked out at a random place, as a share of the image side
    # Audio inputs (data=audio_folder) only: SpecAugment's largest masked share of each clip's time and frequencies
    time_mask: float = 0.0
    freq_mask: float = 0.0

    @property
    def enabled(self) -> bool:
        return (self.shift > 0 or self.horizontal_flip or self.rotation > 0 or self.noise_std > 0
                or self.cutout > 0 or self.time_mask > 0 or self.freq_mask > 0)

    def __post_init__(self) -> None:
        choice("tta", self.tta, ("none", "flip"))
        at_least("shift", self.shift, 0)
        at_least("rotation", self.rotation, 0.0)
        if self.rotation > 180:
            raise ConfigError("rotation", f"is a largest angle in degrees, at most 180, got {self.rotation}")
        at_least("noise_std", self.noise_std, 0.0)
        for key in ("cutout", "time_mask", "freq_mask"):
            in_unit_interval(key, getattr(self, key))


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
    pretrain: Any = MISSING
    fairness: Any = MISSING
    test: Any = MISSING
    seed: int = 0
    resume: Optional[str] = None  # a run dir: continue that run with its own config
    verbose: int = 0  # 1: bmrun debug lines; 2: TensorFlow's own logs too
    objective: str = "auto"  # the metric a sweeper optimises, e.g. val/accuracy
    fail_on_job_error: bool = True  # multirun: exit non-zero at the end if a job failed

    def __post_init__(self) -> None:
        at_least("verbose", self.verbose, 0)
        at_least("seed", self.seed, 0)


# The groups with one schema each; model and data schemas come from the registry.
SCHEMAS: dict[str, dict[str, type]] = {
    "loss": {"base": LossConfig}, "optimizer": {"base": OptimizerConfig}, "device": {"base": DeviceConfig},
    "trainer": {"base": TrainerConfig}, "logger": {"base": LoggerConfig}, "augment": {"base": AugmentConfig},
    "pretrain": {"base": PretrainConfig}, "fairness": {"base": FairnessConfig}, "test": {"base": TestConfig},
}


def register_schemas() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent); model and data schemas come from the
    registry (and ``schema/data/base``). A plugin has no YAML file, so its option is stored too (an
    unusable one as a bare ``name`` node: validation then says why)."""
    from hydra.core.config_store import ConfigStore  # Hydra only when composing, not for --help

    from bmrun.config.resolvers import register_resolvers  # conf/data/csv.yaml's ${if_text_pairs:...}
    register_resolvers()
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            store.store(group=f"schema/{group}", name=name, node=node)
    store.store(group="schema/data", name="base", node=DataConfig)
    for group in ("model", "data"):
        for name, entry in registry.every(group).items():
            if entry.config is not None:
                store.store(group=f"schema/{group}", name=name, node=entry.config)
            if not entry.builtin:
                store.store(group=group, name=name, node=entry.config or {"name": name})
