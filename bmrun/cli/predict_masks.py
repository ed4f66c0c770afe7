"""``bmrun-predict`` for segmentation runs: a predicted mask per image, its overlay and the areas.

For each input image it writes, under ``<run dir>/predictions/``, ``<stem>_mask.png`` (the class
index of every pixel, 8-bit) and ``<stem>_overlay.png`` (the image with each foreground class
tinted in its own colour), and one ``areas.csv`` row of pixels per class.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from bmrun.explain.figures import mask_overlay as overlay


def write_masks(outputs: np.ndarray, batch: np.ndarray, labels: Sequence[str], class_names: Optional[Sequence[str]],
                out_dir: Path) -> list[dict[str, Any]]:
    """Write each example's mask, overlay and areas; return one record per example.

    Args:
        outputs: The model's logits ``[n, height, width, classes]``.
        batch: The images the model read (raw pixels).
        labels: One name per example (its file).
        class_names: Names of the classes, or None (``class_0``, ...).
        out_dir: Where the files go (created).
    """
    from PIL import Image  # Pillow writes the PNGs (a bmrun dependency)

    out_dir.mkdir(parents=True, exist_ok=True)
    k = outputs.shape[-1]
    names = list(class_names) if class_names is not None and len(class_names) == k else [f"class_{i}" for i in range(k)]
    records, used = [], set()
    for label, image, logits in zip(labels, batch, outputs):
        stem = Path(label.split("[")[0]).stem + (f"_{label.split('[')[1].rstrip(']')}" if "[" in label else "")
        while stem in used:  # two inputs of one name from different folders
            stem += "_"
        used.add(stem)
        mask = np.argmax(logits, axis=-1).astype(np.uint8)
        mask_path, overlay_path = out_dir / f"{stem}_mask.png", out_dir / f"{stem}_overlay.png"
        Image.fromarray(mask).save(mask_path)
        Image.fromarray(overlay(image, mask)).save(overlay_path)
        areas = np.bincount(mask.reshape(-1), minlength=k)
        records.append({"input": label, "mask": str(mask_path), "overlay": str(overlay_path),
                        "areas": {name: int(areas[i]) for i, name in enumerate(names)}})
    with open(out_dir / "areas.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["input", "mask", *names, "pixels"])
        for record in records:
            writer.writerow([record["input"], record["mask"], *record["areas"].values(),
                             sum(record["areas"].values())])
    return records
