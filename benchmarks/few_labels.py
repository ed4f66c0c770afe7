"""The few-labels comparison of ``experiment=fashion_few_labels``, each arm from the shell prompt.

    python benchmarks/few_labels.py [--seeds 0,1,2] [--pretrain-seeds 0] [--semi "..."] [--no-write]

Runs the preset's four commands as a user types them, in fresh processes, one at a time:
supervised on the 600 labels; ``pretrain=contrastive``, then fine-tuning from that run
(``model.init_from``); and ``trainer.semi_supervised=consistency`` (FixMatch, plus any ``--semi``
overrides). It checks the issue's bars -- the better of fine-tuning and semi-supervised training
at least 3 points above the supervised run; pretraining and semi-supervised runs at most 8
minutes, supervised and fine-tuning runs at most 2 -- and writes the table into the
``few_labels`` section of BENCHMARKS.md. Each seed draws its own labels and the gain moves with
them by a point or more, so several seeds give a table each and the mean gain is what is judged.
About 15 minutes a seed on 2 cores (8 without pretraining: ``--pretrain-seeds`` names the seeds
that pretrain and fine-tune, all by default); times mean something only on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sections import REPO, machine, write_section  # noqa: E402

PRESET = "fashion_few_labels"
GAIN = 0.03  # least gain over the supervised run, accuracy
MOST_SECONDS = {"supervised": 120.0, "pretrain": 480.0, "fine-tuned": 120.0, "semi-supervised": 480.0}


def run_arm(run_dir: Path, overrides: list[str]) -> dict:
    """One ``bmrun experiment=fashion_few_labels <overrides>``: wall seconds and its metrics.json."""
    command = [sys.executable, "-m", "bmrun", f"experiment={PRESET}", f"hydra.run.dir={run_dir}",
               "logger.progress_bar=false", *overrides]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return {"seconds": round(seconds, 1), "metrics": json.loads((run_dir / "metrics.json").read_text())}


def arms(work: Path, seed: int, semi: list[str], pretrain: bool = True) -> dict[str, dict]:
    """The four runs, in the order a user would type them (without pretraining: two)."""
    common = [f"seed={seed}"]
    results = {"supervised": run_arm(work / "supervised", common)}
    if pretrain:
        results["pretrain"] = run_arm(work / "pretrain", [*common, "pretrain=contrastive"])
        results["fine-tuned"] = run_arm(work / "fine_tuned", [*common, f"model.init_from={work / 'pretrain'}"])
    results["semi-supervised"] = run_arm(work / "semi", [*common, "trainer.semi_supervised=consistency", *semi])
    return results


def best_gain(results: dict[str, dict]) -> float:
    """The better of the fine-tuned and semi-supervised runs' gains over the supervised run."""
    supervised = results["supervised"]["metrics"]["test"]["accuracy"]
    return max(results[arm]["metrics"]["test"]["accuracy"] - supervised
               for arm in ("fine-tuned", "semi-supervised") if arm in results)


def table(results: dict[str, dict], seed: int) -> list[str]:
    """One seed's rows: each arm's accuracy, gain and wall time against its time bar."""
    supervised = results["supervised"]["metrics"]["test"]["accuracy"]
    lines = [f"Seed {seed}:", "", "| arm | test accuracy | gain | wall (s) | time bar | |",
             "|---|---:|---:|---:|---|---|"]
    for arm, result in results.items():
        accuracy = result["metrics"].get("test", {}).get("accuracy")  # a pretext run has none
        gain = "" if accuracy is None or arm == "supervised" else f"{100 * (accuracy - supervised):+.1f}"
        most = MOST_SECONDS[arm]
        lines.append(f"| {arm} | {'—' if accuracy is None else f'{accuracy:.4f}'} | {gain} | "
                     f"{result['seconds']:.0f} | <= {most:.0f} s | {'met' if result['seconds'] <= most else 'NOT met'} |")
    return lines + [""]


def report(by_seed: dict[int, dict[str, dict]], semi: list[str]) -> str:
    """The BENCHMARKS.md section: a table per seed, then the mean gain against the bar."""
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, one run at a time; wall = the whole command "
             f"from the shell prompt. Semi-supervised overrides: "
             f"`{' '.join(['trainer.semi_supervised=consistency', *semi])}`.", ""]
    for seed, results in by_seed.items():
        lines += table(results, seed)
    gains = [best_gain(results) for results in by_seed.values()]
    mean = sum(gains) / len(gains)
    spread = f"; {100 * min(gains):+.1f} to {100 * max(gains):+.1f}" if len(gains) > 1 else ""
    lines.append(f"Gain bar (the better of fine-tuned and semi-supervised >= +{100 * GAIN:.0f} points, mean over "
                 f"{len(gains)} seed{'s' if len(gains) > 1 else ''}): **{'met' if mean >= GAIN else 'NOT met'}** "
                 f"({100 * mean:+.1f}{spread}).")
    return "\n".join(lines)


def seed_list(text: str) -> list[int]:
    """``--seeds``: comma-separated non-negative integers, each once."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. 0,1,2") from None
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: seeds are non-negative integers, each given once")
    return seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_list, default=[0], help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--pretrain-seeds", type=seed_list, default=None,
                        help="the seeds that also pretrain and fine-tune (default: every seed)")
    parser.add_argument("--semi", default="", help="extra overrides of the semi-supervised run, space-separated")
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    semi = args.semi.split()
    by_seed = {}
    with tempfile.TemporaryDirectory(prefix="bmrun-few-labels-") as work:
        for seed in args.seeds:
            pretrain = args.pretrain_seeds is None or seed in args.pretrain_seeds
            by_seed[seed] = arms(Path(work) / f"seed{seed}", seed, semi, pretrain)
    text = report(by_seed, semi)
    print(text)
    if not args.no_write:
        write_section("few_labels", "Few labels: the four commands against their bars", text)


if __name__ == "__main__":
    main()
