"""The ``fairness`` config group: a bound on the demographic-parity gap, met during training.

``fairness.max_gap=0.05`` with ``loss.fairness_group=<column>`` trains with a Lagrange
multiplier on the gap (:mod:`bmrun.fairness.constraint`): the user states the gap they accept
instead of a penalty weight. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from bmrun.errors import ConfigError
from bmrun.rules import at_least


@dataclass
class FairnessConfig:
    """``fairness.max_gap`` and how fast its multiplier moves.

    Attributes:
        max_gap: Largest demographic-parity difference (max − min selection rate over the groups
            of ``loss.fairness_group``) accepted on the validation split; null: no bound.
        multiplier_rate: Step of the multiplier's end-of-epoch update per unit of gap above the
            bound, relative to the bound (see :func:`bmrun.fairness.constraint.next_multiplier`).
            0.25: on Adult, 1.0 overshot (λ jumped after the first epoch and the best epoch
            meeting the bound was an early, less accurate one; BENCHMARKS.md).
    """

    name: str = "none"
    max_gap: Optional[float] = None
    multiplier_rate: float = 0.25

    def __post_init__(self) -> None:
        if self.max_gap is not None and not 0.0 < self.max_gap < 1.0:
            raise ConfigError("max_gap", f"is the largest demographic-parity gap accepted, a share in (0, 1); "
                              f"got {self.max_gap}")
        at_least("multiplier_rate", self.multiplier_rate, 0.0)
