"""Streaming image folders: decode speed vs training speed, and peak memory of a streamed epoch.

    python benchmarks/bench_stream.py [--folder DIR] [--scale 3] [--limit 30000] [--json out.json]

Writes (unless ``--folder`` already holds one) Fashion-MNIST upscaled ``--scale`` times as RGB
PNGs with ``examples/make_image_folder.py`` -- with the defaults 40,000 images of 84x84x3, whose
float32 decode is 3.2 GiB (uint8: 0.8 GiB, over the default ``data.memory_budget`` of 256 MiB,
so the run streams). Then measures:

    decode_images_per_s   bmrun's decode pipeline alone (read, decode, batch; parallel, prefetch),
                          in this process over 100 batches of 128
    step_images_per_s     the default CNN's training step on the same images held resident
                          (``data.limit`` small enough to fit): bmrun's own samples/s
    streamed_images_per_s the default CNN trained from the streamed folder: bmrun's samples/s
    peak_rss_gib          peak RSS of ``bmrun data=image_folder ... trainer.max_epochs=1``
                          (resource.getrusage(RUSAGE_CHILDREN); target <= 1.2 GiB)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BMRUN = [sys.executable, "-m", "bmrun", "logger.progress_bar=false", "logger.print_config=false"]


def bmrun(args, cwd: Path) -> dict:
    proc = subprocess.run([*BMRUN, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bmrun {' '.join(args)} failed:\n{proc.stderr}")
    run_dir = next(a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir="))
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def decode_rate(folder: Path, batches: int = 100, batch_size: int = 128) -> float:
    import numpy as np

    from bmrun.data.image_decode import file_dataset
    from bmrun.data.image_files import image_header, scan_folder

    layout = scan_folder(str(folder), 0.2)
    paths, labels = layout.splits["train"]
    order = np.random.default_rng(0).permutation(len(paths))[:batches * batch_size]
    dataset = file_dataset(paths, labels, image_header(layout.first), order, batch_size).prefetch(2)
    iterator = iter(dataset)
    next(iterator)  # start-up: thread pools, first reads
    start = time.perf_counter()
    count = sum(int(x.shape[0]) for x, _ in iterator)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bmrun-bench/fashion_rgb"))
    parser.add_argument("--scale", type=int, default=3)
    parser.add_argument("--limit", type=int, default=30000, help="training images written")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    work = args.folder.parent
    work.mkdir(parents=True, exist_ok=True)
    if not (args.folder / "test").is_dir():
        subprocess.run([sys.executable, str(REPO / "examples" / "make_image_folder.py"), str(args.folder),
                        "--scale", str(args.scale), "--rgb", "--limit", str(args.limit)], check=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
              "folder": str(args.folder), "decode_images_per_s": round(decode_rate(args.folder), 1)}
    common = ["data=image_folder", f"data.path={args.folder}", "trainer.max_epochs=1"]
    # The streamed run first: RUSAGE_CHILDREN keeps the largest child's peak, so it is its own.
    start = time.perf_counter()
    streamed = bmrun([*common, f"hydra.run.dir={work / 'streamed'}"], work)
    result.update(streamed_images_per_s=round(streamed["train"]["samples_per_s"], 1),
                  streamed_wall_s=round(time.perf_counter() - start, 1),
                  streamed_test_accuracy=streamed["test"]["accuracy"],
                  peak_rss_gib=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 3))
    resident = bmrun([*common, "data.limit=4000", "data.memory_budget=8GiB",
                      f"hydra.run.dir={work / 'resident'}"], work)
    result["step_images_per_s"] = round(resident["train"]["samples_per_s"], 1)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
