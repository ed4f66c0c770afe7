"""The ``bmrun`` console script.

Kept tiny on purpose: ``bmrun --help`` is answered from the config files alone (no Hydra, no
TensorFlow), and everything else is handed to the Hydra application in :mod:`bmrun.cli.app`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bmrun.cli.guard import console_script
from bmrun.run_dir import create_run_dir, require_run_dir
from bmrun.runtime.cluster import is_chief
import tempfile


def _prepare_resume_argv(argv: list[str]) -> list[str]:
    """``resume=DIR`` continues in DIR: point Hydra's run dir there and leave DIR/.hydra alone."""
    resume = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    if not resume or resume[-1] in ("", "null", "auto"):  # auto: decided per job dir (bmrun.config.resume)
        return argv
    run_dir = require_run_dir(resume[-1], "resume")
    extra = [f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]
    return argv + [e for e in extra if not any(a.startswith(e.split("=")[0] + "=") for a in argv)]


def _check_output_dir(argv: list[str]) -> None:
    """Fail before Hydra does (with a traceback) when the run dir cannot be created.

    The part of the dir template before any ``${...}`` is made for real: only ``mkdir`` knows
    (root passes every permission check, ``/proc`` refuses, a file may be in the way).
    """
    multirun = "-m" in argv or "--multirun" in argv
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = [a[len(key) + 1:] for a in argv if a.startswith(key + "=")]
    template = given[-1] if given else ("outputs/multirun" if multirun else "outputs")
    static = template.split("${", 1)[0]
    if static.rstrip("/"):
        create_run_dir(Path(static), key)


def _worker_argv(argv: list[str]) -> list[str]:
    """Non-chief multi-worker processes write nothing under outputs/: Hydra's dir is a temp dir."""

    if is_chief():
        return argv

    scratch = tempfile.mkdtemp(prefix="bmrun-worker-")
    return [a for a in argv if not a.startswith("hydra.run.dir=")] + [f"hydra.run.dir={scratch}",
                                                                       "hydra.output_subdir=null"]


@console_script
def main() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    if argv[:1] == ["--completion"]:  # bmrun --completion bash|zsh|fish: the script, words built in
        # here, not at the top: bmrun.cli.completion imports this module
        from bmrun.cli.completion import script

        print(script(argv[1] if len(argv) > 1 else "bash"), end="")
        return
    if "--help" in argv or "-h" in argv:
        # here, not at the top: bmrun.cli.help imports this module
        from bmrun.cli.help import print_help

        chosen = [a.split("=", 1) for a in argv if "=" in a and "." not in a.split("=", 1)[0]]
        if chosen:  # bmrun model=rnn --help: that option's keys
            # here, not at the top: bmrun.cli.help imports this module
            from bmrun.cli.help import print_option_help

            for group, option in chosen:
                print_option_help(group, option)
        else:
            print_help()
        return
    # here, not at the top: bmrun.cli.preflight imports this module
    from bmrun.cli.preflight import check_command
    from bmrun.config.migrate import current_names

    argv = current_names(argv)  # renamed family keys (model.hidden_dims): noted once, then the new name
    check_command(argv)  # a mistake is refused here, before Hydra makes or opens any run dir
    sys.argv[1:] = _worker_argv(_prepare_resume_argv(argv))
    if not any(a.startswith("--cfg") or a in ("-c", "--info", "--hydra-help") for a in argv):
        _check_output_dir(sys.argv[1:])
    # here, not at the top: bmrun.cli.app imports this module
    from bmrun.cli.app import hydra_entry

    hydra_entry()


if __name__ == "__main__":
    main()
