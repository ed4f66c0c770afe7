"""The ``pretrain`` config group: which pretext task, its settings and its own budget.

A pretrain run is a normal run (same loop, checkpoints, resume, sweeps) whose compiled step
learns a pretext task instead of the labels. Its budget may differ from the supervised one
that follows it, so the group can carry its own ``max_epochs`` and ``batch_size``: when set,
they replace ``trainer.max_epochs`` and ``data.batch_size`` for the pretrain run only (one
experiment preset then serves both the pretrain run and the fine-tuning run). No TensorFlow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import List, Optional

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.errors import ConfigError

KINDS = ("none", "contrastive", "autoencoder")


@dataclass
class PretrainConfig:
    """``pretrain=none|contrastive|autoencoder``.

    Attributes:
        name: The pretext task; ``none`` trains on the labels as usual.
        max_epochs: Replaces ``trainer.max_epochs`` in a pretrain run (null: keep it).
        batch_size: Replaces ``data.batch_size`` in a pretrain run (null: keep it).
        temperature: contrastive: the NT-Xent softmax temperature.
        projection_dims: contrastive: widths of the projection head (an MLP after the
            backbone; the last one is the embedding the loss compares). Discarded afterwards.
        view_shift: contrastive: largest shift of each view, in pixels.
        view_zoom: contrastive: each view is scaled by a random factor in
            ``[1 - view_zoom, 1 + view_zoom]`` (SimCLR's random resized crop, for small images).
        mask_ratio: autoencoder: share of the image's patches hidden from the encoder.
        patch_size: autoencoder: side of a masked square patch, in pixels.
        noise_std: autoencoder: Gaussian noise added to the visible pixels (pixel units).
        decoder_dim: autoencoder: width of the decoder's hidden layer.
    """

    name: str = "none"
    max_epochs: Optional[int] = None
    batch_size: Optional[int] = None
    temperature: float = 0.2
    projection_dims: List[int] = field(default_factory=lambda: [256, 64])
    view_shift: int = 4
    view_zoom: float = 0.25
    mask_ratio: float = 0.5
    patch_size: int = 4
    noise_std: float = 0.0
    decoder_dim: int = 512

    @property
    def enabled(self) -> bool:
        return self.name != "none"

    def __post_init__(self) -> None:
        choice("name", self.name, KINDS)
        if self.max_epochs is not None:
            at_least("max_epochs", self.max_epochs, 1)
        if self.batch_size is not None:
            at_least("batch_size", self.batch_size, 2)  # a contrastive batch needs negatives
        if not self.temperature > 0:
            raise ConfigError("temperature", f"divides the cosine similarities; must be > 0, got {self.temperature}")
        if not self.projection_dims:
            raise ConfigError("projection_dims", "needs at least one layer (the embedding)")
        for width in self.projection_dims:
            at_least("projection_dims", width, 1)
        at_least("view_shift", self.view_shift, 0)
        in_unit_interval("view_zoom", self.view_zoom)
        in_unit_interval("mask_ratio", self.mask_ratio)
        at_least("patch_size", self.patch_size, 1)
        at_least("noise_std", self.noise_std, 0.0)
        at_least("decoder_dim", self.decoder_dim, 1)


def with_pretrain_budget(config):
    """``config`` with ``pretrain.max_epochs`` / ``pretrain.batch_size`` in force (a pretrain run
    only); the saved config.yaml keeps what was composed, so a resume gets the same result."""
    pretrain = config.pretrain
    if not pretrain.enabled:
        return config
    trainer, data = config.trainer, config.data
    if pretrain.max_epochs is not None:
        trainer = dataclasses.replace(trainer, max_epochs=pretrain.max_epochs)
    if pretrain.batch_size is not None:
        data = dataclasses.replace(data, batch_size=pretrain.batch_size)
    return dataclasses.replace(config, trainer=trainer, data=data)
