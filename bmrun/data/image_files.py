"""An image folder on disk, without TensorFlow: its layout, its files, their headers.

``data=image_folder`` reads one subfolder per class (the folder names are the class names).
When the folder holds ``train/`` and ``test/`` (and optionally ``val/``), each is a split with
the same class subfolders; otherwise every image is in one pool that is split into train and
test by a stratified split with a fixed seed (the test set never moves between runs).

Config validation needs the classes and the input shape before anything heavy starts: both
come from the folder listing and from the first image's header (:func:`image_header`), parsed
here for PNG, JPEG, BMP and GIF, so validation neither decodes an image nor imports TensorFlow.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from bmrun.data.splits import share, stratified_pick
from bmrun.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
SPLIT_FOLDERS = ("train", "val", "test")
TEST_SPLIT_SEED = 20240601  # like arrays.fixed_test_split: the test set of a folder never moves


@dataclass(frozen=True)
class FileKind:
    """What a class folder holds, for the listing and its messages (images here; audio clips too).

    Attributes:
        noun: ``images`` or ``clips``.
        suffixes: File name endings read (lower case).
        formats: The formats, as messages name them.
        option: The ``data=`` option that reads such folders.
        folder: The folder, as messages name it.
    """

    noun: str
    suffixes: tuple[str, ...]
    formats: str
    option: str
    folder: str


IMAGES = FileKind("images", SUFFIXES, "PNG, JPEG, BMP, GIF", "image_folder", "an image folder")


@dataclass
class FolderLayout:
    """What a folder holds: class names and, per split, its image paths and labels.

    Attributes:
        root: The folder (``data.path``).
        classes: Class names, sorted; label ``i`` is ``classes[i]``.
        splits: ``{"train"|"val"|"test": (paths, labels)}``; ``val`` only when the folder has one.
        first: The first training image (its header gives the default size and channels).
    """

    root: Path
    classes: tuple[str, ...]
    splits: dict = field(default_factory=dict)
    first: Optional[Path] = None

    def count(self) -> int:
        return sum(len(paths) for paths, _ in self.splits.values())


def _images_in(folder: Path, kind: FileKind = IMAGES) -> list[str]:
    """Image files directly in ``folder``, sorted by name (hidden files and other kinds ignored)."""
    with os.scandir(folder) as entries:
        return sorted(e.path for e in entries
                      if not e.name.startswith(".") and e.name.lower().endswith(kind.suffixes) and e.is_file())


def _class_folders(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return sorted((Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")),
                      key=lambda p: p.name)


def _read_classes(folder: Path, classes: Optional[tuple[str, ...]] = None,
                  kind: FileKind = IMAGES) -> tuple[tuple[str, ...], list, list]:
    """Paths and labels of the class subfolders of ``folder`` (labels follow ``classes`` when given)."""
    subfolders = _class_folders(folder)
    if not subfolders:
        images = _images_in(folder, kind)
        found = f"{len(images)} {kind.noun} but no class subfolders" if images else "no class subfolders"
        raise DataError(f"{folder} is empty as {kind.folder} ({found}). data={kind.option} needs one "
                        f"subfolder per class holding its {kind.noun} ({kind.formats}): {folder}/<class>/<file>"
                        f"{kind.suffixes[0]}, optionally under train/ and test/.")
    names = tuple(p.name for p in subfolders)
    if classes is not None:
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise DataError(f"{folder} has class folders that train/ lacks: {', '.join(unknown)}. Every split "
                            f"must use the classes of {folder.parent / 'train'} ({', '.join(classes)}).")
    else:
        classes = names
    paths, labels = [], []
    for sub in subfolders:
        images = _images_in(sub, kind)
        if not images:
            raise DataError(f"class folder {sub} has no {kind.noun} ({kind.formats} files); add some or "
                            f"remove the folder.")
        paths += images
        labels += [classes.index(sub.name)] * len(images)
    return classes, paths, labels


def scan_folder(path: str, test_fraction: float, kind: FileKind = IMAGES) -> FolderLayout:
    """The layout of the image folder (or, with ``kind``, another folder of class files) at ``path``.

    Raises:
        DataError: No such folder, no class folders, a class folder without images, fewer
            than two classes, or split folders whose classes disagree.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise DataError(f"data.path={path} {what}; data={kind.option} needs a folder with one subfolder per class.")
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes, paths, labels = _read_classes(root / "train", kind=kind)
        layout = FolderLayout(root, classes)
        layout.splits["train"] = (np.array(paths), np.array(labels, np.int64))
        for split in ("val", "test"):
            if (root / split).is_dir():
                _, paths_s, labels_s = _read_classes(root / split, classes, kind)
                layout.splits[split] = (np.array(paths_s), np.array(labels_s, np.int64))
    else:
        classes, paths, labels = _read_classes(root, kind=kind)
        layout = FolderLayout(root, classes)
        layout.splits.update(_stratified(np.array(paths), np.array(labels, np.int64), test_fraction))
    if len(classes) < 2:
        raise DataError(f"{root} has one class folder ({classes[0]}); classification needs at least two.")
    layout.first = Path(layout.splits["train"][0][0])
    return layout


