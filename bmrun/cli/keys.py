"""``bmrun GROUP=OPTION --help``: the keys of one group option, read from its schema.

Each key's type and default come from the option's dataclass (with the values its YAML file
sets), its one line of help from the dataclass's ``Attributes:`` docstring or the comment on or
above the field. The schema modules are plain dataclasses: no Hydra, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any, Optional

import yaml

from bmrun.config.paths import packaged_config_dir
from bmrun.errors import ConfigError
from bmrun import registry
from bmrun.config.schema import SCHEMAS

# conf/data/csv.yaml's ${if_text_pairs:${data.target_text},A,B} (bmrun.config.resolvers), shown as "B (text pairs: A)"
_TEXT_PAIRS = re.compile(r"^\$\{if_text_pairs:\$\{data\.target_text\},([^,]+),([^,}]+)\}$")
# conf/optimizer/adam.yaml's ${if_rnn_pairs:...,A,B}, shown as "B (model=rnn on text pairs: A)"
_RNN_PAIRS = re.compile(r"^\$\{if_rnn_pairs:.*\},([^,]+),([^,}]+)\}$")
# ${if_transcripts:${...},A,B} (conf/data/audio_folder.yaml, the optimizers' lr), shown as "B (speech to text: A)"
_TRANSCRIPTS = re.compile(r"^\$\{if_transcripts:\$\{[^}]*\},([^,]+),(.*)\}$")
# conf/device/*.yaml's ${if_model:${...},FAMILY,A,B}, shown as "B (model=FAMILY: A)"
_MODEL = re.compile(r"^\$\{if_model:\$\{[^}]*\},(\w+),([^,]+),([^,}]+)\}$")
_FIELD = re.compile(r"^\s+(\w+)\s*:\s*[^=#]+?(?:=.*?)?(?:#\s*(.*))?$")


def schema_of(group: str, option: str) -> type:
    """The dataclass of ``GROUP=OPTION``.

    Raises:
        ConfigError: No such group or option.
    """
    if group in ("model", "data"):
        return registry.entry(group, option).config

    if group not in SCHEMAS:
        raise ConfigError(group, f"has no keys of its own to list (groups with keys: model, data, "
                                 f"{', '.join(SCHEMAS)})")
    return SCHEMAS[group]["base"]


def _yaml_values(group: str, option: str) -> dict[str, Any]:
    """What the option's YAML file sets for its own group (a ``_global_`` file: under ``group:``)."""
    path = Path(packaged_config_dir()) / group / f"{option}.yaml"
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    node = yaml.safe_load(text) or {}
    if "@package _global_" in text:
        node = node.get(group) or {}
    return {k: v for k, v in node.items() if k != "defaults"} if isinstance(node, dict) else {}


def _docstring_attributes(cls: type) -> dict[str, str]:
    """``{field: text}`` from a Google-style ``Attributes:`` section (continuation lines joined)."""
    found: dict[str, str] = {}
    doc = inspect.getdoc(cls) or ""
    if "Attributes:" not in doc:
        return found
    current = None
    for line in doc.split("Attributes:", 1)[1].splitlines():
        entry = re.match(r"^    (\w+)(?: \([^)]*\))?:\s*(.*)$", line)
        if entry:
            current = entry.group(1)
            found[current] = entry.group(2).strip()
        elif line.startswith("        ") and current:
            found[current] += " " + line.strip()
        elif line.strip():
            current = None
    return found


def _comments(cls: type) -> dict[str, str]:
    """``{field: text}`` from the comments above a field and on its line."""
    found: dict[str, str] = {}
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return found
    above: list[str] = []
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD.match(line) if not stripped.startswith(("def ", "@", '"', "'")) else None
        if match and not line.startswith("        "):
            text = " ".join(above + ([match.group(2).strip()] if match.group(2) else []))
            found.setdefault(match.group(1), text)
        above = []
    return found


def _descriptions(cls: type) -> dict[str, str]:
    found: dict[str, str] = {}
    for base in reversed(cls.__mro__):  # a subclass's text wins over its base's
        if dataclasses.is_dataclass(base):
            found.update({k: v for k, v in _comments(base).items() if v})
            found.update({k: v for k, v in _docstring_attributes(base).items() if v})
    return found


def _default(item: dataclasses.Field) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return "(required)"


def key_lines(group: str, option: str, prefix: Optional[str] = None) -> list[tuple[str, str, str, str]]:
    """``(key, type, default, help)`` for every key of ``GROUP=OPTION``, nested dataclasses flattened."""
    schema = schema_of(group, option)
    values = _yaml_values(group, option)
    return _rows(schema, values, prefix or group)


def _rows(schema: type, values: dict, prefix: str) -> list[tuple[str, str, str, str]]:
    texts = _descriptions(schema)
    rows = []
    for item in dataclasses.fields(schema):
        default = values.get(item.name, _default(item))
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            rows += _rows(type(default), values.get(item.name) or {}, f"{prefix}.{item.name}")
            continue
        kind = item.type if isinstance(item.type, str) else getattr(item.type, "__name__", str(item.type))
        rows.append((f"{prefix}.{item.name}", kind.replace("typing.", ""), _show(default), texts.get(item.name, "")))
    return rows


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    family = _MODEL.match(str(value))
    if family:
        return f"{family.group(3)} (model={family.group(1)}: {family.group(2)})"
    speech = _TRANSCRIPTS.match(str(value))
    if speech:
        return f"{_show(speech.group(2))} (speech to text: {speech.group(1)})"
    pairs = _TEXT_PAIRS.match(str(value))
    if pairs:
        return f"{pairs.group(2)} (text pairs: {pairs.group(1)})"
    rnn_pairs = _RNN_PAIRS.match(str(value))
    return f"{rnn_pairs.group(2)} (model=rnn on text pairs: {rnn_pairs.group(1)})" if rnn_pairs else str(value)


def print_keys(group: str, option: str, summary: str = "") -> None:
    """Print ``GROUP=OPTION``'s keys, one line each, whole (a pipe or a terminal)."""
    rows = key_lines(group, option)
    print(f"{group}={option}" + (f": {summary}" if summary else ""))
    print(f"Keys (set with {group}.KEY=VALUE; bmrun --help lists the groups):")
    width_key = max(len(r[0]) for r in rows)
    width_type = max(len(r[1]) for r in rows)
    width_default = min(max(len(r[2]) for r in rows), 16)
    for key, kind, default, text in rows:
        print(f"  {key:<{width_key}}  {kind:<{width_type}}  {default:<{width_default}}  {text}".rstrip())
