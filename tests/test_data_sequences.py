"""IMDB reader (on small Keras-format npz files written here) and the adding-problem generator."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import assert_accuracy_from_its_counts, train_in_process, validated

from bmrun.data import adding, imdb
from bmrun.errors import DataError

FAST = ("logger=none", "trainer.max_epochs=1", "data.download=false")


def _objects(reviews) -> np.ndarray:
    """An object array of Python lists, as keras.datasets.imdb stores reviews."""
    array = np.empty(len(reviews), dtype=object)
    for i, review in enumerate(reviews):
        array[i] = list(review)
    return array


def write_imdb(path: Path, x_train, y_train, x_test, y_test) -> Path:
    np.savez(path, x_train=_objects(x_train), y_train=np.asarray(y_train, np.int64),
             x_test=_objects(x_test), y_test=np.asarray(y_test, np.int64))
    return path


HAND_MADE = [[1, 2, 6, 7], [3], [1, 1, 1, 1, 1, 1, 9], []]
# vocab_size=10, max_len=5: start 1, rank r -> r + 3, ids >= 10 -> oov 2, right-pad 0, keep the start.
EXPECTED = [[1, 4, 5, 9, 2], [1, 6, 0, 0, 0], [1, 4, 4, 4, 4], [1, 0, 0, 0, 0]]


def _imdb_cfg(path=None, download=False, vocab_size=10, max_len=5):
    return SimpleNamespace(name="imdb", path=None if path is None else str(path), download=download,
                           vocab_size=vocab_size, max_len=max_len)


@pytest.fixture
def tiny_npz(tmp_path) -> Path:
    return write_imdb(tmp_path / "imdb.npz", HAND_MADE, [0, 1, 1, 0], HAND_MADE[:2], [1, 0])


@pytest.fixture
def synthetic_npz(tmp_path) -> Path:
    """300 / 100 reviews whose label shows in their words, for tiny end-to-end runs."""
    rng = np.random.default_rng(0)

    def split(n):
        labels = rng.integers(0, 2, n)
        reviews = [list(rng.integers(10, 300, rng.integers(5, 40))) + [1 + 2 * int(y)] * 3 for y in labels]
        return reviews, labels

    (x_train, y_train), (x_test, y_test) = split(300), split(100)
    return write_imdb(tmp_path / "synthetic_imdb.npz", x_train, y_train, x_test, y_test)


# ----------------------------------------------------------------------------- imdb reader
def test_encode_follows_keras_conventions_exactly(tiny_npz, keras_home):
    raw = imdb.load(_imdb_cfg(tiny_npz), seed=0)
    assert raw.x_train.dtype == np.int32 and raw.x_train.shape == (4, 5)
    np.testing.assert_array_equal(raw.x_train, EXPECTED)
    np.testing.assert_array_equal(raw.x_test, EXPECTED[:2])
    np.testing.assert_array_equal(raw.y_train, [0, 1, 1, 0])
    np.testing.assert_array_equal(raw.y_test, [1, 0])


def test_large_vocabulary_keeps_every_word_and_max_len_one_keeps_the_start():
    np.testing.assert_array_equal(imdb.encode(_objects([[1, 2, 6, 7]]), 20000, 6), [[1, 4, 5, 9, 10, 0]])
    np.testing.assert_array_equal(imdb.encode(_objects(HAND_MADE), 10, 1), [[1]] * 4)


def test_data_path_may_name_the_folder(tiny_npz, keras_home):
    raw = imdb.load(_imdb_cfg(tiny_npz.parent), seed=0)
    np.testing.assert_array_equal(raw.x_train, EXPECTED)


def test_keras_cache_is_found(tiny_npz, keras_home):
    (keras_home / "datasets" / "imdb.npz").write_bytes(tiny_npz.read_bytes())
    raw = imdb.load(_imdb_cfg(), seed=0)
    np.testing.assert_array_equal(raw.x_train, EXPECTED)


def test_missing_file_without_download_names_every_place_searched(keras_home):
    with pytest.raises(DataError) as caught:
        imdb.load(_imdb_cfg(), seed=0)
    message = str(caught.value)
    assert "data.path (not set)" in message
    assert str(keras_home / "datasets" / "imdb.npz") in message
    assert "download disabled" in message and imdb.URL in message


def test_missing_data_path_is_an_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        imdb.load(_imdb_cfg(tmp_path / "nowhere.npz"), seed=0)


@pytest.mark.parametrize("damage", ["truncated", "not_a_zip", "wrong_arrays"])
def test_corrupt_file_is_a_data_error_naming_it(tiny_npz, tmp_path, damage):
    bad = tmp_path / "bad" / "imdb.npz"
    bad.parent.mkdir()
    if damage == "truncated":
        data = tiny_npz.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "not_a_zip":
        bad.write_text("<html>404 Not Found</html>")
    else:
        np.savez(bad, images=np.zeros(3))
    with pytest.raises(DataError) as caught:
        imdb.load(_imdb_cfg(bad), seed=0)
    assert str(bad) in str(caught.value)


def test_bad_labels_are_refused(tmp_path):
    path = write_imdb(tmp_path / "imdb.npz", HAND_MADE, [0, 1, 2, 0], HAND_MADE[:2], [1, 0])
    with pytest.raises(DataError, match="labels"):
        imdb.load(_imdb_cfg(path), seed=0)


# ----------------------------------------------------------------------------- adding generator
def test_adding_examples_have_two_markers_and_the_marked_sum():
    x, y = adding.generate(500, 11, np.random.default_rng(3))
    assert x.shape == (500, 11, 2) and y.shape == (500,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(markers)) == {0.0, 1.0}
    np.testing.assert_array_equal(markers.sum(axis=1), 2)
    np.testing.assert_array_equal(markers[:, :5].sum(axis=1), 1)  # one marker in each half
    np.testing.assert_array_equal(markers[:, 5:].sum(axis=1), 1)
    np.testing.assert_allclose(y, (values * markers).sum(axis=1), rtol=1e-6)


def test_adding_is_deterministic_by_seed_with_a_fixed_test_set():
    cfg = SimpleNamespace(name="adding", seq_len=20, num_train=200, num_test=50)
    a, b, other = adding.load(cfg, 7), adding.load(cfg, 7), adding.load(cfg, 8)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_train, other.x_train)
    np.testing.assert_array_equal(a.x_test, other.x_test)  # the test set never moves
    bigger = adding.load(SimpleNamespace(name="adding", seq_len=20, num_train=400, num_test=50), 7)
    np.testing.assert_array_equal(a.x_test, bigger.x_test)
    assert a.x_train.shape == (200, 20, 2) and a.x_test.shape == (50, 20, 2)


def test_mean_predictor_scores_about_one_sixth():
    _, y = adding.generate(20000, 50, np.random.default_rng(0))
    assert abs(float(np.mean((y - y.mean()) ** 2)) - 1 / 6) < 0.01


# ----------------------------------------------------------------------------- presets and end-to-end
@pytest.mark.parametrize("preset", ["adding_lstm", "imdb_lstm", "imdb_transformer"])
def test_presets_validate(preset):
    config = validated([f"experiment={preset}"])
    assert config.data.name in ("adding", "imdb")


@pytest.mark.parametrize("model", ["mlp", "rnn", "transformer"])
def test_adding_trains_end_to_end(tmp_path, model):
    small = {"rnn": ["model.hidden_dim=8"],
             "transformer": ["model.num_layers=1", "model.hidden_dim=8", "model.num_heads=2", "model.intermediate_dim=16"],
             "mlp": ["model.hidden_dims=[16]"]}[model]
    metrics = train_in_process(tmp_path, [*FAST, "data=adding", f"model={model}", "data.seq_len=10",
                                          "data.num_train=300", "data.num_test=100", *small])
    assert metrics["status"] == "completed"
    assert set(metrics["test"]) >= {"mse", "mae", "r2"}


@pytest.mark.parametrize("model", ["linear", "mlp", "rnn", "transformer"])
def test_imdb_trains_end_to_end(tmp_path, synthetic_npz, model):
    small = {"linear": [], "mlp": ["model.hidden_dims=[16]"],
             "rnn": ["model.hidden_dim=8", "model.embedding_dim=8"],
             "transformer": ["model.num_layers=1", "model.hidden_dim=8", "model.num_heads=2", "model.intermediate_dim=16"]}
    metrics = train_in_process(tmp_path / "run", [*FAST, "data=imdb", f"data.path={synthetic_npz}",
                                                  "data.vocab_size=400", "data.max_len=48", f"model={model}",
                                                  *small[model]])
    assert metrics["status"] == "completed"
    assert_accuracy_from_its_counts(metrics["test"], examples=100)  # every synthetic test review scored
