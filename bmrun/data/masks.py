"""``data=image_folder data.masks=<folder>``: images and their masks, for segmentation (no TensorFlow).

Images sit under ``data.path`` (in ``images/``, directly, or in ``train/`` and ``test/``, each
optionally with its own ``images/``); each has a mask of the same file stem under ``data.masks``
(directly, or in the split's subfolder): a PNG of class indices (0 = background, a palette PNG's
indices included) or a binary mask of 0 and 255. Class names come from ``classes.txt`` (one per
line, in ``data.masks`` or ``data.path``), else ``class_0``, ``class_1``, ...

An image without a mask, a mask whose size is not its image's, a class index past the declared
classes and an image of another size than the others are *bad pairs*: with
``data.on_bad_file=skip`` they are left out and counted, otherwise the run stops naming the file.
Masks are read once with Pillow and kept (uint8): the scan that validation does is the one
loading reuses.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from bmrun.data.image_files import SUFFIXES, TEST_SPLIT_SEED, image_header
from bmrun.data.mask_files import read_mask, refuse_16_bit
from bmrun.errors import DataError
from bmrun.data.arrays import RawData

log = logging.getLogger("bmrun")


@dataclass
class MaskedFolder:
    """Images, their masks and what was wrong with the rest.

    Attributes:
        root: ``data.path``.
        masks_root: The mask folder.
        classes: Class names (index ``i`` is ``classes[i]``).
        splits: ``{"train"|"test": (image paths, masks [n, height, width] uint8)}`` of good pairs.
        shape: ``(height, width, channels)`` of every image.
        bad: ``[(path, reason)]`` of the pairs left out.
        binary: How many masks were 0/255 and read as 0/1.
    """

    root: Path
    masks_root: Path
    classes: tuple[str, ...]
    splits: dict = field(default_factory=dict)
    shape: tuple[int, int, int] = (0, 0, 0)
    bad: list = field(default_factory=list)
    binary: int = 0


_cache: dict = {}  # (path, masks, test_fraction) -> MaskedFolder: validation and loading read masks once
_specs: dict = {}  # the same key -> (classes, shape, bad pairs): what the specs need, kept after loading


def _key(cfg) -> tuple:
    return str(Path(cfg.path).expanduser().resolve()), str(cfg.masks), cfg.test_fraction


def masked_folder(cfg) -> MaskedFolder:
    """The checked pairs of ``data.path`` and ``data.masks`` (read once per folder pair)."""
    key = _key(cfg)
    if key not in _cache:
        forget()  # the latest only: a sweep over folders must not hold them all
        _cache[key] = scan(cfg.path, cfg.masks, cfg.test_fraction)
    found = _cache[key]
    _refuse_bad_pairs(found.bad, cfg)
    for split, (_, masks) in found.splits.items():
        if masks is None:
            raise DataError(f"no image of the {split} split of {found.root} has a usable mask ({len(found.bad)} "
                            f"image/mask pairs left out, e.g. {found.bad[0][0]}: {found.bad[0][1]}).")
    _specs[key] = (found.classes, found.shape, found.bad)
    return found


def folder_specs(cfg) -> tuple[tuple[str, ...], tuple[int, int, int]]:
    """Class names and image shape of the pairs. After :func:`load` they come from what it kept,
    not from reading every mask again (a second copy of the masks for the whole run)."""
    key = _key(cfg)
    if key not in _specs:
        masked_folder(cfg)
    classes, shape, bad = _specs[key]
    _refuse_bad_pairs(bad, cfg)
    return classes, shape


def forget() -> None:
    """Drop what was read of the last folder pair (its files changed)."""
    _cache.clear()
    _specs.clear()


def _refuse_bad_pairs(bad: list, cfg) -> None:
    if bad and cfg.on_bad_file == "error":
        path, reason = bad[0]
        more = f" ({len(bad) - 1} more image/mask pairs have problems)" if len(bad) > 1 else ""
        raise DataError(f"{path}: {reason}{more}. Fix it, or pass data.on_bad_file=skip to leave such pairs out "
                        f"(they are counted).")


def scan(path: str, masks: str, test_fraction: float) -> MaskedFolder:
    """Pair every image with its mask, read and check the masks.

    Raises:
        DataError: No image folder, no mask folder, no images, an RGB mask or a 16-bit image.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"data.path={path} does not exist; data=image_folder data.masks=... needs a folder of "
                        f"images (in images/, or train/ and test/).")
    masks_root = _mask_folder(root, masks)
    image_splits = _image_splits(root, test_fraction)
    mask_of = _mask_files(masks_root)
    first = Path(image_splits["train"][0])
    shape = image_header(first)
    classes = _declared_classes(masks_root, root)
    found = MaskedFolder(root, masks_root, classes or (), shape=shape)
    read: dict = {}
    for split, paths in image_splits.items():
        good, arrays = [], []
        for image in paths:
            mask = mask_of.get((split, Path(image).stem)) or mask_of.get((None, Path(image).stem))
            values, reason = _pair(Path(image), mask, shape, found)
            if reason:
                found.bad.append((image, reason))
                continue
            good.append(image)
            arrays.append(values)
        read[split] = (good, arrays)
    top = max((int(m.max()) for _, arrays in read.values() for m in arrays), default=1)
    if classes is None:
        found.classes = tuple(f"class_{i}" for i in range(max(top + 1, 2)))
    for split in list(read):
        good, arrays = read.pop(split)  # each mask list freed once stacked: one copy of the masks at a time
        keep = [i for i, m in enumerate(arrays) if _in_range(good[i], m, found)]
        found.splits[split] = (np.array([good[i] for i in keep]),
                               np.stack([arrays[i] for i in keep]) if keep else None)  # uint8 already
        del arrays
    return found


