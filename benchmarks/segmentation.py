"""Segmentation quality against Otsu thresholding, and peak memory.

    python benchmarks/segmentation.py [--count 2000] [--size 256] [--epochs 15] [--folder DIR]

Draws synthetic microscopy scans: touching, overlapping cells (ellipses of varied size and
brightness) under a strong illumination gradient (uneven lighting), blurred, with Gaussian and
shot noise. Then, in one process:

- **Otsu** (``skimage.filters.threshold_otsu``, what a user tries first): one global threshold per
  test image, scored with the same confusion-matrix metrics bmrun reports.
- **bmrun**: the plain command ``bmrun data=image_folder data.path=<scans> data.masks=<masks>
  model=unet`` (plus ``trainer.max_epochs``), run as a subprocess whose peak RSS is read from
  ``getrusage``.

The bars of issue 31: bmrun's test mean IoU beats Otsu's by >= 0.1 and its foreground Dice is
>= 0.9; peak RSS <= 1.5 GiB at 2,000 images of 256x256. scikit-image is a benchmark-only
dependency (``pip install scikit-image``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def draw(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One scan (uint8) and its binary mask: touching cells, uneven light, blur, noise."""
    from scipy.ndimage import gaussian_filter

    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    mask = np.zeros((size, size), bool)
    signal = np.zeros((size, size), np.float32)
    for _ in range(rng.integers(6, 14)):
        cy, cx = rng.uniform(0, size, 2)
        ry, rx = rng.uniform(size * 0.04, size * 0.12, 2)
        angle = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
        v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
        cell = u * u + v * v <= 1.0
        mask |= cell
        signal[cell] = np.maximum(signal[cell], rng.uniform(0.5, 1.0))
    # Uneven illumination: a tilted plane and a vignette, stronger than the cells' contrast.
    direction = rng.uniform(0, 2 * np.pi)
    plane = (np.cos(direction) * (xx / size - 0.5) + np.sin(direction) * (yy / size - 0.5))
    vignette = ((xx / size - 0.5) ** 2 + (yy / size - 0.5) ** 2)
    light = 0.25 + 0.9 * (plane + 0.5) - 0.6 * vignette
    image = gaussian_filter(light + 0.45 * signal, sigma=1.5)
    image = rng.poisson(np.clip(image, 0, None) * 60) / 60.0 + rng.normal(0, 0.05, image.shape)
    return np.clip(image / 1.6 * 255, 0, 255).astype(np.uint8), mask.astype(np.uint8)


def make_folder(root: Path, count: int, size: int, seed: int = 0) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "scans" / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image, mask = draw(rng, size)
        Image.fromarray(image).save(root / "scans" / "images" / f"cell_{i:05d}.png")
        Image.fromarray(mask * 255).save(root / "masks" / f"cell_{i:05d}.png")


def otsu_scores(root: Path, test_fraction: float = 0.2) -> dict:
    """Otsu on each test image (the same test split bmrun sets aside), pooled confusion matrix."""
    from PIL import Image
    from skimage.filters import threshold_otsu

    from bmrun.confusion import segmentation_metrics
    from bmrun.data.mask_files import image_splits

    confusion = np.zeros((2, 2))
    for path in image_splits(root / "scans", test_fraction)["test"]:
        image = np.asarray(Image.open(path), np.float32)
        truth = np.asarray(Image.open(root / "masks" / Path(path).name)) > 0
        predicted = image > threshold_otsu(image)
        for t in (0, 1):
            for p in (0, 1):
                confusion[t, p] += np.sum((truth == t) & (predicted == p))
    return segmentation_metrics(confusion)


def run_bmrun(root: Path, epochs: int, extra: list[str]) -> tuple[dict, float]:
    """The plain command as a subprocess: its test metrics and peak RSS (GiB)."""
    run_dir = root / "run"
    command = [sys.executable, "-m", "bmrun", "data=image_folder", f"data.path={root / 'scans'}",
               f"data.masks={root / 'masks'}", "model=unet", f"trainer.max_epochs={epochs}",
               "logger.progress_bar=false", f"hydra.run.dir={run_dir}", *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    subprocess.run(command, check=True, env=env)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
    return json.loads((run_dir / "metrics.json").read_text())["test"], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--folder", help="keep the scans here (default: a temporary folder)")
    parser.add_argument("overrides", nargs="*", help="more bmrun overrides, e.g. loss=dice_ce")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.folder or scratch)
        if not (root / "masks").is_dir():
            make_folder(root, args.count, args.size)
        otsu = otsu_scores(root)
        test, peak = run_bmrun(root, args.epochs, args.overrides)
    print(f"{args.count} scans of {args.size}x{args.size}, {args.epochs} epochs")
    print(f"otsu   mean_iou {otsu['mean_iou']:.3f}  dice {otsu['dice']:.3f}  pixel_accuracy {otsu['pixel_accuracy']:.3f}")
    print(f"bmrun  mean_iou {test['mean_iou']:.3f}  dice {test['dice']:.3f}  pixel_accuracy "
          f"{test['pixel_accuracy']:.3f}  peak RSS {peak:.2f} GiB")
    print(f"bars: mean IoU +{test['mean_iou'] - otsu['mean_iou']:.3f} over Otsu (>= 0.1), dice {test['dice']:.3f} "
          f"(>= 0.9), peak RSS {peak:.2f} GiB (<= 1.5)")


if __name__ == "__main__":
    main()
