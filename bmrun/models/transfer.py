"""Transfer learning: start a model from another run's weights, optionally train only its head.

``model.init_from=<run dir>`` loads that run's ``model/model.keras`` (Keras safe mode) and copies
its backbone (:mod:`bmrun.models.backbones`) into the new model's, by structure: the layers with
weights of both backbones are paired in order, and each pair of one layer kind with the same
weight shapes is copied. Layers that do not match keep their fresh initialisation: typically the
first dense layer after a flatten when the input size differs. The head is copied only when the
source run predicted the same labels (same task and class names): digits 0-4 and digits 5-9 both
have five classes, but a copied head would call every 5 a 0. The input normalisation is not
copied either: it has no weights and is fitted on the new training split.

``model.freeze=backbone`` sets the backbone to not trainable before the optimizer is built, so
the optimizer holds (and the loop updates) the head's variables only, and batch normalisation
runs in inference mode with the source's statistics.
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
    mismatched: list[str] = field(default_factory=list)  # other kind or weight shapes: re-initialised
    missing: list[str] = field(default_factory=list)  # nothing at that place in the source
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
    # TensorFlow side (bmrun.models.loading): kept out of --help and config composition
    from bmrun.models.loading import load_run_model

    # OmegaConf: only when a run's config is read, not for --help
    from omegaconf import OmegaConf

    # TensorFlow side (bmrun.models.loading): kept out of --help and config composition
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
    # OmegaConf: only when a run's config is read, not for --help
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    # bmrun.data.catalog brings numpy: only when this runs, keeps --help light
    from bmrun.data.catalog import describe

    try:
        source_data = OmegaConf.load(Path(run_dir).expanduser() / CONFIG).data
        return describe(source_data)[0] == describe(data_cfg)[0]
    except (OSError, OmegaConfBaseException, ConfigError):
        return False


def copy_matching_weights(source, target, source_name: str, *, keep_head: bool = True,
                          head_reason: str = "other labels") -> TransferReport:
    """Copy ``source``'s backbone into ``target``'s, layer by layer in the backbones' order, where
    the layers are of one kind with the same weight shapes (the head too, with ``keep_head``).

    Raises:
        ConfigError: Not a single layer with weights matches (another family, say), so the
            run would silently train from scratch.
    """
    # bmrun.models.backbones loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.backbones import backbone, head_layers

    report = TransferReport(source=source_name, new_head=not keep_head, head_reason=head_reason)
    _copy_in_order(backbone(source).layers, backbone(target).layers, report)
    _copy_in_order(head_layers(source), head_layers(target), report, head=True, fresh=not keep_head)
    if not report.copied:
        raise ConfigError("model.init_from", f"no layer of the {source.name} model in {source_name} matches a layer "
                          f"of the new {target.name} model by its place in the backbone, its kind and its weight "
                          f"shapes; init_from needs the same model family with compatible sizes.")
    log.info(report.summary())
    return report


def _copy_in_order(source_layers: list, target_layers: list, report: TransferReport, *, head: bool = False,
                   fresh: bool = False) -> None:
    """Pair the layers with weights of both lists in order (the i-th with the i-th) and copy
    each pair that matches; ``fresh`` skips the copy (a new head). A head layer that is not
    copied starts at zero (see :func:`_zero`)."""
    origins = [layer for layer in source_layers if layer.weights]
    for i, layer in enumerate(layer for layer in target_layers if layer.weights):
        origin = origins[i] if i < len(origins) else None
        if origin is None and not fresh:
            report.missing.append(layer.name)
            continue
        mismatch = origin is None or type(origin) is not type(layer) or \
            [tuple(w.shape) for w in origin.weights] != [tuple(w.shape) for w in layer.weights]
        if mismatch or fresh:
            report.mismatched.append(layer.name)
            if head:
                _zero(layer)
            continue
        layer.set_weights(origin.get_weights())
        report.copied.append(layer.name)


def backbone_layers(model) -> list:
    """The layers of the model's backbone (:func:`bmrun.models.backbones.backbone`)."""
    # bmrun.models.backbones loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.backbones import backbone

    return backbone(model).layers


def _zero(head) -> None:
    """Start a new head at zero, as Big Transfer (Kolesnikov et al., 2020) does: the first
    outputs are uniform (loss ln k) instead of random, and while the head is near zero the
    gradients reaching the copied backbone are small, so its features survive the first steps."""
    head.set_weights([0.0 * w for w in head.get_weights()])


def freeze_backbone(model) -> int:
    """Set the model's backbone to not trainable; returns how many of its layers have weights."""
    # bmrun.models.backbones loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.backbones import backbone

    body = backbone(model)
    frozen = sum(1 for layer in body.layers if layer.weights)
    body.trainable = False  # Keras passes the flag on to every layer of the backbone
    if not model.trainable_variables:
        raise ConfigError("model.freeze", "backbone leaves nothing to train (the model has no trainable head)")
    log.info("model.freeze=backbone: %d layers with weights frozen; training %s", frozen,
             ", ".join(v.path for v in model.trainable_variables))
    return frozen
