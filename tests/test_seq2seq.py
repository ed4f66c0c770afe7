"""Sequence to sequence: text pairs read and tokenized on the training split, the encoder–decoder
families, the masked loss, decoding, the decoded test metrics and every refused input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import load_metrics, train_in_process, validated
from bmrun.errors import ConfigError, DataError


def write_pairs(path: Path, rows, header=("en", "fr")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def reversal_pairs(path: Path, count: int = 600) -> Path:
    """Digits to their reverse, dash-separated: learnt in a few epochs."""
    rng = np.random.default_rng(0)
    numbers = rng.choice(10000, count, replace=False)
    return write_pairs(path, [(str(n), "-".join(str(n)[::-1])) for n in numbers])


def pairs_overrides(path: Path, *extra: str) -> list[str]:
    return ["model=transformer", "model.decoder_layers=1", "data=csv", f"data.path={path}", "data.source=en",
            "data.target_text=fr", *extra]


def prepared(path: Path, *extra: str):
    from bmrun.data import load_prepared

    config = validated(pairs_overrides(path, *extra))
    return load_prepared(config.data, config.seed)


# ---------------------------------------------------------------------------- data
def test_vocabulary_comes_from_the_training_split_only(tmp_path):
    rows = [(f"a{i % 3}", f"b{i % 3}") for i in range(40)] + [("zzz", "yyy")]
    data = prepared(write_pairs(tmp_path / "p.csv", rows), "data.test_fraction=0.2", "data.split_seed=1")
    vocabulary = data.columns["vocabulary"]
    seen = set("".join(data.train.texts["source"] + data.train.texts["reference"]))
    assert set(vocabulary[4:]) == seen
    assert data.task.num_classes == len(vocabulary) == data.inputs.vocab_size


def test_ids_shift_the_target_and_mask_padding(tmp_path):
    from bmrun.tasks.vocabulary import END, START, ids_to_texts

    data = prepared(write_pairs(tmp_path / "p.csv", [("ab", "xyz")] * 10 + [("b", "x")] * 10), "data.max_length=4")
    x, y = data.train.x, data.train.y
    row = data.train.texts["reference"].index("xyz")
    assert x["target_in"][row, 0] == START and y[row, 3] == END
    short = data.train.texts["reference"].index("x")
    assert y[short, 1] == END and y[short, 2] == 0  # padding after the end token
    # Each side as wide as the training split's longest text plus one: "ab" + end, "xyz" + end.
    assert x["source"].shape[1] == 3 and y.shape[1] == x["target_in"].shape[1] == 4
    assert data.inputs.shape == (3, 4)
    np.testing.assert_array_equal(x["target_in"][row, 1:4], y[row, :3])  # shifted right by one
    assert ids_to_texts(y[row:row + 1], data.columns["vocabulary"], "char") == ["xyz"]


def test_long_texts_are_cut_and_counted_or_refused(tmp_path):
    path = write_pairs(tmp_path / "p.csv", [("abcdef", "x")] * 10 + [("a", "y")] * 10)
    data = prepared(path, "data.max_length=3")
    assert "texts longer than data.max_length=3" in data.notes
    with pytest.raises(DataError, match="data.max_length=3"):
        prepared(path, "data.max_length=3", "data.on_long=error")


def test_word_tokens_and_a_two_column_tsv(tmp_path):
    path = tmp_path / "fra.tsv"
    path.write_text("Go.\tVa !\nHi.\tSalut !\n" * 10, encoding="utf-8")
    data = prepared(path, "data.format=tsv", "data.tokens=word")
    assert {"Va", "Salut", "!"} <= set(data.columns["vocabulary"])


@pytest.mark.parametrize("content, format_, message", [
    ("Go.\tVa !\tCC-BY 2.0 (France)\n", "tsv", "3 tab-separated columns.*cut -f1,2"),
    ("en,fr\nGo.,\n", "csv", "line 2: the target 'fr' is empty"),
    ("en,de\nGo.,Geh\n", "csv", "no column 'fr'"),
])
def test_bad_pair_files_are_one_paragraph(tmp_path, content, format_, message):
    path = tmp_path / f"p.{format_}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        prepared(path, f"data.format={format_}")


def test_mixed_encodings_name_the_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes("Go.\tVa !\n".encode() + "Café\tcafé\n".encode("latin-1"))
    with pytest.raises(DataError, match="line 2: bytes that are not UTF-8"):
        prepared(path, "data.format=tsv")


@pytest.mark.parametrize("overrides, key", [
    (["model=transformer"], "model.decoder_layers"),
    (["model=rnn"], "model.decoder"),
    (["model=mlp"], "model"),
    (["model=transformer", "model.decoder_layers=1", "data.target=fr"], "data"),
])
def test_models_without_a_decoder_are_refused(tmp_path, overrides, key):
    path = write_pairs(tmp_path / "p.csv", [("a", "b")] * 4)
    base = ["data=csv", f"data.path={path}", "data.source=en", "data.target_text=fr"]
    with pytest.raises(ConfigError) as error:
        validated(base + overrides)
    assert error.value.key.startswith(key)


def test_a_decoder_on_labelled_data_is_refused():
    with pytest.raises(ConfigError, match="use model.decoder_layers=0"):
        validated(["model=transformer", "model.decoder_layers=2", "data=digits"])
    with pytest.raises(ConfigError, match="use model.decoder=none"):
        validated(["model=rnn", "model.decoder=attention", "data=digits"])


# ---------------------------------------------------------------------------- metrics and decoding
def test_text_metrics_use_sacrebleu_and_respace_words():
    sacrebleu = pytest.importorskip("sacrebleu")
    from bmrun.tasks.seq2seq import text_metrics

    outputs, references = ["Va !", "le chat"], ["Va!", "le chien"]
    metrics = text_metrics(outputs, references, "word")
    assert metrics["exact_match"] == 0.5
    assert metrics["bleu"] == pytest.approx(sacrebleu.corpus_bleu(outputs, [references]).score)
    assert metrics["chrf"] == pytest.approx(sacrebleu.corpus_chrf(outputs, [references]).score)


def test_token_loss_ignores_padding():
    import tensorflow as tf

    from bmrun.training.losses import make_loss

    loss = make_loss("token_cross_entropy", num_classes=None)
    logits = tf.constant(np.random.default_rng(0).normal(size=(1, 3, 5)), tf.float32)
    padded = loss(tf.constant([[4, 3, 0]]), logits)
    changed = tf.concat([logits[:, :2], logits[:, 2:] + 7.0], axis=1)  # the padded position's logits only
    np.testing.assert_allclose(padded.numpy(), loss(tf.constant([[4, 3, 0]]), changed).numpy(), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["transformer", "rnn"])
def test_a_short_run_decodes_and_scores_the_test_split(tmp_path, family):
    path = reversal_pairs(tmp_path / "pairs.csv")
    overrides = pairs_overrides(path, "data.max_length=8", "trainer.max_epochs=4", "data.batch_size=64",
                               "logger.tensorboard=false")
    if family == "rnn":  # the attention encoder-decoder instead of the transformer's
        overrides = [o for o in overrides if not o.startswith("model")] + [
            "model=rnn", "model.decoder=attention", "model.hidden_dim=64"]
    train_in_process(tmp_path / "run", overrides)
    test = load_metrics(tmp_path / "run")["test"]
    assert {"loss", "token_accuracy", "exact_match"} <= set(test)
    # Chance is about 1 in 12 tokens; four epochs take the transformer past half, the RNN past a third.
    assert test["token_accuracy"] > {"transformer": 0.5, "rnn": 0.35}[family]


def test_greedy_and_beam_decoding_stop_at_the_end_token():
    """A model that always prefers token 5, and the end token from position 2 on."""
    import tensorflow as tf

    from bmrun.tasks.decoding import decode_ids
    from bmrun.tasks.vocabulary import END

    class Fixed(tf.Module):
        def __call__(self, inputs, training=False):
            target = inputs["target_in"]
            length = tf.shape(target)[1]
            prefer = tf.where(tf.range(length) < 2, 5, END)
            return tf.one_hot(tf.broadcast_to(prefer, tf.shape(target)), 8) * 5.0

    source = np.ones((3, 6), np.int32)
    for beam in (1, 3):
        ids = decode_ids(Fixed(), source, beam_size=beam)
        np.testing.assert_array_equal(ids, np.tile([5, 5, END, 0, 0, 0], (3, 1)))


# ---------------------------------------------------------------------------- the plain command's settings
def test_text_pairs_get_their_own_training_settings(tmp_path):
    """conf/data/csv.yaml: a few large batches for text pairs, a table's long schedule otherwise."""
    path = write_pairs(tmp_path / "p.csv", [(str(i), f"n{i % 2}") for i in range(20)], header=("en", "fr"))
    pairs = validated(pairs_overrides(path))
    assert (pairs.data.batch_size, pairs.trainer.max_epochs, pairs.optimizer.schedule) == (128, 8, "cosine")
    chosen = validated(pairs_overrides(path, "data.batch_size=16", "trainer.max_epochs=2"))
    assert (chosen.data.batch_size, chosen.trainer.max_epochs) == (16, 2)  # the command line still wins
    table = validated(["model=mlp", "data=csv", f"data.path={path}", "data.target=fr"])
    assert (table.data.batch_size, table.trainer.max_epochs) == (64, 100)


