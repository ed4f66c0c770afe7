"""Fashion-MNIST: data.path, Debian's system copy, the Keras cache, then a download."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bmrun.data.arrays import RawData
from bmrun.data.catalog import IMAGE, MULTICLASS, InputSpec, TaskSpec
from bmrun.data.dataset import Dataset, DataConfig
from bmrun.data.mnist import IDX_FILES, find_idx_folder, read_images
from bmrun.data.sources import download, keras_cache_dir, not_found, user_path

SYSTEM_COPY = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
HINT = ("Install it with `apt-get install dataset-fashion-mnist`, or put the four IDX files "
        "(train-images-idx3-ubyte.gz, ...) from https://github.com/zalandoresearch/fashion-mnist into "
        "~/.keras/datasets/fashion-mnist/.")


CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


@dataclass
class FashionMnistConfig(DataConfig):
    """``data=fashion_mnist``: the common keys only (``data.path`` points at a local copy)."""


def load(cfg, seed: int) -> RawData:
    """data.path, else /usr/share/datasets/fashion-mnist, else the Keras cache, else download."""
    path = user_path(cfg.path, "fashion-mnist.npz or a folder with the four Fashion-MNIST IDX files")
    if path is not None:
        return read_images(path, "fashion-mnist.npz")
    cache = keras_cache_dir() / "fashion-mnist"
    searched = ["data.path (not set)", str(SYSTEM_COPY), str(cache)]
    for folder in (SYSTEM_COPY, cache):
        raw = find_idx_folder(folder) if folder.is_dir() else None
        if raw is not None:
            return raw
    if not cfg.download:
        raise not_found("Fashion-MNIST", searched, HINT)
    for name in IDX_FILES.values():
        download(BASE_URL + name + ".gz", name + ".gz", "datasets/fashion-mnist",
                 dataset="Fashion-MNIST", searched=searched, hint=HINT)
    return read_images(cache, "fashion-mnist.npz")


DATASET = Dataset(name="fashion_mnist", config=FashionMnistConfig, task=TaskSpec(MULTICLASS, 10, CLASS_NAMES),
                  inputs=InputSpec(IMAGE, (28, 28, 1)), summary="Zalando Fashion-MNIST", loader=load)
