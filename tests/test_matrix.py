"""Every model family against every dataset: compatible pairs train one tiny step; the others are
refused with a clear config error before anything is loaded."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bmrun import registry
from bmrun.data.idx import write_idx
from bmrun.errors import ConfigError
from conftest import train_in_process, validated
from test_data_sequences import write_imdb

# The built-in families and datasets (custom ones need a target, csv a file: tests/test_data_csv.py;
# image_folder a folder: tests/test_data_image_folder.py trains every family on one; the task kinds'
# own datasets and families — audio_folder, timeseries, unet, multimodal — are trained by their own
# tests; plugins have their own tests).
OWN_TESTS = ("custom", "csv", "image_folder", "audio_folder", "timeseries", "unet", "multimodal")
FAMILIES = {name: e for name, e in registry.models().items() if e.builtin and name not in OWN_TESTS}
DATASETS = {name: e for name, e in registry.datasets().items() if e.builtin and name not in OWN_TESTS}
PAIRS = list(itertools.product(sorted(FAMILIES), sorted(DATASETS)))
TINY = ["data.limit=48", "data.batch_size=16", "trainer.max_epochs=1", "trainer.limit_train_batches=1",
        "logger.tensorboard=false"]
# Sizes that keep each family small and valid on every input it reads.
MODEL_ARGS = {"transformer": ["model.patch_size=4", "model.num_layers=1", "model.hidden_dim=16", "model.intermediate_dim=16"],
              "rnn": ["model.hidden_dim=8"], "mlp": ["model.hidden_dims=[8]"], "cnn": []}
DATA_ARGS = {"imdb": ["data.vocab_size=300", "data.max_len=16"], "adding": ["data.seq_len=12", "data.num_test=32"],
             "ratings": ["data.synthetic_users=30", "data.synthetic_items=20", "data.synthetic_ratings=300"]}


@pytest.fixture(scope="module")
def local_files(tmp_path_factory):
    """Small local copies for the datasets that are files (offline, and fast)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    mnist = root / "mnist"
    mnist.mkdir()
    for name, n in (("train", 120), ("t10k", 40)):
        write_idx(mnist / f"{name}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(mnist / f"{name}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    reviews = lambda n: [list(rng.integers(4, 400, rng.integers(3, 30))) for _ in range(n)]  # noqa: E731
    imdb = write_imdb(root / "imdb.npz", reviews(60), rng.integers(0, 2, 60), reviews(20), rng.integers(0, 2, 20))
    return {"mnist": mnist, "fashion_mnist": mnist, "imdb": imdb}


def _overrides(model: str, data: str, files: dict) -> list[str]:
    extra = [f"data.path={files[data]}"] if data in files else []
    return [f"model={model}", f"data={data}", *TINY, *MODEL_ARGS.get(model, []), *DATA_ARGS.get(data, []), *extra]


def _pair_id(value) -> str:
    return str(value)


def _compatible(model: str, data: str) -> bool:
    return DATASETS[data].specs(DATASETS[data].config(name=data))[1].kind in FAMILIES[model].accepts


@pytest.mark.parametrize("model, data", [p for p in PAIRS if _compatible(*p)], ids=_pair_id)
def test_compatible_pair_trains_one_step(tmp_path, local_files, model, data):
    metrics = train_in_process(tmp_path, _overrides(model, data, local_files))
    assert metrics["status"] == "completed"
    assert ("r2" if DATASETS[data].task.kind == "regression" else "accuracy") in metrics["test"]


def test_the_matrix_covers_every_built_in_family_and_dataset():
    assert set(FAMILIES) == {"linear", "mlp", "cnn", "rnn", "transformer", "factorization", "two_tower"}
    assert set(DATASETS) == {"digits", "mnist", "fashion_mnist", "imdb", "adding", "diabetes", "breast_cancer",
                             "ratings"}


@pytest.mark.parametrize("model, data", [p for p in PAIRS if not _compatible(*p)], ids=_pair_id)
def test_incompatible_pair_is_refused(model, data):
    with pytest.raises(ConfigError, match=f"model={model} cannot read data={data}"):
        validated([f"model={model}", f"data={data}"])


# Written out by hand, not derived from FAMILIES: convolutions need images, recurrent and
# attention models need an axis of steps; linear and mlp read everything.
REFUSED = {("cnn", "adding"), ("cnn", "breast_cancer"), ("cnn", "diabetes"), ("cnn", "imdb"),
           ("rnn", "breast_cancer"), ("rnn", "diabetes"), ("transformer", "breast_cancer"), ("transformer", "diabetes")}
# Recommenders read (user, item) pairs, which only data=ratings has; no other family reads them.
RECOMMENDERS = ("factorization", "two_tower")
REFUSED |= {(model, "ratings") for model in ("linear", "mlp", "cnn", "rnn", "transformer")}
REFUSED |= {(model, data) for model in RECOMMENDERS for data in ("digits", "mnist", "fashion_mnist", "imdb", "adding",
                                                                 "diabetes", "breast_cancer")}


def test_validation_refuses_exactly_the_pairs_that_cannot_work():
    """The pairs written out above are exactly the incompatible ones. Validation itself is shown
    pair by pair without composing any pair twice: test_incompatible_pair_is_refused refuses each
    of these with its message, test_compatible_pair_trains_one_step validates and trains every other."""
    assert {p for p in PAIRS if not _compatible(*p)} == REFUSED
