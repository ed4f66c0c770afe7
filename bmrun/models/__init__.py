"""Model families: one module per family (``linear``, ``mlp``, ``cnn``, ``rnn``, ``transformer``,
``custom``), found through :mod:`bmrun.registry`.

Every model is a backbone (raw inputs to features) and a head: :func:`backbone`, :func:`features`
and :func:`with_head` give a model's backbone, its features and the same backbone under another
head (see :mod:`bmrun.models.backbones`).

Importing this package (or a family module) is cheap: Keras is imported only when a model is
built.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from bmrun import registry


def build_model(model_cfg: Any, data: Any):
    """Build the Keras model named by ``model_cfg.name`` for prepared data.

    Args:
        model_cfg: Validated ``model`` config (the family's dataclass).
        data: :class:`bmrun.data.arrays.PreparedData` giving input/task specs and statistics.

    Returns:
        An unbuilt-optimizer Keras model taking raw examples and returning logits (or values).
    """
    return registry.model(model_cfg.name).build(model_cfg, data)


# The three below import Keras when called, not when this package is imported.

def backbone(model):
    """The model's backbone as a Keras model: :func:`bmrun.models.backbones.backbone`."""
    # here, not at the top: bmrun.models imports this module
    from bmrun.models import backbones

    return backbones.backbone(model)


def features(model):
    """The features the model's head reads: :func:`bmrun.models.backbones.features`."""
    # here, not at the top: bmrun.models imports this module
    from bmrun.models import backbones

    return backbones.features(model)


def with_head(model, head: Callable, *, keep_outputs: bool = False, name: Optional[str] = None):
    """The model's backbone under another head: :func:`bmrun.models.backbones.with_head`."""
    # here, not at the top: bmrun.models imports this module
    from bmrun.models import backbones

    return backbones.with_head(model, head, keep_outputs=keep_outputs, name=name)
