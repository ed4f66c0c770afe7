"""One registry of model families and datasets, fed by Python entry points (no TensorFlow).

bmrun's own families and datasets are declared in its ``pyproject.toml`` under the entry-point
groups ``bmrun.models`` and ``bmrun.datasets`` -- the same door a plugin package uses. An entry
point names either

* a rich object: a :class:`bmrun.models.family.Family` / :class:`bmrun.data.dataset.Dataset`
  (config dataclass, accepted inputs or specs, checks, body or loader), or
* a plain callable: ``build(inputs, task, **kwargs) -> keras.Model`` for models
  (:mod:`bmrun.models.plugin`), ``load(seed, **kwargs) -> dict`` for datasets
  (:mod:`bmrun.data.plugin`); its keyword arguments become typed config keys.

Names: a built-in name always wins over a plugin's (the plugin is ignored, with a warning); two
plugins claiming the same name are refused when that name is used, naming both packages. A
plugin whose import fails is reported when it is used, in one paragraph naming its package and
the exception (``HYDRA_FULL_ERROR=1`` re-raises it with its traceback).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib import metadata
from importlib.metadata import EntryPoint
from typing import Any, Optional

from bmrun.errors import ConfigError, show_tracebacks

GROUPS = {"model": "bmrun.models", "data": "bmrun.datasets"}
# What turns a plain callable into a family / dataset. Named, not imported, like every entry:
# the registry sits below bmrun.models and bmrun.data (a saved model and a data config look their
# family and dataset up here), so it imports neither.
ADAPTERS = {"model": "bmrun.models.plugin:CallableFamily.from_callable", "data": "bmrun.data.plugin:CallableDataset"}
BUILTIN_PACKAGE = "bmrun"
log = logging.getLogger("bmrun")


@dataclass(frozen=True)
class Declared:
    """One entry point, as the installed metadata says (nothing imported)."""

    name: str
    value: str  # module:attribute
    package: str  # the distribution that declares it

    @property
    def builtin(self) -> bool:
        return _normalise(self.package) == BUILTIN_PACKAGE


def _normalise(package: str) -> str:
    return package.lower().replace("_", "-").replace(".", "-")


_declared: dict[str, dict[str, list[Declared]]] = {}
_loaded: dict[str, dict[str, Any]] = {}


def reload() -> None:
    """Forget what was read, so newly installed plugins are seen (tests, notebooks)."""
    importlib.invalidate_caches()
    _declared.clear()
    _loaded.clear()


def declared(group: str) -> dict[str, list[Declared]]:
    """``{name: [claims]}`` of an entry-point group (``model`` or ``data``), from metadata only.

    Fast and TensorFlow-free: ``bmrun --help`` lists plugins from this.
    """
    if group not in _declared:
        found: dict[str, list[Declared]] = {}
        for point in metadata.entry_points(group=GROUPS[group]):
            package = point.dist.name if point.dist is not None else "?"
            claim = Declared(point.name, point.value, package)
            if claim not in found.setdefault(point.name, []):  # one package seen twice on sys.path
                found[point.name].append(claim)
        if not any(c.builtin for claims in found.values() for c in claims):
            raise ConfigError(group, f"bmrun's own {GROUPS[group]} entry points are missing: bmrun is not "
                              f"installed (or its metadata is stale). Run `pip install -e .` in the checkout.")
        _declared[group] = found
    return _declared[group]


def _resolve(group: str, name: str) -> Any:
    """The entry for ``name``: loaded and adapted, or an object that raises when used."""
    claims = declared(group)[name]
    builtin = [c for c in claims if c.builtin]
    if builtin:
        ignored = [c.package for c in claims if not c.builtin]
        if ignored:
            log.warning("%s=%s is built into bmrun; the one from the package %s is ignored (rename it in its "
                        "entry points to use it)", group, name, " and ".join(ignored))
        return _load(group, builtin[0])
    packages = sorted({c.package for c in claims})
    if len(packages) > 1:
        return Refused(name, group, f"{group}={name} is declared by more than one package ({' and '.join(packages)}); "
                       f"uninstall one of them, or rename its entry point in the group {GROUPS[group]}")
    return _load(group, claims[0])


def _load(group: str, claim: Declared) -> Any:
    """Import an entry point and adapt it to the registry's interface."""
    point = EntryPoint(claim.name, claim.value, GROUPS[group])
    try:
        value = point.load()
    except Exception as error:  # noqa: BLE001 - a broken plugin must not break the other options
        if show_tracebacks():
            raise
        return Refused(claim.name, group, f"the plugin package {claim.package} fails to import {claim.value} "
                       f"({type(error).__name__}: {error}); fix or uninstall it")
    if hasattr(value, "config") and (hasattr(value, "build") or hasattr(value, "specs")):
        return value  # the rich form: a Family / Dataset (or one shaped like them)
    if not callable(value):
        return Refused(claim.name, group, f"{claim.value} from the package {claim.package} is a "
                       f"{type(value).__name__}, not a callable")
    adapt = EntryPoint(claim.name, ADAPTERS[group], GROUPS[group]).load()
    try:
        return adapt(claim.name, value, claim.value, claim.package)
    except (TypeError, ValueError) as error:
        return Refused(claim.name, group, f"{claim.value} from the package {claim.package} cannot be a bmrun "
                       f"{'model' if group == 'model' else 'dataset'}: {error}")


@dataclass(frozen=True)
class Refused:
    """A name that cannot be used (broken plugin, two plugins claiming it); says why when used."""

    name: str
    group: str
    reason: str
    builtin: bool = False
    config: Optional[type] = None

    def fail(self):
        raise ConfigError(self.group, self.reason)


def _entry(group: str, name: str) -> Any:
    names = declared(group)
    if name not in names:
        kind = "model" if group == "model" else "dataset"
        raise ConfigError(f"{group}.name", f"unknown {kind} {name!r}; choose one of: {', '.join(names)}")
    loaded = _loaded.setdefault(group, {})
    if name not in loaded:
        loaded[name] = _resolve(group, name)
    return loaded[name]


def entry(group: str, name: str) -> Any:
    """The usable entry for ``name`` in ``model`` or ``data``.

    Raises:
        ConfigError: Unknown name (listing the choices), a broken plugin, or an ambiguous name.
    """
    found = _entry(group, name)
    if isinstance(found, Refused):
        found.fail()
    return found


def model(name: str) -> Any:
    """The model family called ``name`` (a Family, a CallableFamily or the custom family)."""
    return entry("model", name)


def dataset(name: str) -> Any:
    """The dataset called ``name`` (a Dataset, a CallableDataset or the custom dataset)."""
    return entry("data", name)


def every(group: str) -> dict[str, Any]:
    """Every entry of a group, refused ones included (``register_schemas`` stores them all)."""
    return {name: _entry(group, name) for name in declared(group)}


def models() -> dict[str, Any]:
    return every("model")


def datasets() -> dict[str, Any]:
    return every("data")
