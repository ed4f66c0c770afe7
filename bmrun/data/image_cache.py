"""``data.cache``: decoded images of a streamed folder, memory-mapped from one file on disk.

Streaming decodes every file each epoch. With ``data.cache=<folder>`` the images are decoded
once into ``<folder>/images-<fingerprint>.npy`` (uint8, one row per file) and every later epoch,
resume or run reads the rows it needs from that file through the page cache: no decoding, and
still no need to hold the set in memory. The fingerprint covers each file's path, size and
modification time and the decoded shape, so a changed folder gets a new cache; the file is
written to a temporary name and renamed, so a killed build never leaves a half cache behind.
tf.data's own ``cache()`` cannot serve here: it replays one fixed order, and each epoch's order
is a seeded permutation.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from bmrun.run_dir import atomic_path

CHUNK = 1024  # images decoded per step while building


def fingerprint(paths: np.ndarray, shape: tuple[int, int, int]) -> str:
    digest = hashlib.sha1(repr(tuple(shape)).encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def cached_images(cache_dir: str | Path, paths: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """The uint8 images of ``paths`` as a read-only memory map, building the cache file if needed.

    Raises:
        ArtifactWriteError: The cache folder cannot be written (path and OS error named).
    """
    # bmrun.data.image_decode loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.data.image_decode import decode_files

    path = Path(cache_dir).expanduser() / f"images-{fingerprint(paths, shape)}.npy"
    if not path.is_file():
        with atomic_path(path) as tmp:
            images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), *shape))
            for start in range(0, len(paths), CHUNK):
                images[start:start + CHUNK] = decode_files(paths[start:start + CHUNK], shape)
            images.flush()
            del images
    return np.load(path, mmap_mode="r")
