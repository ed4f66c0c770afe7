"""Fusion against each modality alone, and the memory of a 60,000-row image table.

Writes a table (:mod:`multimodal_table`) whose target is ``(image class) XOR (price > 50)``,
flipped in winter: neither the image nor the table predicts it alone. Runs the plain fused
command and its ablation sweep (``data.drop_modality=image|table|text``) in fresh processes,
then one fused epoch on 60,000 rows of one 28x28 image each for the peak RSS. Writes the
``multimodal`` section of BENCHMARKS.md.

    .venv/bin/python benchmarks/multimodal.py                    # rows=4000, rss_rows=60000
    .venv/bin/python benchmarks/multimodal.py --rows 2000 --rss-rows 0 --no-write
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from multimodal_table import write_table  # noqa: E402
from sections import machine, write_section  # noqa: E402

BAR = 0.10  # the fused run must beat the best single-modality run by 10 accuracy points


def bmrun(args: list[str], run_dir: Path) -> tuple[dict, float, float]:
    """One run in a fresh process: (metrics.json, wall seconds, peak RSS of that process in GiB)."""
    start = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "bmrun", *args, f"hydra.run.dir={run_dir}", "logger.progress_bar=false",
                    "logger.print_config=false"], check=True, stdout=subprocess.DEVNULL)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far, in KiB
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return metrics, time.time() - start, (peak if peak > before else float("nan")) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rss-rows", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bmrun-multimodal-"))
    table = write_table(work / "table", args.rows, side=28)
    common = ["model=multimodal", "data=csv", f"data.path={table}", "data.target=label", "data.images=[photo]",
              "data.text=[title]", f"trainer.max_epochs={args.epochs}", "logger.tensorboard=false"]
    rows = []
    for dropped in ("none", "image", "table", "text"):
        metrics, wall, _ = bmrun(common + [f"data.drop_modality={dropped}"], work / f"drop_{dropped}")
        rows.append((dropped, metrics["test"]["accuracy"], wall))
        print(f"drop_modality={dropped}: test accuracy {metrics['test']['accuracy']:.4f} ({wall:.0f} s)", flush=True)
    fused = rows[0][1]
    single = max(acc for name, acc, _ in rows if name in ("image", "table"))  # image alone / table alone
    lines = [f"{args.rows} rows (synthetic 28x28 shapes: Fashion-MNIST is not installed here), "
             f"{args.epochs} epochs, plain `model=multimodal` otherwise; {machine()}, shared with other work "
             f"(timings are slower than on an idle machine).", "",
             "| run | test accuracy | contribution (fused - this) | wall s |", "|---|---|---|---|"]
    for name, acc, wall in rows:
        label = "fused (all modalities)" if name == "none" else f"data.drop_modality={name}"
        lines.append(f"| {label} | {acc:.4f} | {'' if name == 'none' else f'{fused - acc:+.4f}'} | {wall:.0f} |")
    verdict = "meets" if fused - single >= BAR else "misses"
    lines += ["", f"Fused beats the best single modality by {100 * (fused - single):.1f} points ({verdict} the "
                  f"{100 * BAR:.0f}-point bar)."]
    if args.rss_rows:
        big = write_table(work / "big", args.rss_rows, side=28, seed=1)
        metrics, wall, rss = bmrun(common[:2] + [f"data.path={big}"] + common[3:-2] +
                                   ["trainer.max_epochs=1", "logger.tensorboard=false"],
                                   work / "rss")
        lines.append(f"{args.rss_rows} rows, one 28x28 image each, one fused epoch: peak RSS {rss:.2f} GiB "
                     f"(bar 1.5 GiB), {wall:.0f} s wall, test accuracy {metrics['test']['accuracy']:.4f}.")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("multimodal", "Multimodal fusion (benchmarks/multimodal.py)", text)


if __name__ == "__main__":
    main()
