"""Time to accuracy on Fashion-MNIST: bmrun's speed-run preset against the Keras tutorial recipe.

    python benchmarks/bench_tta.py [--preset fashion_speedrun] [--repeats 3] [--keras-epochs 8]
                                   [--out outputs/bench_tta] [--no-write]

Both are timed the way a user lives them, from the shell prompt to the printed result, in fresh
processes on the same machine in one session:

* the Keras recipe (benchmarks/keras_recipe.py: seed CNN, Adam 1e-3, ``model.fit``), tested after
  every epoch with the testing time taken off its clock: the time at which it first reaches 90%
  and 91% test accuracy (or never);
* ``bmrun experiment=<preset>``, run ``--repeats`` times (median wall time, every accuracy), plus
  one run per shorter epoch budget for the curve.

The accuracy-per-second curves go to TensorBoard (``<out>/tensorboard``, scalar
``test_accuracy_vs_time``; its step is milliseconds since the prompt) and the table into the
``tta`` section of BENCHMARKS.md. The target: the preset reaches 91% in at most a third of the
time the Keras recipe needs for 90%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from sections import machine, write_section  # noqa: E402


def keras_curve(epochs: int, out: Path) -> list[dict]:
    """The Keras recipe's (epoch, seconds, test_accuracy) points, from its own process."""
    path = out / "keras_recipe.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "keras_recipe.py"), "--epochs", str(epochs),
                    "--json", str(path)], check=True, cwd=REPO)
    return json.loads(path.read_text())


def bmrun_point(preset: str, run_dir: Path, extra: tuple[str, ...] = ()) -> dict:
    """One ``bmrun experiment=<preset>`` from launch to exit: seconds, test accuracy, epochs."""
    command = [sys.executable, "-m", "bmrun", f"experiment={preset}", f"hydra.run.dir={run_dir}", *extra]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"epochs": metrics["epochs"], "seconds": round(seconds, 2),
            "test_accuracy": round(metrics["test"]["accuracy"], 4), "timings": metrics.get("timings", {})}


def time_to(curve: list[dict], target: float):
    """Seconds of the first point at or above ``target`` (None: never)."""
    return next((p["seconds"] for p in sorted(curve, key=lambda p: p["seconds"]) if p["test_accuracy"] >= target),
                None)


def log_curves(curves: dict[str, list[dict]], folder: Path) -> None:
    import tensorflow as tf

    for name, curve in curves.items():
        with tf.summary.create_file_writer(str(folder / name)).as_default():
            for point in sorted(curve, key=lambda p: p["seconds"]):
                tf.summary.scalar("test_accuracy_vs_time", point["test_accuracy"], step=int(point["seconds"] * 1000),
                                  description="test accuracy; step = milliseconds from the shell prompt")


def report(preset: str, keras: list[dict], full: list[dict], curve: list[dict]) -> str:
    keras90, keras91 = time_to(keras, 0.90), time_to(keras, 0.91)
    wall = statistics.median(p["seconds"] for p in full)
    accuracies = ", ".join(f"{p['test_accuracy']:.4f}" for p in full)
    reached = all(p["test_accuracy"] >= 0.91 for p in full)
    fmt = lambda s: "never" if s is None else f"{s:.1f} s"  # noqa: E731
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; wall time from the shell prompt to the "
             f"printed result, fresh processes, one session.", "",
             "| run | reaches 90% | reaches 91% | best test accuracy |", "|---|---:|---:|---:|",
             f"| Keras recipe (`model.fit`, {len(keras)} epochs) | {fmt(keras90)} | {fmt(keras91)} | "
             f"{max(p['test_accuracy'] for p in keras):.4f} |",
             f"| `bmrun experiment={preset}` ({full[0]['epochs']} epochs, median of {len(full)}) | "
             f"{fmt(time_to(curve + full, 0.90))} | {fmt(wall) if reached else 'not every run'} | {accuracies} |", ""]
    if keras90:
        lines.append(f"Speed-up to the result: the preset's 91% in {wall / keras90:.2f}x the time the Keras recipe "
                     f"needs for 90% (target: at most 0.33x).")
    timings = full[0]["timings"]
    if timings:
        lines.append("Where the preset's time goes (first run, s): " + ", ".join(f"{k.removesuffix('_s')} {v:.2f}"
                                                                                  for k, v in timings.items()) + ".")
    lines.append("Curve (epochs, s, test accuracy): Keras " + "; ".join(
        f"{p['epoch']}: {p['seconds']:.1f} s {p['test_accuracy']:.4f}" for p in keras) + " | bmrun " + "; ".join(
        f"{p['epochs']}: {p['seconds']:.1f} s {p['test_accuracy']:.4f}" for p in sorted(curve + full[:1],
                                                                                         key=lambda p: p['epochs'])))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fashion_speedrun")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keras-epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench_tta")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    full = [bmrun_point(args.preset, args.out / f"{stamp}-full-{i}") for i in range(args.repeats)]
    curve = [bmrun_point(args.preset, args.out / f"{stamp}-epochs-{k}", (f"trainer.max_epochs={k}",))
             for k in range(1, full[0]["epochs"])]
    keras = keras_curve(args.keras_epochs, args.out)
    log_curves({"keras_recipe": keras, f"bmrun_{args.preset}": curve + full}, args.out / "tensorboard" / stamp)
    text = report(args.preset, keras, full, curve)
    print(text)
    (args.out / f"{stamp}.md").write_text(text + "\n")
    if not args.no_write:
        write_section("tta", "Time to accuracy (Fashion-MNIST)", text)


if __name__ == "__main__":
    main()