def _stratified(paths: np.ndarray, labels: np.ndarray, fraction: float) -> dict:
    """Train/test split keeping each class's share; a class of one image stays in train."""
    test = stratified_pick(labels, np.random.default_rng(TEST_SPLIT_SEED), share(fraction))
    is_test = np.zeros(len(paths), bool)
    is_test[test] = True
    if not is_test.any():
        raise DataError(f"too few images to set aside a test split ({len(paths)} images); add images or give "
                        f"train/ and test/ folders.")
    return {"train": (paths[~is_test], labels[~is_test]), "test": (paths[is_test], labels[is_test])}


# ----------------------------------------------------------------------------- headers
def image_header(path: Path) -> tuple[int, int, int]:
    """``(height, width, channels)`` from an image file's header (channels: 1 gray, 3 colour).

    Raises:
        DataError: Not a PNG, JPEG, BMP or GIF file, or a header too short to read.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        found = _png(head) or _gif(head) or _bmp(head) or _jpeg(head)
    except (OSError, struct.error, IndexError):
        found = None
    if found is None:
        raise DataError(f"{path}: not a readable image (its header is not that of a PNG, JPEG, BMP or GIF file).")
    return found


def _png(head: bytes):
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width, 1 if head[25] in (0, 4) else 3  # colour types 0 and 4: gray (+ alpha)


def _gif(head: bytes):
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height = struct.unpack("<HH", head[6:10])
    return height, width, 3


def _bmp(head: bytes):
    if head[:2] != b"BM":
        return None
    if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 core header
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return abs(height), width, 3


def _jpeg(head: bytes):
    if head[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 9 < len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        length = struct.unpack(">H", head[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", head[at + 5:at + 9])
            return height, width, 1 if head[at + 9] == 1 else 3
        at += 2 + length
    return None


# ----------------------------------------------------------------------------- streamed images
@dataclass
class FileImages:
    """The images of a split as files: stands in for the uint8 array of a resident split.

    Indexing (slices, index arrays, masks) gives the subset, as NumPy indexing would, so
    :func:`bmrun.data.arrays.prepare` limits and splits it like an array; ``np.asarray`` decodes
    it (meant for a few images: pictures, TFLite checks). The pixel sums of every image were
    taken while the files were checked, so the training split's statistics need no new pass.

    Attributes:
        paths: One file per example.
        shape: ``(height, width, channels)`` every image is decoded to.
        sums, squares: Each image's sum of pixels and of squared pixels (exact integers).
        cache, rows: With ``data.cache``, the memory-mapped decoded images and each example's
            row in it (see :mod:`bmrun.data.image_cache`); else None.
    """

    paths: np.ndarray
    shape: tuple[int, int, int]
    sums: np.ndarray
    squares: np.ndarray
    cache: Optional[np.ndarray] = None
    rows: Optional[np.ndarray] = None

    streamed = True

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> "FileImages":
        if isinstance(index, (int, np.integer)):
            index = [index]
        rows = None if self.rows is None else self.rows[index]
        return FileImages(self.paths[index], self.shape, self.sums[index], self.squares[index], self.cache, rows)

    @property
    def dtype(self):
        return np.dtype(np.uint8)

    @property
    def nbytes(self) -> int:
        return len(self) * int(np.prod(self.shape))

    def pixel_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance over every pixel, as ``arrays._input_stats`` computes them for arrays."""
        count = len(self) * int(np.prod(self.shape))
        mean = float(self.sums.sum()) / count
        variance = float(self.squares.sum()) / count - mean ** 2
        return np.array(mean, np.float32), np.array(max(variance, 1e-12), np.float32)

    def __array__(self, dtype=None, copy=None):
        # bmrun.data.image_decode loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.data.image_decode import decode_files

        images = decode_files(self.paths, self.shape)
        return images if dtype is None else images.astype(dtype)
