"""Every run dir under some folders, read once and remembered in an index beside them.

A run is what a run dir's ``config.yaml`` and ``metrics.json`` say (the run-dir contract,
:mod:`bmrun.run_dir`). Reading ten thousand YAML files takes seconds, so each searched root
keeps ``.bmrun-runs.json``: per run dir, the sizes and mtimes of those two files and what was
read from them. A later call stats the files and reads again only the run dirs whose stamp
changed (new, resumed, finished). The index is written with an atomic replace, so two
processes indexing the same root at once each leave a whole, valid file (the last one wins).

Configs of one project differ in a few keys, so the index stores one ``base`` config and, per
run, only the keys whose value differs (``delta``) or that it lacks (``absent``). That keeps
the file small enough to load in well under a second, and tells the table which keys differ.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml  # PyYAML comes with OmegaConf

from bmrun.run_dir import CONFIG, METRICS, atomic_write
from bmrun.errors import ArtifactWriteError

INDEX = ".bmrun-runs.json"
_VERSION = 1
SPLITS = ("test", "val", "train")
# Columns every run has; a config key with one of these names is shown as ``config.<name>``.
FIELDS = ("run", "status", "date", "duration_s", "epochs", "objective", "objective_key")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser, where PyYAML has it: BENCHMARKS.md, "Comparing runs"


def number(value: Any) -> Optional[float]:
    """A float from a metrics.json value, the strings ``nan``/``inf`` included (how
    :func:`bmrun.run_dir.write_metrics` stores non-finite floats); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
        return float(value)
    return None


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"name": "cnn"}}`` -> ``{"model.name": "cnn"}``; lists become their text."""
    flat: dict[str, Any] = {}
    if isinstance(node, Mapping):
        for key, value in node.items():
            name = f"{prefix}{key}"
            if not prefix and name in FIELDS:
                name = f"config.{name}"
            if isinstance(value, Mapping) and value:
                flat.update(flatten(value, name + "."))
            else:
                flat[name] = value if isinstance(value, (str, int, float, bool, type(None))) else json.dumps(value)
    return flat


@dataclass
class Run:
    """One run dir as the table sees it.

    Attributes:
        path: The run dir.
        status: ``completed``, ``failed``, ... from metrics.json; ``unreadable`` when a file is
            truncated or corrupt (``error`` says which and why); ``missing`` without metrics.json.
        date: When it started (config.yaml's mtime, seconds since the epoch).
        metrics: The scalar metrics as ``test.accuracy``, ``val.loss``, ...
        base, delta, absent: Its flat config: ``base`` with ``delta`` over it, less ``absent``.
    """

    path: str
    status: str
    date: Optional[float] = None
    duration_s: Optional[float] = None
    epochs: Optional[int] = None
    objective_key: Optional[str] = None
    objective: Optional[float] = None
    metrics: dict = field(default_factory=dict)
    base: Mapping = field(default_factory=dict, repr=False)
    delta: dict = field(default_factory=dict)
    absent: tuple = ()
    error: Optional[str] = None

    def config(self, key: str, default: Any = None) -> Any:
        if key in self.delta:
            return self.delta[key]
        return default if key in self.absent else self.base.get(key, default)

    def config_keys(self) -> set[str]:
        return (set(self.base) | set(self.delta)) - set(self.absent)

    def flat_config(self) -> dict[str, Any]:
        return {key: self.config(key) for key in sorted(self.config_keys())}

    def get(self, key: str) -> Any:
        """A field, a metric (``test.accuracy`` or ``test/accuracy``) or a config key."""
        if key in FIELDS:
            return self.path if key == "run" else getattr(self, key)
        dotted = key.replace("/", ".")
        if dotted in self.metrics:
            return self.metrics[dotted]
        return self.config(key)

    def has(self, key: str) -> bool:
        return key in FIELDS or key.replace("/", ".") in self.metrics or key in self.config_keys()


# ----------------------------------------------------------------------------- finding run dirs
def is_run_dir(here: Path, names: Iterable[str]) -> bool:
    """A folder holding ``config.yaml`` or ``metrics.json``, or a Hydra job's ``.hydra/overrides.yaml``
    (a sweep job that failed before it wrote either is still one of the sweep's runs)."""
    names = set(names)
    return CONFIG in names or METRICS in names or (".hydra" in names and (here / ".hydra" / "overrides.yaml").is_file())


def natural_key(path: Path) -> list:
    """Order ``2`` before ``10``: Hydra numbers jobs, and text order would scramble them."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]


def find_run_dirs(root: Path) -> list[Path]:
    """Every run dir under ``root`` (``root`` included), in natural order of their paths.

    The walk enters neither run dirs (their checkpoints and event files hold no other runs) nor
    hidden folders such as ``.hydra`` and ``.submitit``; ``bmrun-runs``, ``bmrun-report`` and the
    end-of-sweep summary all find runs through it.
    """
    root = Path(root)
    found, stack = [], [root]
    while stack:
        here = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue
        if is_run_dir(here, (entry.name for entry in entries)):
            found.append(here)
            continue
        stack.extend(Path(entry.path) for entry in entries
                     if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False))
    return sorted(found, key=lambda path: natural_key(path.relative_to(root)))


def _stamp(run_dir: Path) -> list:
    stamp = []
    for name in (CONFIG, METRICS):
        try:
            info = os.stat(run_dir / name)
            stamp += [info.st_mtime_ns, info.st_size]
        except OSError:
            stamp += [None, None]
    return stamp


# ----------------------------------------------------------------------------- reading one run
def read_record(run_dir: Path) -> dict[str, Any]:
    """What the index keeps of one run dir: fields, metrics and its whole flat ``config``."""
    record: dict[str, Any] = {"config": {}, "metrics": {}}
    problems = []
    try:
        record["date"] = os.stat(run_dir / CONFIG).st_mtime
        loaded = yaml.load((run_dir / CONFIG).read_text(encoding="utf-8"), Loader=_LOADER)
        if not isinstance(loaded, Mapping):
            raise ValueError(f"expected a mapping, found {type(loaded).__name__}")
        record["config"] = flatten(loaded)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, yaml.YAMLError) as error:
        problems.append(f"{CONFIG}: {' '.join(str(error).split())}")
    try:
        metrics = json.loads((run_dir / METRICS).read_text(encoding="utf-8"))
        if not isinstance(metrics, Mapping):
            raise ValueError(f"expected a JSON object, found {type(metrics).__name__}")
        record.update(_from_metrics(metrics))
    except FileNotFoundError:
        record["status"] = "missing"
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        problems.append(f"{METRICS}: {error}")
    if problems:
        record.update(status="unreadable", error="; ".join(problems))
    return record


def _from_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    objective = metrics.get("objective") if isinstance(metrics.get("objective"), Mapping) else {}
    flat = {}
    for split in SPLITS:
        values = metrics.get(split)
        for name, value in (values.items() if isinstance(values, Mapping) else ()):
            if number(value) is not None:
                flat[f"{split}.{name}"] = number(value)
    epochs = metrics.get("epochs")
    return {"status": str(metrics.get("status", "unknown")), "metrics": flat,
            "duration_s": number(metrics.get("duration_s")), "epochs": epochs if isinstance(epochs, int) else None,
            "objective_key": (str(objective["key"]).replace("/", ".") if objective.get("key") else None),
            "objective": number(objective.get("value")), "error": metrics.get("error")}


# ----------------------------------------------------------------------------- the index
class Index:
    """The index of one root: load it, bring it up to date, save it when it changed."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / INDEX
        self.base: dict[str, Any] = {}
        self.entries: dict[str, list] = {}  # relative path -> [stamp, record without config]
        self.changed = False
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == _VERSION:
                self.base, self.entries = data["base"], data["runs"]
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            self.base, self.entries = {}, {}  # no index yet, or a damaged one: rebuild

    def refresh(self) -> list[Run]:
        """Every run dir under the root, read again only where its files changed."""
        runs, seen = [], set()
        for run_dir in find_run_dirs(self.root):
            relative = run_dir.relative_to(self.root).as_posix()
            seen.add(relative)
            stamp = _stamp(run_dir)
            entry = self.entries.get(relative)
            if entry is None or entry[0] != stamp:
                entry = [stamp, self._compress(read_record(run_dir))]
                self.entries[relative] = entry
                self.changed = True
            runs.append(self._run(run_dir, entry[1]))
        for gone in set(self.entries) - seen:
            del self.entries[gone]
            self.changed = True
        return runs

    def _compress(self, record: dict[str, Any]) -> dict[str, Any]:
        config = record.pop("config")
        if not self.base and config:
            self.base = dict(config)
        record["delta"] = {key: value for key, value in config.items()
                           if key not in self.base or self.base[key] != value
                           or type(self.base[key]) is not type(value)}
        record["absent"] = [key for key in self.base if key not in config] if config else ["*"]
        return {key: value for key, value in record.items() if value not in (None, {}, [])}

    def _run(self, run_dir: Path, record: Mapping[str, Any]) -> Run:
        absent = tuple(record.get("absent", ()))
        if absent == ("*",):  # no readable config at all
            absent = tuple(self.base)
        return Run(path=str(run_dir), status=record.get("status", "unknown"), date=record.get("date"),
                   duration_s=record.get("duration_s"), epochs=record.get("epochs"),
                   objective_key=record.get("objective_key"), objective=record.get("objective"),
                   metrics=record.get("metrics", {}), base=self.base, delta=record.get("delta", {}),
                   absent=absent, error=record.get("error"))

    def save(self) -> None:
        """Write the index if it changed; a root the user cannot write to just goes unindexed."""
        if not self.changed:
            return
        text = json.dumps({"version": _VERSION, "base": self.base, "runs": self.entries}, separators=(",", ":"))
        try:
            atomic_write(self.path, text)
        except ArtifactWriteError:
            pass
        self.changed = False


def load_runs(roots: Iterable[Path], *, use_index: bool = True) -> list[Run]:
    """The runs under each root (index brought up to date and saved), each run dir once."""
    runs, seen = [], set()
    for root in roots:
        root = Path(root)
        if use_index:
            index = Index(root)
            found = index.refresh()
            index.save()
        else:
            index = Index.__new__(Index)
            index.root, index.base, index.entries, index.changed = root, {}, {}, False
            found = index.refresh()
        for run in found:
            key = os.path.realpath(run.path)
            if key not in seen:
                seen.add(key)
                runs.append(run)
    return runs
