"""MNIST: Keras-format ``mnist.npz`` or the four IDX files, from data.path or the Keras cache.

The readers here also serve Fashion-MNIST, which ships in the same two formats.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bmrun.data.arrays import RawData, check_pairs
from bmrun.data.catalog import IMAGE, MULTICLASS, InputSpec, TaskSpec
from bmrun.data.dataset import Dataset, DataConfig
from bmrun.data.digits import CLASS_NAMES
from bmrun.data.idx import read_idx
from bmrun.data.sources import download, keras_cache_dir, not_found, user_path
from bmrun.errors import DataError

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
HINT = ("Download mnist.npz (Keras format) from " + URL + " into ~/.keras/datasets/, or put the four "
        "IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz) in one folder.")


@dataclass
class MnistConfig(DataConfig):
    """``data=mnist``: the common keys only (``data.path`` points at a local copy)."""


def load(cfg, seed: int) -> RawData:
    """data.path, else ~/.keras/datasets/mnist.npz, else a Keras download."""
    path = user_path(cfg.path, "mnist.npz or a folder with the four MNIST IDX files")
    if path is not None:
        return read_images(path, "mnist.npz")
    cached = keras_cache_dir() / "mnist.npz"
    searched = ["data.path (not set)", str(cached)]
    if cached.exists():
        return read_npz(cached)
    if not cfg.download:
        raise not_found("MNIST", searched, HINT)
    return read_npz(download(URL, "mnist.npz", "datasets", dataset="MNIST", searched=searched, hint=HINT))


def read_images(path: Path, npz_name: str) -> RawData:
    """Read a Keras ``.npz`` file, or a folder holding one or the four IDX files."""
    if path.is_file():
        return read_npz(path) if path.suffix == ".npz" else _refuse(path)
    if (path / npz_name).is_file():
        return read_npz(path / npz_name)
    found = find_idx_folder(path)
    if found is None:
        missing = [name for name in IDX_FILES.values() if not _idx_file(path, name)]
        raise DataError(f"{path} holds neither {npz_name} nor the IDX files (missing: {', '.join(missing)}; "
                        f".gz or uncompressed).")
    return found


def find_idx_folder(folder: Path) -> RawData | None:
    """Read the four IDX files from ``folder``; None when any of them is absent."""
    files = {key: _idx_file(folder, name) for key, name in IDX_FILES.items()}
    if not all(files.values()):
        return None
    arrays = {key: read_idx(file) for key, file in files.items()}
    raw = RawData(arrays["x_train"][..., None], arrays["y_train"].astype(np.int64),
                  arrays["x_test"][..., None], arrays["y_test"].astype(np.int64))
    check_pairs(raw, str(folder))
    return raw


def read_npz(path: Path) -> RawData:
    """Read a Keras-format npz (x_train, y_train, x_test, y_test); never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in IDX_FILES}
    except KeyError as error:
        raise DataError(f"{path} lacks the array {error}; expected x_train, y_train, x_test, y_test.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read {path}: {error}. The file is corrupt or truncated; replace it.") from None
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    raw = RawData(x_train, arrays["y_train"].astype(np.int64), x_test, arrays["y_test"].astype(np.int64))
    check_pairs(raw, str(path))
    return raw


def _idx_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _refuse(path: Path) -> RawData:
    raise DataError(f"{path} is neither a .npz file nor a folder of IDX files.")


DATASET = Dataset(name="mnist", config=MnistConfig, task=TaskSpec(MULTICLASS, 10, CLASS_NAMES),
                  inputs=InputSpec(IMAGE, (28, 28, 1)), summary="MNIST handwritten digits", loader=load)
