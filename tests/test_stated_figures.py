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


# A measured figure: a decimal, a percentage, a duration or a rate, on a line that says what was
# measured (a metric, a time, "measured"). Bars (">= 0.91") are targets, not measurements.
_FIGURE = re.compile(r"(?<![\w.=/^-])(\d+\.\d+|\d+(?:\.\d+)?\s?%|\d+(?:\.\d+)?\s?(?:s|min|GB|GiB)\b"
                     r"|\d+(?:\.\d+)?k samples/s)")
_MEASURE_WORDS = re.compile(r"accura|rmse|\bmse\b|\bmae\b|r\^?2|r²|\bf1\b|auc|ndcg|recall|samples/s|\bs\b|seconds|"
                            r"points|measured|faster|slower|exact match|dice|iou", re.I)
_BAR = re.compile(r"(>=|<=|≥|≤)\s*~?\d+(\.\d+)?\s?%?")
_COMMAND = re.compile(r"^\s{2,}.*\b(bmrun|python)\b")  # a header's command line, with its own notes


def measured_lines(text: str) -> list[str]:
    """The comment lines of a YAML file that state a measured figure."""
    found = []
    for line in text.splitlines():
        if "#" not in line:
            continue
        comment = line[line.index("#") + 1:]
        if _COMMAND.match(comment):
            continue
        stripped = _BAR.sub("", comment)
        if _FIGURE.search(stripped) and _MEASURE_WORDS.search(stripped):
            found.append(line.strip())
    return found


def test_a_config_file_states_at_most_one_measured_line():
    """A preset header keeps its command and one measured line; the rest lives in BENCHMARKS.md."""
    crowded = {str(path.relative_to(REPO)): lines for path in sorted((REPO / "conf").rglob("*.yaml"))
               if len(lines := measured_lines(path.read_text(encoding="utf-8"))) > 1}
    assert not crowded, f"move these figures to BENCHMARKS.md: {crowded}"


def test_the_measured_line_detector_sees_what_it_must():
    header = ("# Linear regression on diabetes: test R^2 0.46 (least squares: 0.45).\n"
              "#   bmrun experiment=diabetes_linear   # 14 s\n"
              "# Measured (2 cores, seed 0): test R^2 0.458, MSE 3498, 35 s depending on load.\n"
              "# Fast CNN: >= 0.91 test accuracy in under a minute.\n"
              "  lr: 0.05  # the default lr=1e-3 stops short\n"
              "# dropout 0.2 took 64 s for 0.912; 2.7x faster than one step, 8.8k samples/s\n")
    assert [line[:12] for line in measured_lines(header)] == ["# Linear reg", "# Measured (", "# dropout 0."]
