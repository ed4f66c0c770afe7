"""MkDocs hook: pages made from the code and the top-level files at every build.

``reference.md`` is :func:`bmrun.cli.reference.reference_markdown` (every key of every config
group, read from the schemas), so it cannot go stale; ``benchmarks.md`` and ``architecture.md``
are BENCHMARKS.md and ARCHITECTURE.md as they stand, kept in one place at the top of the
repository; a page's ``<!-- method-matrix -->`` becomes the option x method table that config
validation enforces (:func:`bmrun.methods.catalog.matrix_markdown`). Nothing is written into docs/.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

from bmrun.cli.reference import reference_markdown
from bmrun.methods.catalog import matrix_markdown

# marker in a page -> the generated Markdown that replaces it at build time
GENERATED = {"<!-- method-matrix -->": matrix_markdown}

# site page -> top-level file it copies
COPIED = {"benchmarks.md": "BENCHMARKS.md", "architecture.md": "ARCHITECTURE.md"}


def on_files(files: Files, config) -> Files:
    root = Path(config.config_file_path).parent
    files.append(File.generated(config, "reference.md", content=reference_markdown()))
    for page, source in COPIED.items():
        files.append(File.generated(config, page, content=(root / source).read_text(encoding="utf-8")))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    for marker, generate in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown
