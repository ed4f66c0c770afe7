"""IMDB review sentiment: Keras-format ``imdb.npz`` (word-rank lists) from data.path or the Keras cache.

The token ids follow ``keras.datasets.imdb.load_data``, so a model trained here reads the same
ids as one trained on Keras's loader: 0 pads, 1 starts every review, 2 replaces words outside
the vocabulary, and word rank ``r`` (1 = most frequent) becomes id ``r + 3``. Reviews are then
cut or right-padded to ``data.max_len``, keeping their beginning.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from bmrun.rules import at_least
from bmrun.data.arrays import RawData, check_pairs
from bmrun.data.catalog import BINARY, TOKENS, InputSpec, TaskSpec
from bmrun.data.dataset import Dataset, DataConfig
from bmrun.data.sources import download, keras_cache_dir, not_found, user_path
from bmrun.errors import DataError

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
FILE = "imdb.npz"
PAD, START, OOV, INDEX_FROM = 0, 1, 2, 3
KEYS = ("x_train", "y_train", "x_test", "y_test")
HINT = ("Download imdb.npz (Keras format) from " + URL + " into ~/.keras/datasets/, "
        "or run once with network access and data.download=true.")


@dataclass
class ImdbConfig(DataConfig):
    """``data=imdb``.

    Attributes:
        vocab_size: Ids at or above this become the out-of-vocabulary id.
        max_len: Length every review is cut or padded to.
    """

    batch_size: int = 64
    vocab_size: int = 20000
    max_len: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("vocab_size", self.vocab_size, 4)  # 0 pad, 1 start, 2 oov, 3 unused
        at_least("max_len", self.max_len, 1)


def load(cfg, seed: int) -> RawData:
    """data.path (the file, or a folder holding imdb.npz), else the Keras cache, else a download.

    Args:
        cfg: The ``data`` config (:class:`ImdbConfig`).
        seed: Unused; the official splits are fixed and ``prepare()`` does the shuffling.

    Returns:
        int32 token ids of shape (n, max_len) and int64 labels (0 negative, 1 positive).
    """
    path = user_path(cfg.path, "imdb.npz (Keras format) or a folder holding it")
    if path is not None:
        return read_npz(path / FILE if path.is_dir() else path, cfg.vocab_size, cfg.max_len)
    cached = keras_cache_dir() / FILE
    searched = ["data.path (not set)", str(cached)]
    if cached.exists():
        return read_npz(cached, cfg.vocab_size, cfg.max_len)
    if not cfg.download:
        raise not_found("IMDB", searched, HINT)
    fetched = download(URL, FILE, "datasets", dataset="IMDB", searched=searched, hint=HINT)
    return read_npz(fetched, cfg.vocab_size, cfg.max_len)


def read_npz(path: Path, vocab_size: int, max_len: int) -> RawData:
    """Read a Keras-format ``imdb.npz`` and encode both splits.

    Args:
        path: The npz file: object arrays ``x_train``/``x_test`` of word-rank lists and
            ``y_train``/``y_test`` labels.
        vocab_size: Ids at or above this become the out-of-vocabulary id 2.
        max_len: Length every review is cut or padded to.

    Raises:
        DataError: The file is missing, not a Keras imdb.npz, corrupt or truncated.
    """
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; expected Keras's {FILE}.")
    try:
        # The format stores each split as an object array of Python lists, which NumPy can only
        # read by unpickling. Unpickling runs code from the file, so this is done only for files
        # the user named (data.path) or that sit in their own Keras cache (where Keras's own
        # loader unpickles them the same way) -- never for anything found elsewhere.
        with np.load(path, allow_pickle=True) as archive:
            arrays = {key: archive[key] for key in KEYS}
    except KeyError as error:
        raise DataError(f"{path} lacks the array {error}; expected x_train, y_train, x_test, y_test "
                        f"as in Keras's {FILE}.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        raise DataError(f"cannot read {path}: {error}. The file is corrupt or truncated; delete it "
                        f"and download {URL} again.") from None
    raw = RawData(encode(arrays["x_train"], vocab_size, max_len, path),
                  _labels(arrays["y_train"], path),
                  encode(arrays["x_test"], vocab_size, max_len, path),
                  _labels(arrays["y_test"], path))
    check_pairs(raw, str(path))
    return raw


def encode(reviews: Sequence, vocab_size: int, max_len: int, source: Path | str = "imdb.npz") -> np.ndarray:
    """Word-rank lists -> int32 ids of shape (n, max_len), Keras conventions.

    Each row is ``[1, r1 + 3, r2 + 3, ...]`` with ids >= ``vocab_size`` replaced by 2, cut to
    ``max_len`` (the beginning is kept: reviews state their verdict early as often as late, and
    the start token must survive) or right-padded with 0.
    """
    keep = max_len - 1  # one slot goes to the start token
    try:
        pieces = [np.asarray(review[:keep], dtype=np.int64).reshape(-1) for review in reviews]
    except (TypeError, ValueError) as error:
        raise DataError(f"{source}: a review is not a list of word ranks ({error}); the file is corrupt.") from None
    n = len(pieces)
    out = np.full((n, max_len), PAD, dtype=np.int32)
    if n == 0:
        return out
    out[:, 0] = START
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=n)
    flat = np.concatenate(pieces) if lengths.sum() else np.zeros(0, np.int64)
    if flat.size and flat.min() < 0:
        raise DataError(f"{source}: negative word rank {int(flat.min())}; the file is corrupt.")
    ids = flat + INDEX_FROM
    ids[ids >= vocab_size] = OOV
    # Scatter the flat ids back to (row, 1 + position) without a Python loop over 25k reviews.
    rows = np.repeat(np.arange(n), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, 1 + np.arange(flat.size) - starts] = ids
    return out


def _labels(y: np.ndarray, source: Path) -> np.ndarray:
    try:
        labels = np.asarray(y).astype(np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{source}: labels are not integers; the file is corrupt.") from None
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise DataError(f"{source}: labels must be 0 (negative) or 1 (positive); the file is corrupt.")
    return labels


DATASET = Dataset(name="imdb", config=ImdbConfig, task=TaskSpec(BINARY, 2, ("negative", "positive")),
                  inputs=lambda cfg: InputSpec(TOKENS, (int(cfg.max_len),), vocab_size=int(cfg.vocab_size)),
                  summary="IMDB review sentiment", loader=load)
