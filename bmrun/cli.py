"""The ``bmrun`` console script.

Kept tiny on purpose: ``bmrun --help`` is answered from the config files alone (no Hydra, no
TensorFlow), and everything else is handed to the Hydra application in :mod:`bmrun.app`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bmrun.errors import BmrunError, RunDirError


def _prepare_resume_argv(argv: list[str]) -> list[str]:
    """``resume=DIR`` continues in DIR: point Hydra's run dir there and leave DIR/.hydra alone."""
    resume = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    if not resume or resume[-1] in ("", "null"):
        return argv
    run_dir = Path(resume[-1]).expanduser()
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(f"resume={resume[-1]}: not a bmrun run dir (no config.yaml there). Pass the folder of "
                          f"an earlier run, e.g. outputs/<date>/<time>.")
    extra = [f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]
    return argv + [e for e in extra if not any(a.startswith(e.split("=")[0] + "=") for a in argv)]


def _check_output_dir(argv: list[str]) -> None:
    """Fail before Hydra does (with a traceback) when the run dir cannot be created."""
    multirun = "-m" in argv or "--multirun" in argv
    key = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    given = [a[len(key):] for a in argv if a.startswith(key)]
    template = given[-1] if given else ("outputs/multirun" if multirun else "outputs")
    static = Path(template.split("${", 1)[0] or ".").expanduser().absolute()
    probe = static
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise RunDirError(f"cannot create the run dir {template}: {probe} is a file, not a folder. Choose another "
                          f"place with {key}<dir>.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirError(f"cannot create the run dir {template}: {probe} is not writable. Run from a writable "
                          f"folder or pass {key}<writable dir>.")


def _worker_argv(argv: list[str]) -> list[str]:
    """Non-chief multi-worker processes write nothing under outputs/: Hydra's dir is a temp dir."""
    from bmrun.runtime.cluster import is_chief

    if is_chief():
        return argv
    import tempfile

    scratch = tempfile.mkdtemp(prefix="bmrun-worker-")
    return [a for a in argv if not a.startswith("hydra.run.dir=")] + [f"hydra.run.dir={scratch}",
                                                                       "hydra.output_subdir=null"]


def main() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    if "--help" in argv or "-h" in argv:
        from bmrun.help import print_help

        print_help()
        return
    try:
        sys.argv[1:] = _worker_argv(_prepare_resume_argv(argv))
        if not any(a.startswith("--cfg") or a in ("-c", "--info", "--hydra-help") for a in argv):
            _check_output_dir(sys.argv[1:])
    except BmrunError as error:
        from bmrun.console import print_error

        print_error(error.title, str(error))
        sys.exit(error.exit_code)
    from bmrun.app import hydra_entry

    hydra_entry()


if __name__ == "__main__":
    main()
