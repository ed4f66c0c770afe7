"""Transfer learning: start a model from another run's weights, optionally train only its head.

``model.init_from=<run dir>`` loads that run's ``model/model.keras`` (Keras safe mode) and copies
the weights of every layer whose name and weight shapes match the new model's. Layers that do
not match keep their fresh initialisation: typically the first dense layer after a flatten when
the input size differs. The head is copied only when the source run predicted the same labels
(same task and class names): digits 0-4 and digits 5-9 both have five classes, but a copied
head would call every 5 a 0. The input normalisation is not copied either: it has no weights
and is fitted on the new training split.

``model.freeze=backbone`` marks every layer but the head as not trainable before the optimizer
is built, so the optimizer holds (and the loop updates) the head's variables only, and batch
normalisation runs in inference mode with the source's statistics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bmrun.errors import ConfigError
from bmrun.run_dir import CONFIG

log = logging.getLogger("bmrun")


@dataclass
class TransferReport:
    """What :func:`copy_matching_weights` did, layer by layer."""

    source: str
    copied: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # same name, other weight shapes: re-initialised
    missing: list[str] = field(default_factory=list)  # no layer of that name in the source
    new_head: bool = False  # the source predicted other labels: the head starts afresh
    head_reason: str = "other labels"  # why: "other labels", or "pretrain run" (an untrained head)

    def summary(self) -> str:
        total = len(self.copied) + len(self.mismatched) + len(self.missing)
        text = f"model.init_from={self.source}: copied the weights of {len(self.copied)} of {total} layers"
        fresh = [f"{name} ({self.head_reason})" if name == "head" and self.new_head else name
                 for name in self.mismatched + self.missing]
        return text + (f"; freshly initialised: {', '.join(fresh)}" if fresh else "")


def init_from_run(model, run_dir: str, data_cfg) -> TransferReport:
    """Start ``model`` (built for ``data_cfg``) from the weights of the run at ``run_dir``."""
    from bmrun.models.loading import load_run_model

    from omegaconf import OmegaConf

    from bmrun.models.loading import pretrain_task

    source = load_run_model(run_dir, "model.init_from")
    # A pretrain run learnt its backbone without labels: its head was never trained.
    pretrained = pretrain_task(OmegaConf.load(Path(run_dir).expanduser() / CONFIG)) != "none"
    report = copy_matching_weights(source, model, run_dir, keep_head=not pretrained and same_labels(run_dir, data_cfg),
                                   head_reason="pretrain run" if pretrained else "other labels")
    return report


def same_labels(run_dir: str, data_cfg) -> bool:
    """Whether the run at ``run_dir`` was trained on the labels ``data_cfg`` gives (task kind
    and class names, after each one's ``data.classes`` filter). Unknown counts as different."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from bmrun.data.catalog import describe

    try:
        source_data = OmegaConf.load(Path(run_dir).expanduser() / CONFIG).data
        return describe(source_data)[0] == describe(data_cfg)[0]
    except (OSError, OmegaConfBaseException, ConfigError):
        return False


def copy_matching_weights(source, target, source_name: str, *, keep_head: bool = True,
                          head_reason: str = "other labels") -> TransferReport:
    """Copy each layer's weights from ``source`` to the same-named layer of ``target`` when
    every weight shape matches (the head only with ``keep_head``).

    Raises:
        ConfigError: Not a single layer with weights matches (another family, say), so the
            run would silently train from scratch.
    """
    report = TransferReport(source=source_name, new_head=not keep_head, head_reason=head_reason)
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        origin = by_name.get(layer.name)
        if origin is None:
            report.missing.append(layer.name)
            continue
        mismatch = [tuple(w.shape) for w in origin.weights] != [tuple(w.shape) for w in layer.weights]
        if mismatch or (layer.name == "head" and not keep_head):
            report.mismatched.append(layer.name)
            if layer.name == "head":
                _zero(layer)
            continue
        layer.set_weights(origin.get_weights())
        report.copied.append(layer.name)
    if not report.copied:
        raise ConfigError("model.init_from", f"no layer of the {source.name} model in {source_name} matches a layer "
                          f"of the new {target.name} model by name and weight shapes; init_from needs the same "
                          f"model family with compatible sizes.")
    log.info(report.summary())
    return report


def backbone_layers(model) -> list:
    """A bmrun model's :meth:`~bmrun.models.base.BasicModel.backbone_layers`; for a plugin's
    model, every layer before its last layer with weights (taken to be its head)."""
    if hasattr(model, "backbone_layers"):
        return model.backbone_layers()
    weighted = [layer for layer in model.layers if layer.weights]
    head = weighted[-1] if weighted else None
    return [layer for layer in model.layers if layer is not head]


def _zero(head) -> None:
    """Start a new head at zero, as Big Transfer (Kolesnikov et al., 2020) does: the first
    outputs are uniform (loss ln k) instead of random, and while the head is near zero the
    gradients reaching the copied backbone are small, so its features survive the first steps."""
    head.set_weights([0.0 * w for w in head.get_weights()])


def freeze_backbone(model) -> int:
    """Make every layer except the head non-trainable; returns how many layers were frozen."""
    frozen = 0
    for layer in backbone_layers(model):
        if layer.weights:
            frozen += 1
        layer.trainable = False
    if not model.trainable_variables:
        raise ConfigError("model.freeze", "backbone leaves nothing to train (the model has no trainable head)")
    log.info("model.freeze=backbone: %d layers with weights frozen; training %s", frozen,
             ", ".join(v.path for v in model.trainable_variables))
    return frozen
