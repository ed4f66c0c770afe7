"""Kept only for ``bmrun/pretrain/config.py``'s import: the checks live in :mod:`bmrun.rules`.

Delete this module once that line imports :mod:`bmrun.rules` (it goes with ``bmrun.methods``).
"""

from bmrun.rules import at_least, choice, in_unit_interval

__all__ = ["at_least", "choice", "in_unit_interval"]