def test_the_rnn_encoder_decoder_gets_its_own_learning_rate(tmp_path):
    """conf/optimizer/adam.yaml: 3e-3 for model=rnn on text pairs, 1e-3 for every other use."""
    path = write_pairs(tmp_path / "p.csv", [(str(i), f"n{i % 2}") for i in range(20)], header=("en", "fr"))
    rnn = ["model=rnn", "model.decoder=attention", *pairs_overrides(path)[2:]]
    lr = lambda *extra: validated(list(extra)).optimizer.lr  # noqa: E731
    assert lr(*rnn) == 3e-3
    assert lr(*rnn, "optimizer=adamw") == 3e-3
    assert lr(*pairs_overrides(path)) == 1e-3  # the transformer
    assert lr("model=rnn", "data=csv", f"data.path={path}", "data.text=en", "data.target=fr") == 1e-3  # a label
    assert lr("model=rnn", "data=adding") == 1e-3
    assert lr(*rnn, "optimizer.lr=5e-4") == 5e-4  # the command line still wins
    assert lr(*rnn, "optimizer=sgd") == 0.05  # SGD keeps its own


def test_help_shows_both_defaults(capsys):
    from conftest import help_line

    assert "64 for a table, 128 for text pairs" in help_line(capsys, "data", "csv", "data.batch_size")
    assert "1e-3 (model=rnn on text pairs: 3e-3)" in help_line(capsys, "optimizer", "adam", "optimizer.lr")


