"""Decoding image files with TensorFlow: one in-graph decoder for every use.

The same :func:`decoder` turns a file into the model's ``height x width x channels`` uint8
image whether the folder is decoded once into resident arrays (:func:`check_files` with
``keep_pixels``), checked and summed before streaming, or read each epoch by the streaming
training pipeline (:mod:`bmrun.data.pipeline`), so a streamed run sees exactly the pixels a
resident one does. Images of another size are resized (antialiased, rounded back to uint8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def decoder(shape: tuple[int, int, int]):
    """``decode(path) -> (uint8 image of shape, original [height, width])``, usable in tf.data."""
    height, width, channels = (int(d) for d in shape)

    def to_channels(image):
        # GIFs decode to 3 channels only, so grayscale reads any file as it is and converts.
        if channels == 1:
            return tf.cond(tf.shape(image)[-1] <= 2, lambda: image[..., :1],
                           lambda: tf.image.rgb_to_grayscale(image[..., :3]))
        return image

    def resize(image):
        pixels = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(pixels), 0.0, 255.0), tf.uint8)

    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3 if channels == 3 else 0, expand_animations=False)
        image = to_channels(image)
        size = tf.shape(image)[:2]
        same = tf.reduce_all(tf.equal(size, [height, width]))
        image = tf.cond(same, lambda: image, lambda: resize(image))
        return tf.ensure_shape(image, [height, width, channels]), size

    return decode


@dataclass
class FileCheck:
    """What one pass over a list of files found.

    Attributes:
        ok: Indices of the files that decoded.
        bad: Indices of the files that did not.
        resized: How many readable files were not ``height x width`` already.
        sums, squares: Pixel sums per readable file (int64, exact), aligned with ``ok``.
        images: The decoded images, aligned with ``ok`` (``keep_pixels`` only).
    """

    ok: np.ndarray
    bad: np.ndarray
    resized: int
    sums: np.ndarray
    squares: np.ndarray
    images: Optional[np.ndarray] = None


def check_files(paths: np.ndarray, shape: tuple[int, int, int], *, keep_pixels: bool,
                batch_size: int = 256) -> FileCheck:
    """Decode every file once (in parallel), noting unreadable ones; keep the pixels or only their sums.

    Memory: with ``keep_pixels`` the uint8 images (one array); without, one batch at a time.
    """
    n = len(paths)
    decode = decoder(shape)

    def one(i, path):
        image, size = decode(path)
        wide = tf.cast(image, tf.int64)
        return i, size, tf.reduce_sum(wide), tf.reduce_sum(wide * wide), image

    dataset = tf.data.Dataset.from_tensor_slices((tf.range(n, dtype=tf.int64), tf.constant(paths)))
    dataset = dataset.map(one, num_parallel_calls=AUTOTUNE, deterministic=True).ignore_errors()
    if not keep_pixels:
        dataset = dataset.map(lambda i, size, s, q, image: (i, size, s, q, tf.zeros([0], tf.uint8)))
    dataset = dataset.batch(batch_size).prefetch(2)
    images = np.zeros((n, *shape), np.uint8) if keep_pixels else None
    seen = np.zeros(n, bool)
    sums, squares = np.zeros(n, np.int64), np.zeros(n, np.int64)
    resized = 0
    for index, size, total, square, pixels in dataset.as_numpy_iterator():
        seen[index] = True
        sums[index], squares[index] = total, square
        resized += int(np.sum(np.any(size != np.array(shape[:2]), axis=1)))
        if images is not None:
            images[index] = pixels
    ok, bad = np.flatnonzero(seen), np.flatnonzero(~seen)
    if images is not None and len(bad):  # a copy only when files are left out: the images are the largest array
        images = images[ok]
    return FileCheck(ok, bad, resized, sums[ok], squares[ok], images)


def decode_files(paths: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """The uint8 images of ``paths`` (a few: pictures, TFLite checks); every file must decode."""
    decode = decoder(shape)
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(paths)).map(lambda p: decode(p)[0])
    images = [image for image in dataset.batch(256).as_numpy_iterator()]
    return np.concatenate(images) if images else np.zeros((0, *shape), np.uint8)


def cached_dataset(cache: np.ndarray, rows: np.ndarray, labels: np.ndarray, shape: tuple[int, int, int],
                   order: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches of ``(uint8 images, labels)`` in ``order``, read from the memory-mapped cache."""
    order = np.asarray(order, np.int64)
    num_batches = -(-len(order) // batch_size)
    label_table = tf.constant(labels)

    def rows_of(i):  # NumPy indexing of a memory map reads just these rows
        return np.asarray(cache[rows[order[i * batch_size:(i + 1) * batch_size]]])

    def read(i):
        images = tf.numpy_function(rows_of, [i], tf.uint8)
        images.set_shape([None, *shape])
        start = i * batch_size
        return images, tf.gather(label_table, tf.constant(order)[start:start + batch_size])

    return tf.data.Dataset.range(num_batches).map(read, num_parallel_calls=AUTOTUNE, deterministic=True)


def file_dataset(paths: np.ndarray, labels: np.ndarray, shape: tuple[int, int, int], order: np.ndarray,
                 batch_size: int) -> tf.data.Dataset:
    """Batches of ``(uint8 images, labels)`` read from disk in ``order`` (parallel decode, same order)."""
    decode = decoder(shape)
    path_table, label_table = tf.constant(paths), tf.constant(labels)

    def read(i):
        return decode(path_table[i])[0], label_table[i]

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(order, tf.int64))
    return dataset.map(read, num_parallel_calls=AUTOTUNE, deterministic=True).batch(batch_size)


def exists(path: tf.Tensor) -> tf.Tensor:
    """Whether the file ``path`` exists, in-graph: a glob of the path with its wildcards escaped."""
    literal = tf.strings.regex_replace(path, r"([\\*?\[\]])", r"\\\1")
    return tf.logical_and(tf.not_equal(path, ""), tf.size(tf.io.matching_files(literal)) > 0)


def cell_reader(shape: tuple[int, int, int], *, missing_files: bool = False):
    """``read(path) -> float32 image of shape``, NaN everywhere for ``""`` (a row without an image).

    The one reading of an image column's cell, for the streamed pipeline and the exported model
    alike, through :func:`decoder`: the pixels equal the resident float16 ones exactly.

    Args:
        missing_files: Also read a file that does not exist as ``""`` (the exported model: the
            loader checked training's files beforehand, a caller's files are not).
    """
    decode = decoder(shape)
    shape = tuple(int(d) for d in shape)

    def read(path):
        if missing_files:
            path = tf.where(exists(path), path, "")
        return tf.cond(tf.equal(path, ""), lambda: tf.fill(shape, float("nan")),
                       lambda: tf.cast(decode(path)[0], tf.float32))

    return read


def column_dataset(columns: dict, labels: np.ndarray, order: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches of ``(dict of columns, labels)`` in ``order``: a table's columns gathered, its
    streamed image columns (:class:`bmrun.data.image_column.ImageColumn`) decoded from their files."""
    shapes = {key: column.shape for key, column in columns.items() if getattr(column, "streamed", False)}
    tables = {key: tf.constant(column.paths.astype(str) if key in shapes else column)
              for key, column in columns.items()}
    readers = {key: cell_reader(shape) for key, shape in shapes.items()}
    label_table = tf.constant(labels)

    def read(i):
        row = {key: table[i] for key, table in tables.items()}
        row.update({key: reader(row[key]) for key, reader in readers.items()})
        return row, label_table[i]

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(order, tf.int64))
    return dataset.map(read, num_parallel_calls=AUTOTUNE, deterministic=True).batch(batch_size)
