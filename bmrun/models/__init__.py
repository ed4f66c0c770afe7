"""Model families: one module per family (``linear``, ``mlp``, ``cnn``, ``rnn``, ``transformer``,
``custom``), found through :mod:`bmrun.registry`.

Importing this package (or a family module) is cheap: Keras is imported only when a model is
built.
"""

from __future__ import annotations

from typing import Any

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
