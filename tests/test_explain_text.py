"""bmrun-explain on text runs: integrated gradients at the token embeddings or the bag of words."""

from __future__ import annotations

import csv
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import train_in_process

FILLER = ("the", "a", "it", "was", "box", "film", "plot", "actor", "long", "red", "blue", "day", "night", "story",
          "music", "scene", "end", "old", "new", "more")
TEXT_ARGS = ["data=csv", "data.target=label", "data.text=review", "data.max_len=8", "data.vocab_size=40"]
RNN = ["model=rnn", "model.cell=gru", "model.hidden_dim=16", "model.embedding_dim=8", "trainer.max_epochs=6",
       "optimizer.lr=0.01"]  # embeddings, padding masked out
BAG = ["model=linear", "trainer.max_epochs=3", "optimizer.lr=0.05"]  # bag of words

TOKEN_DATA = textwrap.dedent('''
    import numpy as np

    def word_7_decides(seed):
        """Token ids 3..29; the label says whether id 7 occurs."""
        rng = np.random.default_rng(seed)
        x = rng.integers(8, 30, size=(400, 6)).astype("int32")
        y = (rng.random(400) < 0.5).astype("int64")
        x[y == 1, rng.integers(0, 6, size=int(y.sum()))] = 7
        return {"x_train": x[:320], "y_train": y[:320], "x_test": x[320:], "y_test": y[320:],
                "input_kind": "tokens", "vocab_size": 30}
''')


def write_reviews(path: Path, n: int = 400, seed: int = 0) -> Path:
    """Six filler words; half the reviews also hold "excellent", and only those are positive."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "label"])
        for _ in range(n):
            words = list(rng.choice(FILLER, 6))
            positive = rng.random() < 0.5
            if positive:
                words[rng.integers(0, 6)] = "excellent"
            writer.writerow([" ".join(words).capitalize() + ".", "pos" if positive else "neg"])
    return path


def train_text(root: Path, family: list[str]) -> Path:
    run_dir = root / "run"
    metrics = train_in_process(run_dir, TEXT_ARGS + [f"data.path={write_reviews(root / 'reviews.csv')}"] + family)
    assert metrics["test"]["accuracy"] > 0.9
    return run_dir


@pytest.fixture(scope="module")
def rnn_run(tmp_path_factory) -> Path:
    return train_text(tmp_path_factory.mktemp("rnn"), RNN)


@pytest.fixture(scope="module")
def bag_run(tmp_path_factory) -> Path:
    return train_text(tmp_path_factory.mktemp("bag"), BAG)


def positive_top_words(run_dir: Path) -> list[str]:
    """The first "for" token of each example predicted positive (top_tokens.csv)."""
    with open(run_dir / "explain" / "top_tokens.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["token"] for r in rows if r["prediction"].endswith(": pos") and r["direction"] == "for"
            and r["rank"] == "1"]


@pytest.mark.parametrize("which", ["rnn_run", "bag_run"])
def test_the_deciding_word_is_the_top_token(request, which):
    from bmrun.cli.explain import explain

    run_dir = request.getfixturevalue(which)
    result = explain(str(run_dir), n=12)
    assert result["explained"] == ("embedding" if which == "rnn_run" else "bag_of_words")
    assert result["completeness_error"] < 0.01  # in the explained layer's space
    tops = positive_top_words(run_dir)
    assert len(tops) >= 3 and all(word == "excellent" for word in tops), tops
    with open(run_dir / "explain" / "tokens.csv", newline="") as handle:
        tokens = list(csv.DictReader(handle))
    assert list(tokens[0]) == ["example", "position", "token", "attribution"]
    assert {t["token"] for t in tokens} <= set(FILLER) | {"excellent", "[UNK]"}  # words, never padding
    assert len([t for t in tokens if t["example"] == "0"]) == 6
    html = (run_dir / "explain" / "tokens.html").read_text()
    assert "excellent" in html and "rgba(0,150,0" in html
    assert_text_summary(run_dir)


def assert_text_summary(run_dir: Path) -> None:
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2

    texts = []
    for path in (run_dir / "tensorboard" / "explain").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            for value in event_pb2.Event.FromString(record).summary.value:
                if value.metadata.plugin_data.plugin_name == "text":
                    texts += [t.decode() for t in tf.make_ndarray(value.tensor).ravel()]
    assert texts and any("`excellent`" in t for t in texts)


def test_explicit_texts_are_explained(bag_run):
    from bmrun.cli.explain import main

    run_dir = bag_run
    main([str(run_dir), "--text", "The plot was excellent", "--text", "A long night"])
    with open(run_dir / "explain" / "tokens.csv", newline="") as handle:
        tokens = list(csv.DictReader(handle))
    first = {t["token"]: float(t["attribution"]) for t in tokens if t["example"] == "0"}
    assert max(first, key=first.get) == "excellent"


def test_token_id_runs_are_explained_at_their_bag_of_words(tmp_path, monkeypatch):
    from bmrun.cli.explain import explain

    (tmp_path / "token_data.py").write_text(TOKEN_DATA)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        run_dir = tmp_path / "tokens"
        train_in_process(run_dir, ["model=linear", "data=custom", "data.target=token_data:word_7_decides",
                                   "trainer.max_epochs=10", "optimizer.lr=0.05"])
        result = explain(str(run_dir), n=20)
    finally:
        sys.modules.pop("token_data", None)
    assert result["explained"] == "bag_of_words"
    assert "#7" in [words[0] for words in result["top"] if words]


def test_a_token_model_without_embeddings_is_refused_with_the_reason():
    import keras

    from bmrun.explain.report import ExplainError, check_explainable

    ids = keras.Input((5,), dtype="int32")
    features = keras.layers.Rescaling(0.1)(keras.ops.cast(ids, "float32"))
    model = keras.Model(ids, keras.layers.Dense(1)(features))
    with pytest.raises(ExplainError, match="neither.*model=rnn, transformer, linear or mlp"):
        check_explainable(model, "integrated_gradients")
    with pytest.raises(ExplainError, match="smoothgrad adds pixel noise"):
        check_explainable(_bag_model(), "smoothgrad")


def _bag_model():
    import keras

    ids = keras.Input((5,), dtype="int32")
    bag = keras.layers.CategoryEncoding(num_tokens=10, output_mode="multi_hot")(ids)
    return keras.Model(ids, keras.layers.Dense(1)(bag))
