"""The default job's figures the README states are the ones benchmarks/quality.py measured.

BENCHMARKS.md's generated quality section is the one source; ``bmrun --help`` states no figures.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _measured_default_job() -> dict[str, str]:
    """The ``digits | cnn`` row (what plain ``bmrun`` runs) of BENCHMARKS.md's quality section."""
    text = (REPO / "BENCHMARKS.md").read_text(encoding="utf-8")
    section = text.split("<!-- quality:begin -->", 1)[1].split("<!-- quality:end -->", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith("| digits | cnn |"))
    _, _, metric, value, epochs, wall = [cell.strip() for cell in row.strip("|").split("|")]
    assert metric == "accuracy"
    return {"accuracy": value, "epochs": epochs, "wall": wall}


def test_the_default_job_is_what_plain_bmrun_runs():
    from conftest import compose

    cfg = compose([])
    assert (cfg.model.name, cfg.data.name) == ("cnn", "digits")


def test_the_readme_states_the_measured_figures_of_the_default_job():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"it ran (\d+) short epochs in ([\d.]+) s\s+\(the whole command\) and reached "
                       r"([\d.]+) test accuracy", readme)
    assert stated, "README no longer states the default job's figures as this test reads them"
    assert stated.groups() == tuple(_measured_default_job()[key] for key in ("epochs", "wall", "accuracy"))
    assert not re.search(r"\b\d+ tests\b|tests? (pass|run)s? in", readme)  # no unmeasured suite figures


def test_help_states_no_figures_of_its_own():
    from bmrun.cli.help import FOOTER

    assert "digits" in FOOTER
    assert not re.search(r"\d+(\.\d+)?\s*s\b|accuracy|\b0\.\d+", FOOTER)  # times and scores live in BENCHMARKS.md
