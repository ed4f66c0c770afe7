"""Refuse a bad ``bmrun`` command before Hydra creates (or opens) a run dir.

Hydra makes the run dir, its ``.hydra/`` and ``bmrun.log`` before the task runs, so a typo used
to leave a ``failed`` dir under ``outputs/``, and a refused ``resume=`` wrote into the very run
it refused. Here the command is composed and validated first (no TensorFlow; about half a
second): a :class:`~bmrun.errors.BmrunError` from this module means nothing was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

# Hydra flags that take a value; the others that matter are handled in `_overrides`.
_VALUED = ("--cfg", "-c", "--package", "-p")
# Flags after which bmrun's own composition would not be the one Hydra makes: Hydra answers.
_HANDS_OFF = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn", "--info", "-i",
              "--hydra-help", "--version", "--shell-completion", "-sc", "--run", "-r")


def _overrides(argv: list[str]) -> Optional[list[str]]:
    """The command's overrides, or None when a flag leaves the command to Hydra."""
    found, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif arg.split("=", 1)[0] in _HANDS_OFF:
            return None
        elif arg in ("-m", "--multirun"):
            continue
        elif not arg.startswith("-"):
            found.append(arg)
    return found


def check_command(argv: list[str]) -> None:
    """Compose and validate what ``bmrun ARGV`` would run; raise the first mistake.

    A single run is validated in full (and, for ``resume=DIR``, checked against that run: what
    may change, whether epochs are left, whether a live process owns it). A sweep and
    ``--cfg`` are composed only (each job of a sweep validates, and records, its own values).

    Raises:
        BmrunError: The one paragraph to print; nothing has been written anywhere.
    """
    overrides = _overrides(argv)
    if overrides is None:
        return
    # bmrun.config brings numpy, omegaconf: only when this runs, keeps --help light
    from bmrun.config import compose, validate

    if "-m" in argv or "--multirun" in argv:
        compose(_first_of_each_sweep(overrides))
        return
    if any(a in argv for a in _VALUED[:2]):  # --cfg job: print only
        compose(overrides)
        return
    resume = [o.split("=", 1)[1] for o in overrides if o.startswith("resume=")]
    if resume and resume[-1] not in ("", "null", "auto"):
        # bmrun.config.resume brings numpy, omegaconf: only when this runs, keeps --help light
        from bmrun.config.resume import check_resumable, config_for_resume

        cfg, _ = config_for_resume(Path(resume[-1]), overrides)
        check_resumable(Path(resume[-1]), validate(cfg))
        return
    validate(compose(overrides))


def _first_of_each_sweep(overrides: list[str]) -> list[str]:
    """One job of the sweep: each list or range at its first value (every group option checked)."""
    # Hydra: only when composing or parsing overrides, not for --help
    from hydra.core.override_parser.overrides_parser import OverridesParser

    # bmrun.config.compose brings numpy, omegaconf: only when this runs, keeps --help light
    from bmrun.config.compose import compose, config_groups, group_options

    single = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if not override.is_sweep_override():
            single.append(override.input_line)
            continue
        if not override.is_discrete_sweep():
            continue  # interval(...): a sweeper's range, no value to try
        values = list(override.sweep_string_iterator())
        key = override.get_key_element()
        if key in config_groups():
            for value in values[1:]:  # model=cnn,rnnn: the typo may be in any of them
                if value not in group_options(key):
                    compose([f"{key}={value}"])  # raises the one-line "did you mean"
        if values:
            single.append(f"{key}={values[0]}")
    return single
