"""``data=image_folder data.path=<dir>``: your own images, one subfolder per class.

Layout, class names and the default size come from the folder (:mod:`bmrun.data.image_files`,
no TensorFlow). Loading decodes every file once, in parallel (:mod:`bmrun.data.image_decode`):
when the decoded uint8 images fit ``data.memory_budget`` they are kept resident like any
array dataset; otherwise only their paths and pixel sums are kept, and the training and
evaluation pipelines read and decode the files again every epoch (streaming).

Images whose size differs from ``data.image_size`` (default: the first training image's size)
are resized to it, and the run says how many were. An unreadable file stops the run naming it,
unless ``data.on_bad_file=skip`` (then they are left out and counted).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.data.arrays import RawData
from bmrun.data.catalog import BINARY, IMAGE, MULTICLASS, InputSpec, TaskSpec
from bmrun.data.dataset import DataConfig
from bmrun.data.image_files import FileImages, FolderLayout, image_header, scan_folder
from bmrun.errors import ConfigError, DataError
from bmrun.specs import SEGMENTATION
from bmrun.data.image_cache import cached_images
from bmrun.data import mask_files, masks

log = logging.getLogger("bmrun")
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(text: str) -> int:
    """``"256MiB"`` -> 268435456 (B, KB, MB, GB, KiB, MiB, GiB; a bare number is bytes)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ConfigError("memory_budget", f"{text!r} is not a size; write e.g. 256MiB, 2GiB or 500MB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass
class ImageFolderConfig(DataConfig):
    """``data=image_folder``.

    Attributes:
        image_size: ``[height, width]`` every image is resized to; default the first training image's.
        color_mode: ``rgb``, ``grayscale`` or ``auto`` (that of the first training image).
        test_fraction: Share of each class set aside as the test split (folders without ``test/``).
        memory_budget: Largest decoded (uint8) size of all splits kept in memory; above it,
            images are streamed from disk every epoch.
        on_bad_file: ``error`` (stop, naming the file) or ``skip`` (leave it out and count it).
        cache: A folder for the decoded images of a streamed run (one memory-mapped file, built
            once): later epochs and runs read pixels instead of decoding files. Off by default.
        task: ``auto`` (two class folders: binary; more: multiclass, as for a CSV target),
            ``binary`` or ``multiclass`` (two classes as a softmax pair).
        masks: A folder of one mask per image (same file stem): segmentation instead of
            classification (:mod:`bmrun.data.masks`).
        batch_size: Training batch; 0 (auto) is 64, or with ``masks`` 8 (fewer for images over
            128x128: :func:`mask_batch_sizes`).
        eval_batch_size: Validation and test batch; 0 (auto) is 128, or with ``masks`` 16 (fewer
            for images over 128x128).
    """

    # 0 = auto: 64 images, or 8 with data.masks. A mask gives thousands of labelled pixels per
    # image, so segmentation gains from more steps rather than larger batches: on 400 64x64 scans,
    # 10 epochs at 64 reached foreground Dice 0.54, at 8 0.90 in the same time (BENCHMARKS.md).
    batch_size: int = 0
    # Evaluation batches of large images cost their conv activations at once: 1024 84x84 RGB
    # images through the default CNN peaked at 3.2 GiB RSS, 128 at 1.19 GiB (BENCHMARKS.md).
    # 0 = auto: 128, or 16 with data.masks (a U-Net keeps full-size activations per pixel; fewer
    # for large masked images, see mask_batch_sizes).
    eval_batch_size: int = 0
    image_size: Optional[List[int]] = None
    color_mode: str = "auto"  # auto | rgb | grayscale
    test_fraction: float = 0.2
    memory_budget: str = "256MiB"
    on_bad_file: str = "error"  # error | skip
    cache: Optional[str] = None  # a folder: decode once into a memory-mapped file (streamed runs)
    task: str = "auto"  # auto | binary | multiclass
    masks: Optional[str] = None  # a folder of masks (same file stems): segmentation

    def __post_init__(self) -> None:
        if self.masks and self.path and not (self.batch_size and self.eval_batch_size):
            train, evaluation = mask_batch_sizes(mask_files.image_size(self.path))
            self.batch_size, self.eval_batch_size = self.batch_size or train, self.eval_batch_size or evaluation
        if self.batch_size == 0:
            self.batch_size = 64
        if self.eval_batch_size == 0:
            self.eval_batch_size = 128
        super().__post_init__()
        if not self.path:
            raise ConfigError("path", "data=image_folder needs data.path=<folder> (one subfolder per class, "
                              "optionally under train/ and test/)")
        choice("color_mode", self.color_mode, ("auto", "rgb", "grayscale"))
        choice("on_bad_file", self.on_bad_file, ("error", "skip"))
        choice("task", self.task, ("auto", BINARY, MULTICLASS))
        in_unit_interval("test_fraction", self.test_fraction)
        parse_bytes(self.memory_budget)
        if self.masks and (self.image_size is not None or self.task != "auto"):
            key = "image_size" if self.image_size is not None else "task"
            raise ConfigError(key, "does not apply with data.masks (segmentation keeps each image's size and "
                                   "the masks' classes); resize images and masks together beforehand")
        if self.image_size is not None:
            if len(self.image_size) != 2:
                raise ConfigError("image_size", f"is [height, width], got {list(self.image_size)}")
            for side in self.image_size:
                at_least("image_size", side, 1)


_layouts: dict = {}  # (path, test_fraction) -> FolderLayout: validation and loading scan once


def layout_of(cfg) -> FolderLayout:
    key = (str(Path(cfg.path).expanduser().resolve()), cfg.test_fraction)
    if key not in _layouts:
        _layouts.clear()  # the latest only: a sweep over folders must not hold them all
        _layouts[key] = scan_folder(cfg.path, cfg.test_fraction)
    return _layouts[key]


# Pixels in one auto batch of masked images: a U-Net keeps several full-size feature maps per
# pixel for the backward pass, so its memory follows pixels, not images. Two scans of 256x256
# train as well as four and hold 90 to 200 MiB less (BENCHMARKS.md, "Under the bar").
BATCH_PIXELS = 2**17


def mask_batch_sizes(size: Optional[tuple[int, int]]) -> tuple[int, int]:
    """Auto training and evaluation batches of masked images of ``size``: 8 and 16, fewer when a
    batch would pass :data:`BATCH_PIXELS` (2 and 2 at 256x256, 8 and 8 at 128x128, 8 and 16 up
    to 90x90)."""
    if size is None:  # unreadable folder: the scan reports it
        return 8, 16
    fit = max(BATCH_PIXELS // max(size[0] * size[1], 1), 1)
    return min(8, fit), min(16, fit)


def image_shape(cfg, layout: FolderLayout) -> tuple[int, int, int]:
    """``(height, width, channels)`` every image is decoded to."""
    height, width, channels = image_header(layout.first)
    if cfg.image_size is not None:
        height, width = (int(side) for side in cfg.image_size)
    if cfg.color_mode != "auto":
        channels = 1 if cfg.color_mode == "grayscale" else 3
    return height, width, channels


def load(cfg, seed: int) -> RawData:
    """Check and decode every file once; resident arrays, or :class:`FileImages` to stream."""
    # bmrun.data.image_decode loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.data.image_decode import check_files

    layout = layout_of(cfg)
    shape = image_shape(cfg, layout)
    names = list(layout.splits)
    paths = np.concatenate([layout.splits[s][0] for s in names])
    labels = np.concatenate([layout.splits[s][1] for s in names])
    stream = len(paths) * int(np.prod(shape)) > parse_bytes(cfg.memory_budget)
    check = check_files(paths, shape, keep_pixels=not stream)
    notes = [f"{len(paths)} images of {len(layout.classes)} classes from {layout.root}"]
    if stream:
        notes.append(f"streamed from disk (decoded size {len(paths) * int(np.prod(shape)) / 2**20:.0f} MiB "
                     f"> data.memory_budget={cfg.memory_budget})")
    if len(check.bad):
        _bad_files(paths[check.bad], cfg, notes)
    if check.resized:
        notes.append(f"{check.resized} images not {shape[0]}x{shape[1]} were resized to it")
        log.warning("%d images were not %dx%d and were resized to it (data.image_size sets the size)",
                    check.resized, shape[0], shape[1])
    split_of = np.concatenate([[i] * len(layout.splits[s][0]) for i, s in enumerate(names)])[check.ok]
    pixels = check.images
    if stream:
        kept = paths[check.ok]
        cache = None
        if cfg.cache:
            cache = cached_images(cfg.cache, kept, shape)
            notes.append(f"decoded once into the cache in {cfg.cache}")
        pixels = FileImages(kept, shape, check.sums, check.squares, cache,
                            None if cache is None else np.arange(len(kept)))
    kept_labels = labels[check.ok]
    arrays = {}
    for i, name in enumerate(names):
        mask = split_of == i
        if not mask.any():
            raise DataError(f"every image of the {name} split of {layout.root} is unreadable.")
        arrays[name] = (pixels[mask], kept_labels[mask])
    val = arrays.get("val", (None, None))
    return RawData(*arrays["train"], *arrays["test"], val[0], val[1], notes="; ".join(notes))


def _bad_files(bad: np.ndarray, cfg, notes: list) -> None:
    shown = ", ".join(str(p) for p in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    if cfg.on_bad_file == "error":
        raise DataError(f"{len(bad)} unreadable image file{'s' if len(bad) > 1 else ''} (corrupt, truncated or not "
                        f"an image): {shown}. Fix or remove {'them' if len(bad) > 1 else 'it'}, or pass "
                        f"data.on_bad_file=skip to leave unreadable files out.")
    notes.append(f"skipped {len(bad)} unreadable files (data.on_bad_file=skip): {shown}")
    log.warning("skipped %d unreadable image files: %s", len(bad), shown)


def class_task(classes: tuple[str, ...], task: str) -> TaskSpec:
    """The task of the class folders: the rule of a CSV target (``data/csv.py``), so the same two
    classes train the same way from a table or from images. Two classes are binary (one sigmoid
    output, ROC-AUC and PR-AUC reported) unless ``data.task=multiclass``; more are multiclass.

    Raises:
        ConfigError: ``data.task=binary`` with more than two class folders.
    """
    if task == BINARY and len(classes) != 2:
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        raise ConfigError("data.task", f"binary needs two class folders, and data.path has {len(classes)} ({shown}); "
                                  f"use data.task=multiclass or auto.")
    kind = BINARY if len(classes) == 2 and task != MULTICLASS else MULTICLASS
    return TaskSpec(kind, len(classes), tuple(classes))


class ImageFolderDataset:
    """The ``image_folder`` option: its specs come from the folder named by ``data.path``."""

    name = "image_folder"
    config = ImageFolderConfig
    summary = "your images: data.path=<folder>/<class>/*.png (train/, test/ optional)"
    package = "bmrun"
    builtin = True

    def specs(self, cfg) -> tuple[TaskSpec, InputSpec]:
        if cfg.masks:  # segmentation: the classes are the masks' indices
            classes, shape = masks.folder_specs(cfg)
            return TaskSpec(SEGMENTATION, len(classes), classes), InputSpec(IMAGE, shape)
        layout = layout_of(cfg)
        return class_task(layout.classes, cfg.task), InputSpec(IMAGE, image_shape(cfg, layout))

    def load(self, cfg, seed: int) -> RawData:
        if cfg.masks:
            return masks.load(cfg, parse_bytes(cfg.memory_budget))
        return load(cfg, seed)


DATASET = ImageFolderDataset()
