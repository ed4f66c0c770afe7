"""The configuration reference: every key of every group, with its type, default and meaning.

Read from the code itself, so it cannot go stale: the group schemas of :mod:`bmrun.config.schema`,
the config dataclasses of every family and dataset in :mod:`bmrun.registry`, and the options
each group offers (:func:`bmrun.cli.help.groups`, what ``bmrun --help`` lists). A key's meaning
is the ``Attributes:`` entry of its class docstring, else the comment beside it and the comment
block just above it. The docs site renders :func:`reference_markdown` at build time
(``docs/hooks/reference.py``); nothing here imports TensorFlow.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import inspect
import io
import os
import re
import textwrap
import tokenize
from dataclasses import dataclass
from typing import Any, Iterator

from bmrun.cli import help as cli_help
from bmrun import registry
from bmrun.config.schema import SCHEMAS, TrainConfig
import importlib
from bmrun.data.dataset import DataConfig
from bmrun.models.family import ModelConfig


@dataclass(frozen=True)
class Key:
    """One config key as the reference shows it.

    Attributes:
        name: Its path inside the group, e.g. ``early_stopping.patience``.
        type: Its annotation, e.g. ``int``, ``List[int]``, ``str or null``.
        default: The default as it would be written on the command line.
        meaning: One or two sentences from the code's comments or docstring.
    """

    name: str
    type: str
    default: str
    meaning: str


def _class_comments(klass: type) -> dict[str, str]:
    """``{field: comment}`` from the comment beside each field and the block just above it."""
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):  # made at run time (a plugin's signature): no source to read
        return {}
    lines = source.splitlines()
    comments = {tok.start[0]: tok.string.lstrip("#").strip()
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    notes = {}
    for node in ast.parse(source).body[0].body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above = []
        line = node.lineno - 1  # 1-based line numbers: lines[line - 1] is the line above the field
        while line >= 1 and lines[line - 1].strip().startswith("#"):
            above.insert(0, comments.get(line, ""))
            line -= 1
        beside = [comments[n] for n in range(node.lineno, (node.end_lineno or node.lineno) + 1) if n in comments]
        notes[node.target.id] = " ".join(part for part in above + beside if part)
    return notes


def _docstring_attributes(klass: type) -> dict[str, str]:
    """``{field: text}`` from the ``Attributes:`` section of a Google-style class docstring."""
    doc = inspect.cleandoc(klass.__dict__.get("__doc__") or "")
    found: dict[str, str] = {}
    inside, current = False, []
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):  # the next section
            break
        entry = re.match(r"^ {4}(\w+(?:, \w+)*)(?: \([^)]*\))?:(?: (.*))?$", line)
        if entry:  # "name: text", or "a, b: text" for several fields at once
            current = entry.group(1).split(", ")
            found.update({name: (entry.group(2) or "").strip() for name in current})
        elif current and line.strip():
            found.update({name: (found[name] + " " + line.strip()).strip() for name in current})
    return found


def field_notes(schema: type) -> dict[str, str]:
    """What each field of a config dataclass means, base classes' notes included."""
    notes: dict[str, str] = {}
    for klass in reversed(schema.__mro__):
        if dataclasses.is_dataclass(klass):
            notes.update({k: v for k, v in _class_comments(klass).items() if v})
            notes.update(_docstring_attributes(klass))
    return notes


def _type(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    text = text.replace("typing.", "")
    optional = re.fullmatch(r"Optional\[(.*)\]", text)
    return f"{optional.group(1)} or null" if optional else text


_OPTION = "The group's option, set by choosing it (`group=option`)."


def _value(value: Any) -> str:
    """A default as it is written in an override (``null``, ``true``, ``[32, 64]``)."""
    if value is None:
        return "null"
    if value == "":
        return '""'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _default(spec: dataclasses.Field) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return None


def keys(schema: type, prefix: str = "") -> Iterator[Key]:
    """Every key of a config dataclass, nested dataclasses (``early_stopping.*``) flattened."""
    notes = field_notes(schema)
    for spec in dataclasses.fields(schema):
        default = _default(spec)
        if dataclasses.is_dataclass(default):
            yield from keys(type(default), f"{prefix}{spec.name}.")
            continue
        shown = "set by the option" if default == "???" else _value(default)  # omegaconf's MISSING
        meaning = notes.get(spec.name) or (_OPTION if spec.name == "name" and not prefix else "")
        yield Key(prefix + spec.name, _type(spec.type), shown, meaning)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[Key], group: str) -> list[str]:
    if not rows:
        return ["No keys of its own beyond the common ones.", ""]
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in rows:
        name = f"{group}.{key.name}" if group else key.name
        lines.append(f"| `{name}` | `{_cell(key.type)}` | `{_cell(key.default)}` | {_cell(key.meaning)} |")
    return lines + [""]


