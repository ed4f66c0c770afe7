"""BENCHMARKS.md sections that scripts rewrite, and the machine line each measurement carries.

A script owns the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; everything
else in BENCHMARKS.md is written by hand and left alone.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    """CPU model and the cores this process may use, e.g. ``AMD EPYC 9R14, 2 cores``."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def read_section(name: str, path: Path = REPO / "BENCHMARKS.md") -> str:
    """The text of section ``name`` of BENCHMARKS.md ('' when there is none)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = path.read_text()
    return content.split(begin, 1)[1].split(end, 1)[0] if begin in content else ""


def write_section(name: str, title: str, text: str, path: Path = REPO / "BENCHMARKS.md") -> None:
    """Replace section ``name`` of BENCHMARKS.md with ``text`` (appended under ``title`` if new)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    content = path.read_text()
    block = f"{begin}\n{text}\n{end}"
    if begin in content:
        head, rest = content.split(begin, 1)
        content = head + block + rest.split(end, 1)[1]
    else:
        content += f"\n## {title}\n\n{block}\n"
    path.write_text(content)
