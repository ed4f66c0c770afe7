"""The documentation stays short at the front and complete in the reference."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bmrun.cli import reference
from bmrun.config.schema import SCHEMAS, EarlyStoppingConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def page() -> str:
    return reference.reference_markdown()


def test_readme_is_at_most_250_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move detail to docs/"


def _leaf_keys(schema: type, prefix: str = "") -> list[str]:
    """Every settable key of a dataclass, written the way the reference writes it."""
    found = []
    for spec in dataclasses.fields(schema):
        if spec.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(spec.default_factory()):
            found += _leaf_keys(type(spec.default_factory()), f"{prefix}{spec.name}.")
        else:
            found.append(prefix + spec.name)
    return found


@pytest.mark.parametrize("group", sorted(SCHEMAS))
def test_every_key_of_every_group_schema_is_in_the_reference(page, group):
    for schema in SCHEMAS[group].values():
        missing = [key for key in _leaf_keys(schema) if f"| `{group}.{key}` |" not in page]
        assert not missing, f"{group}: {missing} not in the generated reference"


def test_nested_keys_are_flattened_with_their_type_and_default(page):
    assert _leaf_keys(EarlyStoppingConfig)  # the trainer has a nested group to flatten
    assert "| `trainer.early_stopping.patience` | `int` | `3` |" in page


def test_every_family_and_dataset_key_is_in_the_reference(page):
    from bmrun import registry
    from bmrun.data.dataset import DataConfig
    from bmrun.models.family import ModelConfig

    for group, base in (("model", ModelConfig), ("data", DataConfig)):
        assert all(f"| `{group}.{key}` |" in page for key in _leaf_keys(base))
        for name, entry in registry.every(group).items():
            section = page.split(f"### `{group}={name}`", 1)[1].split("\n### ", 1)[0]
            own = set(_leaf_keys(entry.config)) - set(_leaf_keys(base))
            missing = [key for key in own if f"| `{group}.{key}` |" not in section]
            assert not missing, f"{group}={name}: {missing} not in its section of the reference"


def test_meanings_come_from_comments_and_docstrings(page):
    # an inline comment (schema.py), a docstring Attributes entry (cnn.py), a comment block above
    assert "| `optimizer.clip_norm` | `float or null` | `null` | global gradient-norm clipping |" in page
    assert "Filters of each convolutional block (one block per entry)." in page
    assert "How training batches reach the step" in page


def test_a_docstring_entry_naming_several_fields_documents_each(page):
    assert "| `data.categorical` | `List[str]` | `[]` | Columns whose inferred kind you override. |" in page
    # ... and one whose names fill the line, its text on the next (data=ratings)
    assert "| `data.synthetic_rank` | `int` | `4` | Size, latent rank and noise std" in page


def test_the_console_scripts_options_are_in_the_reference(page):
    for option in ("--sort KEY", "--cold-start", "--method", "overrides"):
        assert option in page
    for prog in reference.SCRIPTS:
        assert f"### `{prog}`" in page and f"usage: {prog}" in page


def test_every_docs_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert pages and all(f": {name}" in nav for name in pages)
