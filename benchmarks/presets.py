"""The Fashion-MNIST presets against their quality bars, each from the shell prompt.

    python benchmarks/presets.py [--presets fashion_best,fashion_rnn] [--no-write]

Runs ``bmrun experiment=<preset>`` in a fresh process per preset (the whole command, as a user
types it), checks test accuracy and wall time against the preset's bar and writes the table into
the ``presets`` section of BENCHMARKS.md; the rows of presets not rerun keep their earlier
figures and dates. Times are only meaningful on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tta import bmrun_point  # noqa: E402
from sections import machine, read_section, write_section  # noqa: E402

# preset -> (least test accuracy, most wall seconds on 2 CPU cores)
BARS = {
    "fashion_speedrun": (0.91, None),  # its time bar is relative: benchmarks/bench_tta.py
    "fashion_cnn_fast": (0.91, 60.0),
    "fashion_rnn": (0.90, 300.0),
    "fashion_transformer": (0.90, 300.0),
    "fashion_best": (0.935, 600.0),
}


HEADER = ["| preset | test accuracy | epochs | wall (s) | train (s) | bar | | measured |",
          "|---|---:|---:|---:|---:|---|---|---|"]


def row(preset: str, point: dict, day: str = "") -> str:
    least, most = BARS[preset]
    ok = point["test_accuracy"] >= least and (most is None or point["seconds"] <= most)
    bar = f">= {least:.3f}" + (f" in <= {most:.0f} s" if most else "")
    return (f"| `{preset}` | {point['test_accuracy']:.4f} | {point['epochs']} | {point['seconds']:.1f} | "
            f"{point['timings'].get('train_s', float('nan')):.1f} | {bar} | {'met' if ok else 'NOT met'} | "
            f"{day or time.strftime('%Y-%m-%d')} |")


def merged(new_rows: dict[str, str], old_text: str) -> list[str]:
    """The table's rows in BARS order: the new ones, and the old rows (with a date) of the rest."""
    old = {}
    for line in old_text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 8:
            old[cells[0].strip("`")] = line
    return [new_rows.get(preset) or old[preset] for preset in BARS if preset in new_rows or preset in old]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(BARS))
    parser.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    new_rows = {}
    with tempfile.TemporaryDirectory(prefix="bmrun-presets-") as work:
        for preset in args.presets.split(","):
            new_rows[preset] = row(preset, bmrun_point(preset, Path(work) / preset))
            print(new_rows[preset], flush=True)
    old_text = read_section("presets")
    lines = [f"Measured on {machine()}, seed 0, one preset at a time on a quiet machine; wall = the whole "
             f"command from the shell prompt, train = the epochs alone (metrics.json timings).", "",
             *HEADER, *merged(new_rows, old_text)]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("presets", "Fashion-MNIST presets against their bars", text)


if __name__ == "__main__":
    main()
