"""Image datasets: IDX and npz readers, search order, clear errors, splits and pipelines."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bmrun.data import fashion_mnist, mnist
from bmrun.data.arrays import RawData, prepare
from bmrun.data.catalog import describe
from bmrun.data.idx import read_idx, write_idx
from bmrun.errors import DataError
from conftest import FASHION_MNIST_DIR, needs_fashion_mnist, train_in_process, validated

RNG = np.random.default_rng(0)


def fake_mnist(n_train=120, n_test=40) -> RawData:
    return RawData(RNG.integers(0, 256, (n_train, 28, 28, 1), dtype=np.uint8), RNG.integers(0, 10, n_train),
                   RNG.integers(0, 256, (n_test, 28, 28, 1), dtype=np.uint8), RNG.integers(0, 10, n_test))


def write_idx_folder(folder: Path, raw: RawData, gz: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", raw.x_train[..., 0])
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", raw.y_train)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", raw.x_test[..., 0])
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", raw.y_test)
    return folder


def cfg(path=None):
    return SimpleNamespace(path=path, download=False)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    array = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    np.testing.assert_array_equal(read_idx(path), array)


def test_idx_truncated_and_bad_magic_are_data_errors(tmp_path):
    path = tmp_path / "t.idx"
    write_idx(path, np.zeros((4, 4), np.uint8))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04not idx")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(path)
    gz = tmp_path / "t.idx.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")[:-4])
    with pytest.raises(DataError):
        read_idx(gz)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_folder_from_data_path(tmp_path, gz):
    raw = fake_mnist()
    folder = write_idx_folder(tmp_path / "mnist", raw, gz)
    got = mnist.load(cfg(path=str(folder)), 0)
    np.testing.assert_array_equal(got.x_train, raw.x_train)
    np.testing.assert_array_equal(got.y_test, raw.y_test)


def test_mnist_reads_npz_from_path_and_from_keras_cache(tmp_path, keras_home):
    raw = fake_mnist()
    npz = tmp_path / "mnist.npz"
    np.savez(npz, x_train=raw.x_train[..., 0], y_train=raw.y_train, x_test=raw.x_test[..., 0], y_test=raw.y_test)
    assert mnist.load(cfg(path=str(npz)), 0).x_train.shape == (120, 28, 28, 1)
    (keras_home / "datasets" / "mnist.npz").write_bytes(npz.read_bytes())
    np.testing.assert_array_equal(mnist.load(cfg(), 0).y_train, raw.y_train)


def test_mnist_missing_offline_names_every_place(keras_home):
    with pytest.raises(DataError) as info:
        mnist.load(cfg(), 0)
    message = str(info.value)
    assert str(keras_home / "datasets" / "mnist.npz") in message and "data.path" in message


def test_failed_download_becomes_the_same_clear_error(keras_home, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataError, match="downloading .* failed"):
        mnist.load(SimpleNamespace(path=None, download=True), 0)


def test_corrupt_npz_and_missing_path_are_data_errors(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="corrupt"):
        mnist.load(cfg(path=str(bad)), 0)
    with pytest.raises(DataError, match="does not exist"):
        mnist.load(cfg(path=str(tmp_path / "nope.npz")), 0)


def test_fashion_mnist_prefers_data_path(tmp_path, keras_home):
    raw = fake_mnist()
    folder = write_idx_folder(tmp_path / "fm", raw, gz=True)
    np.testing.assert_array_equal(fashion_mnist.load(cfg(path=str(folder)), 0).y_train, raw.y_train)


@needs_fashion_mnist
def test_fashion_mnist_reads_the_system_copy(keras_home):
    assert fashion_mnist.SYSTEM_COPY == FASHION_MNIST_DIR
    real = fashion_mnist.load(cfg(), 0)  # an empty Keras cache: only the system copy can answer
    assert real.x_train.shape == (60000, 28, 28, 1) and real.x_test.shape == (10000, 28, 28, 1)
    assert real.x_train.dtype == np.uint8 and set(np.unique(real.y_test)) == set(range(10))
    assert np.bincount(real.y_train).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    assert 60 < real.x_train[:1000].mean() < 90  # clothes, brighter than MNIST's digits (~33)


@needs_fashion_mnist
def test_a_tiny_run_on_the_real_fashion_mnist_learns(tmp_path, keras_home):
    metrics = train_in_process(tmp_path, ["data=fashion_mnist", "data.limit=600", "model=linear",
                                          "trainer.max_epochs=2", "optimizer.lr=0.01", "logger=none"])
    assert metrics["data"] == "fashion_mnist" and metrics["status"] == "completed"
    assert metrics["test"]["accuracy"] > 0.5  # 10 classes: chance is 0.1


def test_prepare_is_seeded_limits_filters_and_fits_stats_on_train_only():
    config = validated(["data=mnist"])
    task, inputs = describe(config.data)
    raw = fake_mnist(200, 50)
    a = prepare(raw, task, inputs, val_fraction=0.25, limit=100, normalize=True, seed=3)
    b = prepare(raw, task, inputs, val_fraction=0.25, limit=100, normalize=True, seed=3)
    c = prepare(raw, task, inputs, val_fraction=0.25, limit=100, normalize=True, seed=4)
    assert (len(a.train), len(a.val), len(a.test)) == (75, 25, 50)
    np.testing.assert_array_equal(a.val.x, b.val.x)
    assert not np.array_equal(a.val.x, c.val.x)
    assert np.isclose(a.input_mean, a.train.x.astype(np.float64).mean())
    assert a.train.x.dtype == np.uint8 and np.isclose(a.input_variance, a.train.x.astype(np.float64).var())
    config = validated(["data=mnist", "data.classes=[3,7]"])
    task, inputs = describe(config.data)
    filtered = prepare(raw, task, inputs, val_fraction=0.1, limit=None, normalize=True, seed=0, classes=[3, 7])
    assert task.num_classes == 2 and set(np.unique(filtered.test.y)) <= {0, 1}
    assert len(filtered.test) == int(np.isin(raw.y_test, [3, 7]).sum())


def test_pipeline_order_is_seeded_per_epoch_and_resumable():
    from bmrun.data.pipeline import DataPipeline

    config = validated(["data=mnist"])
    task, inputs = describe(config.data)
    data = prepare(fake_mnist(100, 10), task, inputs, val_fraction=0.0, limit=None, normalize=True, seed=0)
    pipe = DataPipeline(data, batch_size=16, eval_batch_size=64, shuffle=True, seed=5)
    assert pipe.steps_per_epoch == 7
    full = [y.numpy() for _, y in pipe.train_dataset(epoch=2)]
    tail = [y.numpy() for _, y in pipe.train_dataset(epoch=2, skip_batches=3)]
    assert len(full) == 7 and len(tail) == 4
    for a, b in zip(full[3:], tail):
        np.testing.assert_array_equal(a, b)
    other_epoch = np.concatenate([y.numpy() for _, y in pipe.train_dataset(epoch=3)])
    assert not np.array_equal(np.concatenate(full), other_epoch)
    assert sorted(np.concatenate(full).tolist()) == sorted(data.train.y.tolist())