# ---------------------------------------------------------------------------- a run, end to end
def test_a_run_predicts_texts_writes_decoded_tables_and_shows_decoded_metrics(tmp_path, capsys):
    """One tiny run: bmrun-predict --text/--file, TensorBoard's text tables, the results table,
    and the prefix-only decoding against the full-width model run step by step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from bmrun.cli import predict
    from bmrun.console import print_results
    from bmrun.data.tokens import encode
    from bmrun.models.loading import open_run
    from bmrun.tasks.vocabulary import START

    path = reversal_pairs(tmp_path / "pairs.csv", count=300)
    run = tmp_path / "run"
    metrics = train_in_process(run, pairs_overrides(path, "trainer.max_epochs=2", "data.batch_size=32"))
    assert {"exact_match", "token_accuracy"} <= set(metrics["test"])

    print_results(metrics, str(run))  # the decoded metrics are columns of the results table
    header = capsys.readouterr().out
    assert "token_accuracy" in header and "exact_match" in header

    for split, rows in (("val", 8), ("test", 20)):
        events = EventAccumulator(str(run / "tensorboard" / split), size_guidance={"tensors": 0})
        events.Reload()
        assert "decoded" in events.Tags()["tensors"], split
        table = events.Tensors("decoded")[-1].tensor_proto.string_val[0].decode()
        assert table.startswith("| source | reference | output |") and len(table.splitlines()) == rows + 2

    lines = tmp_path / "lines.txt"
    lines.write_text("123\n\n4567\n", encoding="utf-8")
    predict.main([str(run), "--text", "89", "--file", str(lines), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in records] == ["89", "123", "4567"] and all("output" in r for r in records)
    # The exported model of strings: the same outputs, reloaded in safe mode.
    import keras
    import tensorflow as tf

    import bmrun.models.text_model  # noqa: F401  (registers TextToText)

    text_model = keras.saving.load_model(str(run / "model" / "text_model.keras"), safe_mode=True)
    exported = [t.decode() for t in text_model(tf.constant(["89", "123", "4567"])).numpy()]
    assert exported == [r["output"] for r in records]
    with pytest.raises(DataError, match="--text or --file"):
        predict.predict_files(str(run), [str(lines)])

    # Decoding runs the model on each prefix only: position t's logits equal the full width's.
    model = open_run(str(run), "test").model
    source, _ = encode(["1234", "98", "5"], model.columns["vocabulary"], "char", model.example_shape[0] - 1,
                       start=False)
    target = np.random.default_rng(0).integers(4, len(model.columns["vocabulary"]), (3, model.example_shape[1]),
                                               dtype=np.int32)
    target[:, 0] = START
    spec = tf.TensorSpec([None, None], tf.int32)  # a prefix is shorter than the model's width: traced, as decoding is
    run_model = tf.function(lambda s, t: model({"source": s, "target_in": t}, training=False), input_signature=[spec] * 2)
    full = np.asarray(run_model(source, target))
    for t in (0, 2, target.shape[1] - 1):
        prefix = np.asarray(run_model(source, target[:, :t + 1]))
        np.testing.assert_allclose(prefix[:, t], full[:, t], atol=1e-4)


def test_next_steps_of_a_text_pair_run_say_predict_text(tmp_path, capsys):
    from bmrun.console import print_next_steps

    (tmp_path / "model").mkdir()
    print_next_steps(str(tmp_path), "completed")
    assert "--text" not in capsys.readouterr().out
    (tmp_path / "model" / "text_model.keras").write_bytes(b"")
    print_next_steps(str(tmp_path), "completed")
    assert f'bmrun-predict {tmp_path} --text "..."' in " ".join(capsys.readouterr().out.split())
