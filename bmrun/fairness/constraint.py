"""Fairness as a constraint: the multiplier's update and the best-epoch rule (no TensorFlow).

``fairness.max_gap=b`` trains the Lagrangian ``loss + λ × gap`` of "minimise the loss subject
to gap ≤ b", where gap is the batch's demographic-parity term of :mod:`bmrun.fairness.penalty`.
λ is a dual variable updated once per epoch from the *validation* gap (the thresholded
demographic-parity difference the evaluator already reports):

    λ ← max(0, λ + rate × (gap_val − b) / b)

so λ rises while the bound is missed (faster the further it is missed) and falls back towards 0
while it is met with room to spare: the model pays for fairness only as much as the bound needs.
Dividing by ``b`` makes the step the relative miss, so one ``rate`` suits 0.2 and 0.02 alike.

Best epoch under a bound: an epoch whose validation gap meets the bound beats every epoch that
misses it; between two that both meet it (or both miss it), ``trainer.early_stopping.monitor``
decides as usual. The tested model is thus the most accurate epoch meeting the bound on
validation, and the best unconstrained-looking epoch only when none meets it.
"""

from __future__ import annotations

from typing import Any, Optional

GAP = "demographic_parity_difference"


def next_multiplier(current: float, gap: float, bound: float, rate: float) -> float:
    """λ after an epoch whose validation gap was ``gap`` (never below 0)."""
    return max(0.0, current + rate * (gap - bound) / bound)


def meets(gap: Optional[float], bound: float) -> bool:
    """Whether a measured gap meets the bound (an unmeasured one does not)."""
    return gap is not None and gap <= bound


def improves(*, feasible: bool, best_feasible: bool, better: bool, first: bool) -> bool:
    """Whether an epoch replaces the best one under a bound.

    Args:
        feasible: The epoch's validation gap meets the bound.
        best_feasible: The best epoch so far met it.
        better: The monitor prefers the epoch (the rule without a bound).
        first: No best epoch yet.
    """
    if first or feasible != best_feasible:
        return first or feasible
    return better


def gap_of(reports: dict[str, Any], column: Optional[str]) -> Optional[float]:
    """The demographic-parity gap of ``column`` in one split's fairness reports (None if absent)."""
    value = reports.get(column, {}).get(GAP)
    return None if value is None else float(value)