def image_size(path: str) -> Optional[tuple[int, int]]:
    """``(height, width)`` of the first image under ``data.path`` (a header read), or None when the
    folder cannot be read: :func:`scan` then says what is wrong."""
    root = Path(path).expanduser()
    for folder in (root / "images", root / "train" / "images", root / "train", root):
        try:
            first = _files(folder)[:1] if folder.is_dir() else []
            if first:
                height, width, _ = image_header(Path(first[0]))
                return height, width
        except (DataError, OSError, ValueError):
            return None
    return None


def _mask_folder(root: Path, masks: str) -> Path:
    """``data.masks`` as given, else under ``data.path``."""
    given = Path(masks).expanduser()
    for candidate in (given, root / masks):
        if candidate.is_dir():
            return candidate
    raise DataError(f"data.masks={masks}: no such folder (looked at {given.resolve()} and {root / masks}). It is "
                    f"the folder of one mask per image, with the image's file stem (scan_01.png -> "
                    f"{masks}/scan_01.png).")


def _files(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.path for e in entries
                      if not e.name.startswith(".") and e.name.lower().endswith(SUFFIXES) and e.is_file())


def _image_splits(root: Path, test_fraction: float) -> dict:
    def images(folder: Path) -> list[str]:
        return _files(folder / "images" if (folder / "images").is_dir() else folder)

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


def _mask_files(masks_root: Path) -> dict:
    """``{(split or None, stem): path}``: masks directly in the folder and in its split subfolders."""
    found = {(None, Path(p).stem): p for p in _files(masks_root)}
    for split in ("train", "val", "test"):
        if (masks_root / split).is_dir():
            found.update({(split, Path(p).stem): p for p in _files(masks_root / split)})
    return found


def _declared_classes(masks_root: Path, root: Path) -> Optional[tuple[str, ...]]:
    for folder in (masks_root, root):
        if (folder / "classes.txt").is_file():
            names = [line.strip() for line in (folder / "classes.txt").read_text().splitlines() if line.strip()]
            if len(names) < 2:
                raise DataError(f"{folder / 'classes.txt'} names {len(names)} class; segmentation needs the "
                                f"background and at least one class, one name per line.")
            return tuple(names)
    return None


