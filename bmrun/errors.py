"""Errors that reach the user as one clear paragraph instead of a traceback.

Everything bmrun raises on purpose derives from :class:`BmrunError`. The CLI catches these,
prints ``str(error)`` and exits with ``error.exit_code``; anything else is a bug and keeps its
traceback (``HYDRA_FULL_ERROR=1`` shows tracebacks for ours too).
"""

from __future__ import annotations

import os
import signal


def show_tracebacks() -> bool:
    """``HYDRA_FULL_ERROR=1``: let bmrun's own errors (and broken plugins) keep their tracebacks.
    The one place the variable is read."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


class BmrunError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug.

    Every subclass is built from what it knows and says all of it in ``str(error)``; what a run
    records of it in metrics.json is :meth:`record` (``status`` and the error's own fields), so no
    caller branches on the class to describe it.
    """

    exit_code = 2
    title = "error"
    status = "failed"  # the run's status in metrics.json when this error stops it

    def record(self) -> dict:
        """metrics.json fields of a run this error stopped."""
        return {"status": self.status, "error": str(self)}


def failure_record(error: BaseException) -> dict:
    """metrics.json fields of a run stopped by ``error`` (a bug's: its type and message)."""
    if isinstance(error, BmrunError):
        return error.record()
    return {"status": "failed", "error": f"{type(error).__name__}: {error}"}


class ConfigError(BmrunError):
    """A config value is out of range or config groups do not fit together."""

    title = "config error"

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


class DataError(BmrunError):
    """A dataset is missing, corrupt or cannot be read."""

    title = "data error"


class RunDirError(BmrunError):
    """The output or resume directory cannot be used."""

    title = "run directory error"


class DivergedError(BmrunError):
    """The loss became NaN or infinite at ``step``."""

    title = "training diverged"
    exit_code = 3
    status = "diverged"

    def __init__(self, step: int, last_checkpoint: str | None):
        self.step = step
        self.last_checkpoint = last_checkpoint
        kept = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was written yet"
        super().__init__(
            f"the loss became NaN or infinite at step {step}; training stopped and {kept}. Lower the learning "
            f"rate (e.g. optimizer.lr=<a tenth of the current one>) or clip gradients (optimizer.clip_norm=1.0).")

    def record(self) -> dict:
        return {**super().record(), "step": self.step, "last_checkpoint": self.last_checkpoint}


class TrainingInterrupted(BmrunError):
    """SIGINT or SIGTERM arrived; a checkpoint was saved before raising."""

    title = "interrupted"
    status = "interrupted"

    def __init__(self, signum: int, message: str):
        self.signum = signum
        self.exit_code = 128 + int(signum)
        self.signal_name = signal.Signals(signum).name
        super().__init__(message)

    def record(self) -> dict:
        return {**super().record(), "signal": self.signal_name}


class RunAlreadyFinished(RunDirError):
    """``resume=`` of a run that already trained its whole budget: nothing to do, nothing touched."""


class RunDirBusy(RunDirError):
    """Another live process owns the run dir (its lock names the process)."""

    title = "run directory in use"


class ArtifactWriteError(BmrunError):
    """Writing a run artifact failed (disk full, I/O error, read-only file system)."""

    title = "write error"
    exit_code = 4

    def __init__(self, path, error: OSError | Exception):
        self.path = str(path)
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        reason = getattr(error, "strerror", None) or text
        super().__init__(f"could not write {path}: {reason}. The run stopped; its previous checkpoint and "
                         f"metrics.json are intact. Free some space (or fix the folder) and continue with "
                         f"bmrun resume=<run dir>.")

    def record(self) -> dict:
        return {**super().record(), "failed_path": self.path}
