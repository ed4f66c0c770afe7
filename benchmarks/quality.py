"""Quality of the plain commands: ``bmrun model=<family> data=<dataset>`` with no other flag.

For every family x dataset pair that validates, runs the plain command in a fresh process (what a
new user types), reads its metrics.json and writes one Markdown table (test metric, epochs, wall
time from the shell prompt) between the ``quality`` markers of BENCHMARKS.md.

    .venv/bin/python benchmarks/quality.py                       # the offline bundled sets
    .venv/bin/python benchmarks/quality.py --datasets fashion_mnist --families cnn,mlp,linear
    .venv/bin/python benchmarks/quality.py --no-write            # print only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from sections import machine, write_section  # noqa: E402

OFFLINE = ("digits", "diabetes", "breast_cancer", "adding")


def compatible_pairs(families: list[str], datasets: list[str]) -> list[tuple[str, str]]:
    """The pairs bmrun accepts (validation only: no data is loaded, no TensorFlow)."""
    from bmrun.config import compose, validate
    from bmrun.errors import ConfigError

    pairs = []
    for data in datasets:
        for model in families:
            try:
                validate(compose([f"model={model}", f"data={data}"]))
            except ConfigError:
                continue
            pairs.append((model, data))
    return pairs


def run_plain(model: str, data: str, work: Path) -> dict:
    run_dir = work / f"{model}-{data}"
    command = [sys.executable, "-m", "bmrun", f"model={model}", f"data={data}", f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"model": model, "data": data, "error": proc.stderr.strip().splitlines()[-1:], "wall_s": wall}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    test = metrics["test"]
    key = "r2" if "r2" in test else "accuracy"
    return {"model": model, "data": data, "metric": key, "value": test[key], "epochs": metrics["epochs"],
            "wall_s": wall}


def table(rows: list[dict]) -> str:
    lines = ["| data | model | test metric | value | epochs | wall (s) |", "|---|---|---|---:|---:|---:|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['data']} | {row['model']} | failed: {' '.join(row['error'])} | | | |")
        else:
            lines.append(f"| {row['data']} | {row['model']} | {row['metric']} | {row['value']:.3f} | {row['epochs']} "
                         f"| {row['wall_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    from bmrun import registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(OFFLINE))
    builtin = [name for name, entry in registry.models().items() if getattr(entry, "builtin", False) and name != "custom"]
    parser.add_argument("--families", default=",".join(builtin))
    parser.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    pairs = compatible_pairs(args.families.split(","), args.datasets.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bmrun-quality-") as work:
        for model, data in pairs:
            rows.append(run_plain(model, data, Path(work)))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = (f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, "
            f"{len(pairs)} pairs; wall = the whole command, from the shell prompt.\n\n{table(rows)}")
    print(text)
    if not args.no_write:
        write_section("quality", "Quality of the plain commands", text)


if __name__ == "__main__":
    main()