def _pair(image: Path, mask: Optional[str], shape: tuple, found: MaskedFolder):
    """``(mask values, None)`` for a good pair, else ``(None, reason)``."""
    if mask is None:
        return None, f"has no mask (no {image.stem}.png in {found.masks_root})"
    refuse_16_bit(image)
    try:
        height, width, _ = image_header(image)
    except DataError:
        return None, "is not a readable image"
    if (height, width) != shape[:2]:
        return None, (f"is {height}x{width} and the first image is {shape[0]}x{shape[1]}; segmentation needs one "
                      f"size (resize images and masks alike, masks with nearest-neighbour)")
    values = read_mask(Path(mask))
    if values is None:
        return None, f"its mask {mask} is not a readable image"
    if values.shape != (height, width):
        return None, (f"is {height}x{width} but its mask {mask} is {values.shape[0]}x{values.shape[1]}; an image "
                      f"and its mask must have the same size")
    if values.max() == 255 and set(np.unique(values).tolist()) <= {0, 255}:  # a binary mask: 0/255 -> 0/1
        found.binary += 1
        values = (values // 255).astype(np.uint8)
    return values, None


def _in_range(image: str, mask: np.ndarray, found: MaskedFolder) -> bool:
    top = int(mask.max())
    if top < len(found.classes):
        return True
    found.bad.append((image, f"its mask has class index {top} and {len(found.classes)} classes are declared "
                             f"(classes.txt: indices 0..{len(found.classes) - 1}); add the class to classes.txt or "
                             f"fix the mask"))
    return False


def load(cfg, budget: int):
    """The pairs as resident arrays: uint8 images (decoded once) and uint8 masks.

    Args:
        cfg: The ``image_folder`` config.
        budget: ``data.memory_budget`` in bytes.

    Raises:
        DataError: The images do not fit ``data.memory_budget`` (masks are not streamed), or an
            image cannot be decoded (without ``data.on_bad_file=skip``).
    """
    from bmrun.data.image_decode import check_files  # TensorFlow: only when loading

    found = masked_folder(cfg)
    total = sum(len(paths) for paths, _ in found.splits.values())
    size = total * int(np.prod(found.shape))
    if size > budget:
        raise DataError(f"{total} images of {found.shape[0]}x{found.shape[1]}x{found.shape[2]} take {size / 2**20:.0f} "
                        f"MiB decoded, over data.memory_budget={cfg.memory_budget}; segmentation keeps images and "
                        f"masks in memory (they are not streamed from disk). Raise data.memory_budget (e.g. "
                        f"data.memory_budget={int(size / 2**20 * 1.1) + 1}MiB) or use fewer images (data.limit).")
    notes = [f"{total} images with masks of {len(found.classes)} classes from {found.root} and {found.masks_root}"]
    if found.binary:
        notes.append(f"{found.binary} binary masks (0/255) read as 0/1")
    arrays = {}
    for split, (paths, masks) in found.splits.items():
        check = check_files(paths, found.shape, keep_pixels=True)
        if len(check.bad):
            if cfg.on_bad_file == "error":
                raise DataError(f"{paths[check.bad[0]]}: not a readable image (corrupt or truncated). Fix or remove "
                                f"it, or pass data.on_bad_file=skip to leave unreadable files out.")
            found.bad += [(p, "is not a readable image") for p in paths[check.bad]]
        arrays[split] = (check.images, masks if len(check.ok) == len(masks) else masks[check.ok])
    # The scan's masks now live in the returned arrays: the cache must not keep a second hold on
    # them for the whole run (a later look at the folder scans it again).
    _cache.clear()
    if found.bad:
        shown = ", ".join(str(p) for p, _ in found.bad[:3]) + (f" and {len(found.bad) - 3} more"
                                                              if len(found.bad) > 3 else "")
        notes.append(f"skipped {len(found.bad)} image/mask pairs (data.on_bad_file=skip): {shown}")
        log.warning("skipped %d image/mask pairs: %s", len(found.bad), shown)
    return RawData(*arrays["train"], *arrays["test"], notes="; ".join(notes))