def _options(group: str) -> list[str]:
    options = cli_help.groups().get(group, {})
    if not options:
        return []
    lines = ["| option | what it is |", "|---|---|"]
    lines += [f"| `{group}={name}` | {_cell(summary)} |" for name, summary in options.items()]
    return lines + [""]


def _own_keys(schema: type, base: type) -> list[Key]:
    """The keys a family or dataset adds to the common ones, or whose default it changes."""
    common = {key.name: key for key in keys(base)}
    return [key for key in keys(schema) if key.name != "name"
            and (key.name not in common or key.default != common[key.name].default)]


def _registered(group: str, base: type, title: str) -> list[str]:
    lines = [f"## `{group}`: {title}", ""] + _options(group)
    lines += [f"### Keys every `{group}` option has", ""] + _table(list(keys(base)), group)
    for name, entry in registry.every(group).items():
        origin = "" if entry.builtin else f" (plugin, package {getattr(entry, 'package', '?')})"
        lines += [f"### `{group}={name}`{origin}", ""]
        if entry.config is None:
            lines += [f"Cannot be used here: {getattr(entry, 'reason', 'no config')}.", ""]
            continue
        if entry.builtin and getattr(entry, "how", None):  # a family's own line on what it reads
            lines += [f"Reads {entry.how}.", ""]
        lines += _table(_own_keys(entry.config, base), group)
    return lines


def groups_markdown() -> list[str]:
    """The reference of the schema groups (everything but ``model`` and ``data``)."""

    lines = ["## Top-level keys", ""]
    top = [key for key in keys(TrainConfig) if key.type != "Any"]  # the Any fields are the groups
    lines += _table(top, "")
    for group, schemas in SCHEMAS.items():
        lines += [f"## `{group}`", ""] + _options(group)
        for schema in schemas.values():
            lines += _table(list(keys(schema)), group)
    return lines


def script_help(module: str, prog: str) -> str:
    """A console script's ``--help`` text, as argparse prints it."""

    main = importlib.import_module(module).main
    out = io.StringIO()
    # argparse wraps at the terminal's width: a fixed one keeps the page the same everywhere
    with _environ(COLUMNS="100"), contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["--help"])
    return out.getvalue().replace(module.rsplit(".", 1)[-1] + ".py", prog)


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


SCRIPTS = {"bmrun-eval": "bmrun.cli.eval", "bmrun-predict": "bmrun.cli.predict",
           "bmrun-report": "bmrun.cli.report", "bmrun-explain": "bmrun.cli.explain"}


def reference_markdown() -> str:
    """The whole reference page: config groups, every key, and the console scripts' options."""

    lines = ["# Configuration and command reference", "",
             "Generated from the code when the site is built (`bmrun/cli/reference.py`): the schema "
             "dataclasses, the registry's families and datasets, and the scripts' argument parsers. "
             "Set a key on the command line as `group.key=value` (`optimizer.lr=0.01`), pick an option "
             "as `group=option` (`optimizer=sgd`).", ""]
    lines += groups_markdown()
    lines += _registered("model", ModelConfig, "model families")
    lines += _registered("data", DataConfig, "datasets")
    lines += ["## Console scripts", "", "### `bmrun`", "", "```text", cli_help.USAGE.rstrip(), "```", "",
              "`bmrun --help` lists the groups and options above; `bmrun --cfg job [overrides]` prints "
              "the composed config.", ""]
    for prog, module in SCRIPTS.items():
        lines += [f"### `{prog}`", "", "```text", script_help(module, prog).rstrip(), "```", ""]
    return "\n".join(lines) + "\n"
