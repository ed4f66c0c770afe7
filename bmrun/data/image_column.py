"""A CSV table's image column streamed from its files (``data.images`` over ``data.memory_budget``).

When a table's decoded images would exceed ``data.memory_budget``, each image column keeps its
paths instead of its pixels: every file is decoded once while loading, to find the unreadable
ones (they become ``""``, a row without an image, as in a resident column) and to sum each
image's pixels for the training statistics; the tf.data pipeline then reads and decodes the
files every epoch (:func:`bmrun.data.image_decode.column_dataset`), as for a streamed image
folder (:class:`bmrun.data.image_files.FileImages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmrun.errors import DataError


@dataclass
class ImageColumn:
    """An image column as files: stands in for its float16 pixels (NaN rows: no image).

    Indexing gives the subset, as NumPy indexing would, so the splits take it like an array;
    ``np.asarray`` decodes it (meant for a few rows).

    Attributes:
        paths: One file per row, ``""`` where the row has no readable image.
        shape: ``(height, width, channels)`` every image is decoded to.
        sums, squares: Each image's sum of pixels and of squared pixels (0 for no image).
    """

    paths: np.ndarray
    shape: tuple
    sums: np.ndarray
    squares: np.ndarray

    streamed = True

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> "ImageColumn":
        if isinstance(index, (int, np.integer)):
            index = [index]
        return ImageColumn(self.paths[index], self.shape, self.sums[index], self.squares[index])

    @property
    def dtype(self):
        return np.dtype(np.float16)

    @property
    def present(self) -> np.ndarray:
        """Which rows have an image."""
        return self.paths != ""

    def pixel_sums(self) -> tuple[float, float, int]:
        """Sum of pixels, of squared pixels, and how many pixels, over the rows with an image."""
        return float(self.sums.sum()), float(self.squares.sum()), int(self.present.sum()) * int(np.prod(self.shape))

    def __array__(self, dtype=None, copy=None):
        # bmrun.data.image_decode loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.data.image_decode import decode_files

        images = np.full((len(self), *self.shape), np.nan, np.float16)
        present = self.present
        if present.any():
            images[present] = decode_files(self.paths[present].astype(str), self.shape)
        return images if dtype is None else images.astype(dtype)


def streamed(paths: np.ndarray, shape: tuple, name: str, *, strict: bool) -> tuple[ImageColumn, int]:
    """The column of ``paths`` checked (every file decoded once) and how many rows have no image.

    Raises:
        DataError: With ``strict`` (``data.on_bad_file=error``), a missing or unreadable file.
    """
    # bmrun.data.image_decode loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.data.image_decode import check_files

    paths = np.array([str(p) if p else "" for p in paths], dtype=object)
    index = existing(paths, name, strict=strict)
    kept = np.full(len(paths), "", dtype=object)
    sums, squares = np.zeros(len(paths), np.int64), np.zeros(len(paths), np.int64)
    if len(index):
        check = check_files(paths[index].astype(str), shape, keep_pixels=False)
        if strict and len(check.bad):
            unreadable(paths[index[check.bad[0]]])
        rows = index[check.ok]
        kept[rows], sums[rows], squares[rows] = paths[rows], check.sums, check.squares
    column = ImageColumn(kept, tuple(shape), sums, squares)
    return column, int(len(paths) - column.present.sum())


def existing(paths: np.ndarray, name: str, *, strict: bool) -> np.ndarray:
    """Indices of the paths whose file exists (``""``: no image).

    Raises:
        DataError: With ``strict`` (``data.on_bad_file=error``), a path whose file does not exist.
    """
    given = np.array([bool(p) and Path(p).is_file() for p in paths], bool)
    if strict:
        for path, ok in zip(paths, given):
            if path and not ok:
                raise DataError(f"{path}: this file of image column {name!r} does not exist (data.on_bad_file="
                                f"error); fix the path or use data.on_bad_file=missing to treat it as a missing "
                                f"image.")
    return np.flatnonzero(given)


def unreadable(path: str) -> None:
    """Raises the ``data.on_bad_file=error`` refusal of a file that is not a readable image."""
    raise DataError(f"{path}: not a readable image (data.on_bad_file=error); use data.on_bad_file=missing to treat "
                    f"it as a missing image.")
