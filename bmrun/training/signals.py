"""Graceful stop on SIGINT/SIGTERM: finish the current compiled call, checkpoint, exit.

Python runs signal handlers only between bytecodes, i.e. after the compiled call in flight
returns, so the first signal just records a request that the loop honours at the next call
boundary. The handler then restores the default action, so a second Ctrl-C kills the process
at once (the last checkpoint on disk stays loadable).
"""

from __future__ import annotations

import signal
import threading
from typing import Optional


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into a polled flag (main thread only)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self._previous: dict = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signum = signum
        for sig in self.SIGNALS:  # a second signal takes the default action: immediate exit
            signal.signal(sig, signal.SIG_DFL)

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self.signum is not None
