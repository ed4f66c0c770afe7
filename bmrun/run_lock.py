"""``<run dir>/.lock``: one live process trains in a run dir at a time (part of the run-dir contract)."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from bmrun.errors import ArtifactWriteError, RunDirBusy

LOCK = ".lock"


class RunLock:
    """``<run dir>/.lock``: one live process trains in a run dir at a time.

    The lock file (created atomically with ``O_EXCL``) holds the owner's pid and host. A lock
    whose process is gone (same host, no such pid) is stale and taken over; a lock held by a
    live process, or by another host (which cannot be checked from here), is refused naming it.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.held = False

    def owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def owner_alive(self) -> bool:
        """Whether the recorded owner still runs (True when it cannot be told: another host)."""
        owner = self.owner()
        if not owner:
            return False
        if owner.get("host") != socket.gethostname():
            return True
        try:
            os.kill(int(owner.get("pid", -1)), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError, OverflowError):
            return True
        return True

    def acquire(self) -> "RunLock":
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self.owner_alive():
                    owner = self.owner() or {}
                    raise RunDirBusy(f"{self.path.parent} is being trained by process {owner.get('pid')} on "
                                     f"{owner.get('host')} (lock {self.path}). Wait for it to finish or stop it "
                                     f"(Ctrl-C saves a checkpoint); if that process is gone, delete the lock file.") from None
                self.path.unlink(missing_ok=True)  # stale: its owner died without cleaning up
                continue
            except OSError as error:
                raise ArtifactWriteError(self.path, error) from error
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(record)
            self.held = True
            return self
        raise RunDirBusy(f"{self.path}: another process keeps taking this run dir's lock.")

    def release(self) -> None:
        if self.held:
            owner = self.owner() or {}
            if owner.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
