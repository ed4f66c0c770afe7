"""``bmrun --help``: config groups, their options and what each does, read from ``conf/``.

Hydra's own help composes every group of every option (seconds); this reads file names and
each file's first comment line instead, so it answers in a few milliseconds.
"""

from __future__ import annotations

from pathlib import Path

from bmrun.config.paths import packaged_config_dir

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
  bmrun                                          CNN on the bundled digits (offline, ~13 s)
  bmrun model=cnn data=fashion_mnist trainer.max_epochs=2
  bmrun -m optimizer.lr=1e-3,1e-2 model=linear,cnn
  bmrun experiment=fashion_cnn_fast
  tensorboard --logdir outputs

Each run writes outputs/<date>/<time>/ (sweeps: outputs/multirun/...): config.yaml,
metrics.json, history.csv, tensorboard/, checkpoints/, model/.
"""

_HIDDEN = {"hydra", "schema"}


def config_dir() -> str:
    """bmrun's own ``conf/`` folder (see :mod:`bmrun.config.paths`)."""
    return packaged_config_dir()


def _summary(path: Path) -> str:
    """The first comment line of a config file that is not a ``@package`` directive."""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("#"):
            if line:
                break
            continue
        text = line.lstrip("#").strip()
        if text and not text.startswith("@package"):
            return text
    return ""


def groups() -> dict[str, dict[str, str]]:
    """``{group: {option: summary}}`` for every user-facing config group."""
    root = Path(config_dir())
    found: dict[str, dict[str, str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in _HIDDEN):
        options = {f.stem: _summary(f) for f in sorted(folder.glob("*.yaml"))}
        found[folder.name] = options
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
    """Group defaults from the primary config's defaults list (simple ``- group: option`` lines)."""
    chosen = {}
    for line in primary.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("- ") and ":" in line and "override" not in line:
            key, value = (part.strip() for part in line[2:].split(":", 1))
            chosen[key.replace("optional ", "")] = value
    return chosen
