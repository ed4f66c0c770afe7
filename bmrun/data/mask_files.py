"""The files of a segmentation folder pair: the images of each split, the mask of each image stem,
``classes.txt``, one mask read as class indices, and the 16-bit images refused (Pillow, no
TensorFlow). :mod:`bmrun.data.masks` pairs and checks them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from bmrun.data.image_files import SUFFIXES, TEST_SPLIT_SEED, image_header
from bmrun.errors import DataError

_RGB_HINT = ("convert it to one channel of class indices (0 = background, 1, 2, ...), e.g. with Pillow: "
             "Image.fromarray(indices.astype('uint8')).save(path), where indices maps each colour to its class; "
             "a palette ('P' mode) PNG is read as its indices")


def image_size(path: str) -> Optional[tuple[int, int]]:
    """``(height, width)`` of the first image under ``data.path`` (a header read), or None when the
    folder cannot be read: :func:`bmrun.data.masks.scan` then says what is wrong."""
    root = Path(path).expanduser()
    for folder in (root / "images", root / "train" / "images", root / "train", root):
        try:
            first = files_in(folder)[:1] if folder.is_dir() else []
            if first:
                height, width, _ = image_header(Path(first[0]))
                return height, width
        except (DataError, OSError, ValueError):
            return None
    return None


def mask_folder(root: Path, masks: str) -> Path:
    """``data.masks`` as given, else under ``data.path``."""
    given = Path(masks).expanduser()
    for candidate in (given, root / masks):
        if candidate.is_dir():
            return candidate
    raise DataError(f"data.masks={masks}: no such folder (looked at {given.resolve()} and {root / masks}). It is "
                    f"the folder of one mask per image, with the image's file stem (scan_01.png -> "
                    f"{masks}/scan_01.png).")


def files_in(folder: Path) -> list[str]:
    """The image files directly in ``folder`` (no hidden ones), sorted."""
    with os.scandir(folder) as entries:
        return sorted(e.path for e in entries
                      if not e.name.startswith(".") and e.name.lower().endswith(SUFFIXES) and e.is_file())


def image_splits(root: Path, test_fraction: float) -> dict:
    """``{"train": paths, "test": paths}``: ``train/`` and ``test/`` as given, else a seeded
    ``test_fraction`` of the images set aside (the split image folders use)."""
    def images(folder: Path) -> list[str]:
        return files_in(folder / "images" if (folder / "images").is_dir() else folder)

    if (root / "train").is_dir() and (root / "test").is_dir():
        splits = {"train": images(root / "train"), "test": images(root / "test")}
    else:
        pool = np.array(images(root))
        order = np.random.default_rng(TEST_SPLIT_SEED).permutation(len(pool))
        n_test = int(round(len(pool) * test_fraction))
        splits = {"train": sorted(pool[order[n_test:]].tolist()), "test": sorted(pool[order[:n_test]].tolist())}
    for split, paths in splits.items():
        if not paths:
            raise DataError(f"{root}: no images for the {split} split (PNG, JPEG, BMP or GIF files in images/, "
                            f"directly, or in train/ and test/); add some or lower data.test_fraction's rounding "
                            f"to zero by adding images.")
    return splits


def mask_files(masks_root: Path) -> dict:
    """``{(split or None, stem): path}``: masks directly in the folder and in its split subfolders."""
    found = {(None, Path(p).stem): p for p in files_in(masks_root)}
    for split in ("train", "val", "test"):
        if (masks_root / split).is_dir():
            found.update({(split, Path(p).stem): p for p in files_in(masks_root / split)})
    return found


def declared_classes(masks_root: Path, root: Path) -> Optional[tuple[str, ...]]:
    """The class names of ``classes.txt`` (in the mask folder, else in ``data.path``), or None."""
    for folder in (masks_root, root):
        if (folder / "classes.txt").is_file():
            names = [line.strip() for line in (folder / "classes.txt").read_text().splitlines() if line.strip()]
            if len(names) < 2:
                raise DataError(f"{folder / 'classes.txt'} names {len(names)} class; segmentation needs the "
                                f"background and at least one class, one name per line.")
            return tuple(names)
    return None


def read_mask(path: Path) -> Optional[np.ndarray]:
    """The ``[height, width]`` uint8 class indices of one mask; None when it is not a readable image.

    Raises:
        DataError: A colour mask (not one grey channel), or values past 255.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow reads palette indices as they are

    try:
        with Image.open(path) as image:
            mode = image.mode
            values = np.asarray(image)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    if mode in ("RGB", "RGBA", "LA") and values.ndim == 3:
        colour = values[..., :3] if mode != "LA" else values[..., :1]
        if mode == "LA" or (np.array_equal(colour[..., 0], colour[..., 1])
                            and np.array_equal(colour[..., 0], colour[..., 2])):
            return colour[..., 0].astype(np.uint8)
        raise DataError(f"{path} is an RGB mask (colours, not class indices); {_RGB_HINT}.")
    if values.dtype != np.uint8 and values.size and (values.min() < 0 or values.max() > 255):
        raise DataError(f"{path} has mask values up to {int(values.max())}; masks hold class indices 0..255 "
                        f"(8-bit PNG).")
    return values.astype(np.uint8)


def refuse_16_bit(image: Path) -> None:
    """Refuse a 16-bit PNG (read from its header), saying how to convert it.

    Raises:
        DataError: ``image`` is a PNG of 16 bits a channel.
    """
    if image.suffix.lower() != ".png":
        return
    with open(image, "rb") as handle:
        head = handle.read(26)
    if len(head) >= 25 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16:
        raise DataError(f"{image} is a 16-bit PNG; bmrun reads 8-bit images. Convert it, e.g. with Pillow: "
                        f"Image.fromarray((np.asarray(Image.open(p)) // 256).astype('uint8')).save(p) (or rescale "
                        f"its own range to 0..255 first if it uses only part of 16 bits).")
