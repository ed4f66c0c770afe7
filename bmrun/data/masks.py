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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from bmrun.data.image_files import FileImages, image_header
from bmrun.data.mask_files import (declared_classes, image_splits, mask_files, mask_folder, read_mask,
                                    refuse_16_bit)
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
    masks_root = mask_folder(root, masks)
    listed = image_splits(root, test_fraction)
    mask_of = mask_files(masks_root)
    first = Path(listed["train"][0])
    shape = image_header(first)
    classes = declared_classes(masks_root, root)
    found = MaskedFolder(root, masks_root, classes or (), shape=shape)
    read: dict = {}
    for split, paths in listed.items():
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
    """The pairs: uint8 images decoded once and kept, or, when they would take more than
    ``data.memory_budget``, kept as files (:class:`~bmrun.data.image_files.FileImages`, read again
    every epoch, or from ``data.cache``); the uint8 masks are kept either way.

    Args:
        cfg: The ``image_folder`` config.
        budget: ``data.memory_budget`` in bytes.

    Raises:
        DataError: An image cannot be decoded (without ``data.on_bad_file=skip``).
    """
    from bmrun.data.image_decode import check_files  # TensorFlow: only when loading

    found = masked_folder(cfg)
    total = sum(len(paths) for paths, _ in found.splits.values())
    size = total * int(np.prod(found.shape))
    stream = size > budget
    notes = [f"{total} images with masks of {len(found.classes)} classes from {found.root} and {found.masks_root}"]
    if found.binary:
        notes.append(f"{found.binary} binary masks (0/255) read as 0/1")
    if stream:
        notes.append(f"images streamed from disk (decoded size {size / 2**20:.0f} MiB > data.memory_budget="
                     f"{cfg.memory_budget}), masks kept")
    arrays = {}
    for split, (paths, masks) in found.splits.items():
        check = check_files(paths, found.shape, keep_pixels=not stream)
        if len(check.bad):
            if cfg.on_bad_file == "error":
                raise DataError(f"{paths[check.bad[0]]}: not a readable image (corrupt or truncated). Fix or remove "
                                f"it, or pass data.on_bad_file=skip to leave unreadable files out.")
            found.bad += [(p, "is not a readable image") for p in paths[check.bad]]
        images = FileImages(paths[check.ok], found.shape, check.sums, check.squares) if stream else check.images
        arrays[split] = (images, masks if len(check.ok) == len(masks) else masks[check.ok])
    if stream and cfg.cache:
        arrays = _cached(arrays, cfg.cache, found.shape)
        notes.append(f"decoded once into the cache in {cfg.cache}")
    # The scan's masks now live in the returned arrays: the cache must not keep a second hold on
    # them for the whole run (a later look at the folder scans it again).
    _cache.clear()
    if found.bad:
        shown = ", ".join(str(p) for p, _ in found.bad[:3]) + (f" and {len(found.bad) - 3} more"
                                                              if len(found.bad) > 3 else "")
        notes.append(f"skipped {len(found.bad)} image/mask pairs (data.on_bad_file=skip): {shown}")
        log.warning("skipped %d image/mask pairs: %s", len(found.bad), shown)
    return RawData(*arrays["train"], *arrays["test"], notes="; ".join(notes))


def _cached(arrays: dict, cache_dir: str, shape: tuple) -> dict:
    """The streamed splits read from one memory-mapped file of every split's decoded images."""
    from bmrun.data.image_cache import cached_images  # TensorFlow: only when loading

    cache = cached_images(cache_dir, np.concatenate([images.paths for images, _ in arrays.values()]), shape)
    start, cached = 0, {}
    for split, (images, masks) in arrays.items():
        rows = np.arange(start, start + len(images))
        cached[split] = (FileImages(images.paths, shape, images.sums, images.squares, cache, rows), masks)
        start += len(images)
    return cached
