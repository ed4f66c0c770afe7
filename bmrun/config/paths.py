"""Where bmrun's own config files are: inside the installed wheel, else the source checkout."""

from __future__ import annotations

from pathlib import Path


def packaged_config_dir() -> str:
    """``conf/`` inside the installed package (wheel), else the source checkout's ``conf/``."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "conf"
    if packaged.is_dir():
        return str(packaged)
    return str(package.parent / "conf")
