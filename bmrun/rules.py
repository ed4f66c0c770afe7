"""Range and choice checks shared by every config schema; each raises ConfigError naming the key.

A foundation (it imports only :mod:`bmrun.errors`), so the schemas of models, datasets and the
config groups can all use it without importing :mod:`bmrun.config`.
"""

from __future__ import annotations

from bmrun.errors import ConfigError


def choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(key, f"{value!r} is not one of: {', '.join(choices)}")


def at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(key, f"must be >= {low}, got {value}")


def in_unit_interval(key: str, value: float, *, closed_top: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed_top else 0.0 <= value < 1.0
    if not ok:
        top = "1]" if closed_top else "1)"
        raise ConfigError(key, f"must be in [0, {top}, got {value}")
