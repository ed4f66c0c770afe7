"""Where a run's wall time goes: start-up, device, data and model, training, test, export.

``metrics.json`` records these phases under ``timings`` so that "the run took 24 s" can be
split into what the recipe costs (training) and what the tool costs (start-up, export) —
the figure time-to-accuracy work needs.
"""

from __future__ import annotations

import os
import time
from typing import Optional


def process_age_s() -> Optional[float]:
    """Seconds since this process started (from the shell prompt's point of view), Linux only."""
    try:
        with open("/proc/self/stat") as stat:
            # Field 22 is the start time in clock ticks since boot; the command name (field 2)
            # may contain spaces, so split after its closing parenthesis.
            started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as uptime:
            since_boot = float(uptime.read().split()[0])
        return max(0.0, since_boot - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


class Phases:
    """Consecutive named laps of one stopwatch, e.g. ``device`` then ``build`` then ``train``."""

    def __init__(self) -> None:
        self.started_at_age = process_age_s()
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Close the phase called ``name``: the time since the previous lap (or the start)."""
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now

    def record(self) -> dict[str, float]:
        """``timings`` for metrics.json: ``startup_s`` (process start to training code), each lap."""
        out = {f"{name}_s": round(seconds, 3) for name, seconds in self.laps.items()}
        if self.started_at_age is not None:
            out = {"startup_s": round(self.started_at_age, 3), **out}
        return out
