"""What a task and an input are: the kinds, :class:`TaskSpec` and :class:`InputSpec` (no TensorFlow).

A foundation: the datasets produce these specs, the families and config checks read them, and
:mod:`bmrun.outputs` and :mod:`bmrun.fairness` decode outputs by task kind, so they live below
all of them. :mod:`bmrun.data.catalog` gives each dataset's specs (``describe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MULTICLASS, BINARY, REGRESSION = "multiclass", "binary", "regression"
IMAGE, TOKENS, SEQUENCE, TABULAR = "image", "tokens", "sequence", "tabular"
# One (user id, item id) pair per example, ids kept as strings; the recommender families map them
# to embedding rows themselves (see bmrun.data.ratings).
INTERACTIONS = "interactions"
# Raw inputs that the model encodes itself (data=csv): a dict of named columns (numbers with
# NaN for missing, strings for categories), or one string per example.
TABLE, TEXT = "table", "text"
# Text to text (data.target_text): one text in, one text out; the examples are token ids of both
# sides, {"source", "target_in"} (see bmrun.data.tokens), and the labels the target's ids.
SEQ2SEQ, TOKEN_PAIRS = "seq2seq", "token_pairs"


@dataclass(frozen=True)
class TaskSpec:
    """What the labels are.

    Attributes:
        kind: ``multiclass``, ``binary`` or ``regression``.
        num_classes: Classes of a multiclass task (2 for binary), else None.
        class_names: Human names for the classes, if any.
    """

    kind: str
    num_classes: Optional[int] = None
    class_names: Optional[tuple[str, ...]] = None

    @property
    def is_classification(self) -> bool:
        return self.kind in (MULTICLASS, BINARY)

    @property
    def num_outputs(self) -> int:
        """Width of the model's last layer: one logit per class, one for binary or regression."""
        return self.num_classes if self.kind in (MULTICLASS, SEQ2SEQ) else 1


@dataclass(frozen=True)
class InputSpec:
    """What one example looks like.

    Attributes:
        kind: ``image`` (H, W, C), ``tokens`` (length,), ``sequence`` (steps, features),
            ``tabular`` (features,), ``table`` (a dict of raw columns; shape: (columns,)),
            ``text`` (one raw string; shape: (tokens,) after the model's own vectorisation) or
            ``interactions`` ((2,): a user id and an item id, as strings).
        shape: Shape of one example, without the batch axis.
        vocab_size: Token vocabulary size (``tokens`` only).
    """

    kind: str
    shape: tuple[int, ...]
    vocab_size: Optional[int] = None
