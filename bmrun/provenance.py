"""Where a run came from: the software versions, the host and the code's git commit.

Recorded in metrics.json (``environment``) so a result can be traced back and reproduced. Read
from package metadata and one ``git`` call: nothing imported, nothing slow.
"""

from __future__ import annotations

import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Optional


def _version(package: str) -> Optional[str]:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit(folder: Path) -> Optional[dict[str, Any]]:
    """The commit checked out in ``folder`` and whether files differ from it; None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                                capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):  # no git installed, or a hung file system
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment(folder: Optional[Path] = None) -> dict[str, Any]:
    """metrics.json's ``environment``: versions, host and the git commit of ``folder`` (default: cwd).

    Returns:
        ``{"bmrun", "tensorflow", "keras", "python", "platform", "host", "git"}``; a package that
        is not installed is None, and so is ``git`` outside a repository.
    """
    return {"bmrun": _version("bmrun"), "tensorflow": _version("tensorflow"), "keras": _version("keras"),
            "python": platform.python_version(), "platform": platform.platform(), "host": socket.gethostname(),
            "git": git_commit(Path(folder) if folder is not None else Path.cwd())}
