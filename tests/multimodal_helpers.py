"""Helpers of the multimodal tests: the synthetic table and ``model=multimodal``'s entry point.

The table writer is the benchmark's (``benchmarks/multimodal_table.py``). A checkout whose
installed metadata predates ``model=multimodal`` (an editable install made before it existed)
gets the entry point from a fake ``bmrun`` distribution declaring this checkout's entry points.
"""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import REPO, fake_distribution, use_site

if str(REPO / "benchmarks") not in sys.path:
    sys.path.insert(0, str(REPO / "benchmarks"))

from multimodal_table import write_table  # noqa: E402  (benchmarks/ is no package)

__all__ = ["write_table", "ensure_registered"]


def ensure_registered(site: Path) -> None:
    """Make ``model=multimodal`` known to the registry in this process (no-op when installed)."""
    from bmrun import registry

    if "multimodal" in registry.declared("model"):
        return
    text = (REPO / "pyproject.toml").read_text()
    points = {}
    for group in ("bmrun.models", "bmrun.datasets"):
        block = text.split(f'[project.entry-points."{group}"]')[1].split("\n[")[0]
        points[group] = {key.strip(): value.strip().strip('"') for key, value in
                         (line.split("=", 1) for line in block.strip().splitlines() if "=" in line)}
    use_site(fake_distribution(site, "bmrun", points))
