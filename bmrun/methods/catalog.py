"""Which learning methods exist, which options each supports: declarations, no TensorFlow.

Every option a user can add to any method (adversarial examples, the fairness penalty, label
smoothing, ...) is an :class:`Option`; every method a :class:`MethodSpec` naming the options it
supports. :func:`check_options` refuses any other pair with one line naming both, before data
is loaded or TensorFlow imported; :func:`matrix_markdown` writes the same facts as the docs'
table, so the table cannot drift from what validation does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from bmrun.errors import ConfigError


@dataclass(frozen=True)
class Option:
    """A training option that a method may or may not support.

    Attributes:
        key: The config key that turns it on (named in refusals).
        label: What the docs' table calls it.
        active: Whether a validated config uses it.
    """

    key: str
    label: str
    active: Callable[[Any], bool]


@dataclass(frozen=True)
class MethodSpec:
    """A learning method's declaration.

    Attributes:
        name: ``supervised``, ``consistency``, ``contrastive`` or ``autoencoder``.
        chosen_by: The setting that selects it (shown in refusals and docs).
        summary: One line for the docs.
        implementation: ``module:Class`` of its TensorFlow side (loaded by the training job only).
        refuses: The :data:`OPTIONS` it does not compose with, each with the reason a user is told;
            it supports every other option.
    """

    name: str
    chosen_by: str
    summary: str
    implementation: str
    refuses: dict = field(default_factory=dict)

    def supports(self, key: str) -> bool:
        return key not in self.refuses

    def load(self) -> type:
        """The implementation class (imports TensorFlow)."""
        module, _, attribute = self.implementation.partition(":")
        return getattr(importlib.import_module(module), attribute)


OPTIONS: dict[str, Option] = {option.key: option for option in (
    Option("trainer.adversarial", "adversarial examples (FGSM, PGD)", lambda c: c.trainer.adversarial != "none"),
    Option("trainer.adv_eval_epsilon", "robust test accuracy (FGSM)", lambda c: c.trainer.adv_eval_epsilon > 0),
    Option("loss.fairness_penalty", "demographic-parity penalty", lambda c: c.loss.fairness_penalty > 0),
    Option("fairness.max_gap", "demographic-parity bound", lambda c: c.fairness.max_gap is not None),
    Option("loss.label_smoothing", "label smoothing", lambda c: c.loss.label_smoothing > 0),
    Option("data.class_weight", "balanced class weights",
           lambda c: getattr(c.data, "class_weight", "none") != "none"),
    Option("loss.l2", "L2 penalty", lambda c: c.loss.l2 > 0),
    Option("optimizer.ema_decay", "weights' moving average", lambda c: c.optimizer.ema_decay > 0),
    Option("augment.tta", "test-time flip", lambda c: c.augment.tta != "none"),
    Option("model.freeze", "frozen backbone", lambda c: c.model.freeze != "none"),
)}

# A pretext task has no labels and no classifier: it learns features, so the options that act on
# labels, a classifier's outputs or a frozen backbone have nothing to act on.
_NO_CLASSIFIER = "learns a pretext task, without labels or a classifier"
_PRETEXT_REFUSES = {key: _NO_CLASSIFIER for key in OPTIONS if key not in ("loss.l2", "optimizer.ema_decay")}
_PRETEXT_REFUSES["model.freeze"] = "trains the backbone itself; a frozen one would learn nothing"

METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in (
    MethodSpec("supervised", "(default)", "every training example has its label",
               "bmrun.methods.supervised:Supervised"),
    MethodSpec("consistency", "trainer.semi_supervised=consistency",
               "FixMatch: confident predictions on a weak view train a RandAugment view of unlabeled images",
               "bmrun.methods.consistency:Consistency",
               {"loss.fairness_penalty": "trains on images, and fairness groups are columns of a table",
                "fairness.max_gap": "trains on images, and fairness groups are columns of a table"}),
    MethodSpec("contrastive", "pretrain=contrastive", "SimCLR: two views of an image agree (NT-Xent)",
               "bmrun.methods.pretext:Pretext", _PRETEXT_REFUSES),
    MethodSpec("autoencoder", "pretrain=autoencoder", "masked patches reconstructed by a decoder",
               "bmrun.methods.pretext:Pretext", _PRETEXT_REFUSES),
)}


def method_name(config) -> str:
    """The learning method a config selects (pretraining wins; validation refuses both at once)."""
    if config.pretrain.name != "none":
        return config.pretrain.name
    if config.trainer.semi_supervised != "none":
        return config.trainer.semi_supervised
    return "supervised"


def check_options(config) -> None:
    """Refuse an option the config's method does not support, with one line naming both.

    Raises:
        ConfigError: Keyed on the option, naming the method and the setting that chose it.
    """
    spec = METHODS[method_name(config)]
    for key, option in OPTIONS.items():
        if not spec.supports(key) and option.active(config):
            raise ConfigError(key, f"{option.label} cannot be used with the {spec.name} method "
                                   f"({spec.chosen_by}), which {spec.refuses[key]}. Drop {key}, or train "
                                   f"another method.")


def matrix_markdown() -> str:
    """The option x method table of the docs (Markdown), from the same declarations validation uses."""
    names = list(METHODS)
    lines = ["| option | key | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for key, option in OPTIONS.items():
        marks = ["yes" if METHODS[name].supports(key) else "refused" for name in names]
        lines.append(f"| {option.label} | `{key}` | " + " | ".join(marks) + " |")
    chosen = ", ".join(f"{spec.name}: `{spec.chosen_by}`" for spec in METHODS.values())
    return "\n".join(lines) + f"\n\nMethods are chosen by: {chosen}.\n"
