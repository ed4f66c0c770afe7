"""Plain callables as bmrun families and datasets: typed configs from signatures, and targets.

A plugin's ``build(inputs, task, **kwargs)`` or ``load(seed, **kwargs)`` becomes a config
dataclass whose keys are its keyword arguments (types from the annotations, else from the
defaults), so ``model.width=abc`` and ``model.nope=1`` are refused like any built-in key.
``model=custom model.target=module:callable`` imports such a callable from the working
directory or ``PYTHONPATH``. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
import sys
import typing
from typing import Any, Callable, Dict, List, Optional

from omegaconf import MISSING

from bmrun import registry
from bmrun.errors import BmrunError, ConfigError

_PRIMITIVES = (bool, int, float, str)
_MADE: dict[str, type] = {}  # qualname -> dataclass made here, so pickle can find it again


def __getattr__(name: str) -> type:
    """Resolve a made config class by name (pickle, e.g. a joblib worker unpickling a config)."""
    if name not in _MADE and name.startswith(("model__", "data__")):
        group, _ = name.split("__", 1)
        for entry in (registry.models() if group == "model" else registry.datasets()).values():
            getattr(entry, "config", None)  # loading the entry makes its class
    if name in _MADE:
        return _MADE[name]
    raise AttributeError(name)


def config_from_signature(fn: Callable, base: type, name: str, *, group: str, skip: int) -> tuple[type, list[str]]:
    """A dataclass subclassing ``base`` with one field per keyword argument of ``fn``.

    Args:
        fn: The plugin callable.
        base: ``ModelConfig`` or ``DataConfig``; a keyword argument that shares a name with one
            of its keys receives that key's value and sets its default.
        name: The option name (the ``name`` field's default).
        group: ``model`` or ``data``.
        skip: Leading positional parameters bmrun fills itself (inputs, task / seed).

    Returns:
        The dataclass and the names of the arguments to pass to ``fn``.

    Raises:
        TypeError: ``fn`` cannot be called the way the protocol calls it.
    """
    params = list(inspect.signature(fn).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < skip and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise TypeError(f"takes {len(positional)} positional arguments; the protocol passes {skip}")
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the defaults' types
        hints = {}
    inherited = {f.name: f for f in dataclasses.fields(base)}
    fields, passed = [("name", str, dataclasses.field(default=name))], []
    for param in params[skip:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.kind == param.POSITIONAL_ONLY:
            raise TypeError(f"argument {param.name!r} is positional-only; config keys must be keywords")
        default = MISSING if param.default is param.empty else param.default
        kind = inherited[param.name].type if param.name in inherited else _config_type(hints.get(param.name), default)
        fields.append((param.name, kind, _field(default)))
        passed.append(param.name)
    qualname = f"{group}__{re.sub(r'[^0-9A-Za-z_]', '_', name)}"
    cls = dataclasses.make_dataclass(qualname, fields, bases=(base,))
    cls.__module__, cls.__qualname__ = __name__, qualname
    _MADE[qualname] = cls
    return cls, passed


def _field(default: Any):
    if isinstance(default, (list, tuple, dict)):
        copy = list(default) if isinstance(default, tuple) else default
        return dataclasses.field(default_factory=lambda: type(copy)(copy))
    return dataclasses.field(default=default)


def _config_type(hint: Any, default: Any) -> Any:
    """The OmegaConf-typed annotation of a keyword argument (``Any`` when it cannot be typed)."""
    if hint is None:
        if isinstance(default, _PRIMITIVES):
            return type(default)
        if isinstance(default, (list, tuple)):
            return List[Any]
        return Dict[str, Any] if isinstance(default, dict) else Any
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in _PRIMITIVES:
        return Optional[hint] if default is None else hint
    if origin is typing.Union and len(args) == 2 and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return Optional[inner] if inner in _PRIMITIVES else Any
    if origin in (list, tuple, typing.Sequence, typing.List):
        item = args[0] if args and args[0] in _PRIMITIVES and (origin is not tuple or len(args) == 1 or
                                                               args[1] is Ellipsis) else Any
        return List[item]
    if origin in (dict, typing.Dict):
        return Dict[str, Any]
    return Any


def import_target(target: str, key: str, error: type = ConfigError) -> Callable:
    """Import ``module:callable`` from the working directory or ``PYTHONPATH``.

    Args:
        target: ``package.module:function`` (the part after the colon may be dotted).
        key: The config key that named it (``model.target``), for the error.
        error: ``ConfigError`` or ``DataError``.

    Raises:
        error: Not ``module:callable``, not importable, no such attribute, or not callable.
    """
    def fail(why: str):
        message = f"{target!r} {why}. Give model.target / data.target as module:callable, importable from the " \
                  f"working directory or PYTHONPATH."
        return error(key, message) if error is ConfigError else error(f"{key}: {message}")

    module_name, _, attribute = (target or "").partition(":")
    if not module_name or not attribute:
        raise fail("is not of the form module:callable")
    if os.getcwd() not in sys.path and "" not in sys.path:  # the bmrun script's path starts at bin/
        sys.path.append(os.getcwd())
    try:
        value = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's code, reported in one line
        raise fail(f"cannot be imported ({type(exc).__name__}: {exc})") from exc
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise fail(f"cannot be imported (module {module_name} has no attribute {attribute})")
        value = getattr(value, part)
    if not callable(value):
        raise fail(f"is not callable (it is a {type(value).__name__})")
    return value


def call_user(fn: Callable, what: str, key: str, error: type, *args, **kwargs) -> Any:
    """Call plugin code; any exception becomes one paragraph naming ``what`` (the traceback is
    chained, so ``HYDRA_FULL_ERROR=1`` still shows it)."""
    try:
        return fn(*args, **kwargs)
    except BmrunError:
        raise
    except Exception as exc:  # noqa: BLE001
        message = f"{what} raised {type(exc).__name__}: {exc}"
        raise (error(key, message) if error is ConfigError else error(f"{key}: {message}")) from exc


def check_target_keys(group: str, target: str, args: Any, signature: str) -> None:
    """The ``<group>=custom`` keys: a ``module:callable`` target and a mapping of its arguments.

    Raises:
        ConfigError: No target, or ``args`` that is not a mapping.
    """
    if args is not None and not isinstance(args, dict):
        raise ConfigError("args", f"must be a mapping of keyword arguments, e.g. {group}.args={{n: 10}}; got {args!r}")
    if not target:
        raise ConfigError("target", f"{group}=custom needs {group}.target=module:callable (a function {signature})")
