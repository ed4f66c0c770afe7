"""``model=multimodal``: one encoder per modality of a table, fused before the task's head.

For ``data=csv`` tables with image and/or text columns (:mod:`bmrun.data.csv_modalities`). Each
image column goes through ``model.encoders.image`` (``cnn``, ``transformer`` or any registered
family that reads images, a plugin's included: its model minus its head), each text column
through ``model.encoders.text`` (``bag`` of words, ``rnn`` or ``transformer``), the table's
other columns through the usual column encoding and a dense layer. Each encoder's output is
projected to a token of ``model.width``; ``model.fusion=concat`` joins the tokens,
``attention`` lets them attend to each other (one self-attention layer over the modality
tokens), and dense layers make the features the head reads. Layers live in
:mod:`bmrun.models.fusion` (Keras); this module imports no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

from bmrun.errors import ConfigError
from bmrun.models.family import Family, ModelConfig
from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.specs import IMAGE, MULTIMODAL
from bmrun import registry

TEXT_ENCODERS = ("bag", "rnn", "transformer")


@dataclass
class MultimodalConfig(ModelConfig):
    """``model=multimodal``.

    Attributes:
        encoders: ``image``: a family reading images (``cnn``, ``transformer``, a plugin), with
            its default keys; ``text``: ``bag``, ``rnn`` or ``transformer``.
        fusion: ``concat`` (the tokens side by side) or ``attention`` (self-attention over them).
        width: Width of each modality's token.
        hidden_dims: Dense layers after the fusion.
        num_heads: Attention heads (``fusion=attention``).
        dropout_rate: Dropout after the fusion's dense layers.
    """

    encoders: Dict[str, str] = field(default_factory=lambda: {"image": "cnn", "text": "bag"})
    fusion: str = "concat"
    width: int = 64
    hidden_dims: list = field(default_factory=lambda: [128])
    num_heads: int = 4
    dropout_rate: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        self.encoders = {"image": "cnn", "text": "bag", **{str(k): str(v) for k, v in dict(self.encoders).items()}}
        self.hidden_dims = [int(d) for d in self.hidden_dims]
        unknown = sorted(set(self.encoders) - {"image", "text"})
        if unknown:
            raise ConfigError("encoders", f"has keys for image and text columns, not {', '.join(unknown)} (the "
                                          f"table's other columns always use the column encoding)")
        choice("encoders.text", self.encoders["text"], TEXT_ENCODERS)
        choice("fusion", self.fusion, ("concat", "attention"))
        at_least("width", self.width, 1)
        at_least("num_heads", self.num_heads, 1)
        for width in self.hidden_dims:
            at_least("hidden_dims", width, 1)
        in_unit_interval("dropout_rate", self.dropout_rate)


def checks(config, task, inputs) -> None:
    """The image encoder must be a family that reads images."""

    name = config.model.encoders["image"]
    try:
        entry = registry.model(name)
    except Exception as error:  # the registry's own message names the known families
        raise ConfigError("model.encoders.image", f"{name!r} is no model family: {error}") from None
    if name == "multimodal" or (entry.accepts is not None and IMAGE not in entry.accepts):
        raise ConfigError("model.encoders.image", f"model={name} does not read images; use cnn, transformer or a "
                                                  f"plugin family that reads images.")


def body(x, config: MultimodalConfig, inputs):
    """The fused features of a table's modalities (``x``: its raw inputs and fitted columns)."""
    # bmrun.models.fusion loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models.fusion import fused_features

    return fused_features(x, config)


FAMILY = Family(name="multimodal", config=MultimodalConfig, accepts=frozenset({MULTIMODAL}),
                how="tables with image and text columns (data=csv data.images=[...] data.text=[...])",
                body=body, checks=checks)
