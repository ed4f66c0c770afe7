"""``bmrun --help``: config groups, their options and what each does, read from ``conf/``.

Hydra's own help composes every group of every option (seconds); this reads file names and
each file's first comment line instead, plus the installed plugins' entry-point metadata (their
modules are not imported), so it answers in well under a second without TensorFlow.
"""

from __future__ import annotations

import re
from pathlib import Path

from bmrun.config.paths import packaged_config_dir
from bmrun import registry
from bmrun.errors import ConfigError
from bmrun.config.compose import closest

USAGE = """\
bmrun: train basic models (linear, MLP, CNN, RNN, Transformer) in a compiled TensorFlow loop.

Usage:
  bmrun [GROUP=OPTION ...] [KEY=VALUE ...]     one run, e.g. bmrun model=cnn data=fashion_mnist
  bmrun -m KEY=V1,V2 GROUP=A,B ...              a sweep over every combination
  bmrun resume=<run dir> [KEY=VALUE ...]        continue an interrupted run in its own dir
  bmrun --cfg job [overrides]                   print the composed config and exit
  bmrun --hydra-help                            Hydra's own flags (launchers, sweepers, ...)
"""

FOOTER = """\
Common keys: data.path data.limit data.batch_size optimizer.lr trainer.max_epochs
             trainer.deterministic seed device.precision device.xla verbose=1

Examples:
  bmrun                                          CNN on the bundled digits (offline)
  bmrun model=cnn data=fashion_mnist trainer.max_epochs=2
  bmrun -m optimizer.lr=1e-3,1e-2 model=linear,cnn
  bmrun experiment=fashion_cnn_fast
  tensorboard --logdir outputs

Each run writes outputs/<date>/<time>/ (sweeps: outputs/multirun/...): config.yaml,
metrics.json, history.csv, tensorboard/, checkpoints/, model/.
"""

_HIDDEN = {"hydra", "schema"}
_LONG = 200  # characters: a summary longer than this keeps only its whole sentences that fit


def config_dir() -> str:
    """bmrun's own ``conf/`` folder (see :mod:`bmrun.config.paths`)."""
    return packaged_config_dir()


def _summary(path: Path) -> str:
    """The first sentence of a config file's first comment (not a ``@package`` directive), whole.

    A sentence that runs onto the next comment lines is joined, never cut.
    """
    parts: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("#"):
            if line or parts:
                break
            continue
        text = line.lstrip("#").strip()
        if text.startswith("@package"):
            continue
        if not text:
            if parts:
                break
            continue
        parts.append(text)
        if text.endswith("."):
            break
    summary = " ".join(parts)
    if len(summary) > _LONG:  # a paragraph: its whole sentences that fit, at least the first
        ends = [m.end() for m in re.finditer(r"[.;](?=\s)", summary)]
        fitting = [end for end in ends if end <= _LONG] or ends[:1]
        summary = summary[:fitting[-1]].rstrip(";") + ("" if summary[fitting[-1] - 1] == "." else ".") if fitting else summary
    return summary


def groups() -> dict[str, dict[str, str]]:
    """``{group: {option: summary}}`` for every user-facing config group, plugins included."""
    root = Path(config_dir())
    found: dict[str, dict[str, str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in _HIDDEN):
        options = {f.stem: _summary(f) for f in sorted(folder.glob("*.yaml"))}
        found[folder.name] = options
    for group, options in plugins().items():
        found.setdefault(group, {}).update({k: v for k, v in options.items() if k not in found[group]})
    return found


def plugins() -> dict[str, dict[str, str]]:
    """``{group: {option: summary}}`` of the options installed packages add (metadata only)."""

    found: dict[str, dict[str, str]] = {}
    for group in registry.GROUPS:
        try:
            claims = registry.declared(group)
        except ConfigError:  # bmrun itself not installed: the conf/ listing is all there is
            continue
        for name, declared in claims.items():
            if not any(c.builtin for c in declared):
                packages = " and ".join(sorted({c.package for c in declared}))
                found.setdefault(group, {})[name] = f"plugin: {declared[0].value} (package {packages})"
    return found


def print_help() -> None:
    lines = [USAGE, "Config groups (GROUP=OPTION; default marked *):"]
    defaults = _defaults(Path(config_dir()) / "train.yaml")
    for group, options in groups().items():
        lines.append(f"  {group}")
        for option, summary in options.items():
            mark = "*" if defaults.get(group) == option else " "
            lines.append(f"    {mark}{option:<22} {summary}")
        if not options:
            lines.append("     (none yet)")
    lines += ["", FOOTER]
    print("\n".join(lines))


def _defaults(primary: Path) -> dict[str, str]:
    """Group defaults from the primary config's defaults list (``- group: option`` entries)."""
    import yaml  # PyYAML, which OmegaConf depends on: no extra import cost worth measuring

    chosen = {}
    for item in yaml.safe_load(primary.read_text(encoding="utf-8")).get("defaults", []):
        if not isinstance(item, dict):
            continue  # _self_, a schema name
        for key, value in item.items():
            words = str(key).split()
            if words[0] == "override" or value is None:
                continue
            chosen[words[-1]] = str(value)
    return chosen


def print_option_help(group: str, option: str) -> None:
    """``bmrun GROUP=OPTION --help``: the option's summary and its keys (type, default, help).

    Raises:
        ConfigError: No such group or option (naming the closest one).
    """

    options = groups()
    if group not in options:
        hint = closest(group, options)
        raise ConfigError(group, f"no such config group{f'; did you mean {hint}?' if hint else ''} "
                                 f"(bmrun --help lists them)")
    if option not in options[group]:
        hint = closest(option, options[group])
        raise ConfigError(f"{group}={option}", f"no such option{f'; did you mean {group}={hint}?' if hint else ''} "
                                               f"The {group} options are: {', '.join(options[group])}.")
    # bmrun.cli.keys brings yaml: only when this runs, keeps --help light
    from bmrun.cli.keys import print_keys

    if group in ("experiment", "debug", "hparams_search"):  # presets set other groups' keys: show the file
        print(f"{group}={option}: {options[group][option]}")
        path = Path(config_dir()) / group / f"{option}.yaml"
        if path.is_file():
            print(path.read_text(encoding="utf-8"))
        return
    print_keys(group, option, options[group][option])
