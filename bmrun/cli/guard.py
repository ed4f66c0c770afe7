"""What every console script does with errors: one paragraph and an exit code, never a traceback.

* :class:`~bmrun.errors.BmrunError` (bad input, missing file, unusable run dir): its paragraph
  on stderr, its exit code (``HYDRA_FULL_ERROR=1`` shows the traceback instead).
* A reader that closes the pipe early (``bmrun-report | head``): exit quietly, as ``cat`` does.
* Ctrl-C outside training (loading a model, reading files): exit 130 without a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable, TypeVar

from bmrun.errors import BmrunError, show_tracebacks
import argparse

T = TypeVar("T")


def _quiet_broken_pipe() -> None:
    """Point stdout at /dev/null so Python's flush at exit cannot raise a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def console_script(main: Callable[..., T]) -> Callable[..., T]:
    """Wrap a console script's ``main`` with bmrun's error-to-exit rules."""

    @functools.wraps(main)
    def guarded(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except BrokenPipeError:
            _quiet_broken_pipe()
            sys.exit(0)
        except BmrunError as error:
            if show_tracebacks():
                raise
            # bmrun.console brings rich: only when this runs, keeps --help light
            from bmrun.console import print_error

            print_error(error.title, str(error))
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            sys.exit(130)

    return guarded


def finished_run_parser(prog: str, description: str, example: str):
    """The argument parser of a script that works on a finished run (``bmrun-eval``, ``bmrun-predict``)."""

    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     epilog=f"example: {prog} outputs/2026-01-02/10-11-12-123456 {example}")
    parser.add_argument("run_dir", help="a finished run dir (holds config.yaml and model/model.keras)")
    return parser
