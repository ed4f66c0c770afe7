"""bmrun-explain on a text-pair run: the cross-attention map of one source, or one clear line."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from conftest import train_in_process
from test_seq2seq import pairs_overrides, reversal_pairs

TINY = {"transformer": ["model.hidden_dim=32", "model.num_heads=2", "model.intermediate_dim=32"],
        "rnn": ["model=rnn", "model.decoder=attention", "model.hidden_dim=16", "model.embedding_dim=8"]}


@pytest.fixture(scope="module", params=["transformer", "rnn"])
def pair_run(request, tmp_path_factory):
    """One tiny text-pair run of each family (one epoch: the map's shape and sums need no skill)."""
    family, work = request.param, tmp_path_factory.mktemp(f"pairs_{request.param}")
    overrides = pairs_overrides(reversal_pairs(work / "pairs.csv", count=200), "trainer.max_epochs=1",
                                "data.batch_size=32", "logger.tensorboard=false")
    if family == "rnn":
        overrides = [o for o in overrides if not o.startswith("model")]
    train_in_process(work / "run", overrides + TINY[family])
    return work / "run"


def test_the_map_has_a_row_per_output_token_summing_to_one(pair_run):
    from bmrun.cli.explain import explain

    result = explain(str(pair_run), texts=["123"])
    with open(pair_run / "explain" / "cross_attention.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][1:] == ["1", "2", "3", "</s>"]  # the source's tokens and its end token
    matrix = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    # char tokens: a row per character written, then the end token's, within the target width
    # (8: the training split's longest reversal, "9-9-9-9", and its end token)
    expected = (list(result["output"]) + ["</s>"])[:8]
    assert [row[0] for row in rows[1:]] == expected
    assert matrix.shape == (len(expected), 4) and result["shape"] == [len(expected), 4]
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-3)
    picture = Image.open(result["map"])
    assert min(picture.size) >= 256 and "'123'" in picture.text["caption"]
    assert len(picture.convert("L").getcolors(65536)) > 10  # drawn, not blank


def test_without_a_text_the_first_test_source_is_mapped(pair_run):
    from bmrun.cli.explain import _test_split, explain
    from bmrun.models.loading import open_run

    first = _test_split(open_run(str(pair_run), "test")).test.texts["source"][0]
    result = explain(str(pair_run))
    assert result["source"] == first and result["shape"][1] == len(first) + 1


@pytest.mark.parametrize("argv, words", [(["--text", "12x"], "does not know ('x')"),
                                         (["--text", "1", "--text", "2"], "one --text"),
                                         (["--method", "smoothgrad"], "cross-attention map")])
def test_an_input_it_cannot_map_is_one_line(pair_run, capsys, argv, words):
    from bmrun.cli.explain import main

    with pytest.raises(SystemExit) as exit_:
        main([str(pair_run), *argv])
    error = capsys.readouterr().err
    assert exit_.value.code != 0 and words in error and "Traceback" not in error
    assert len([line for line in error.splitlines() if line.strip()]) <= 2  # the title line and its paragraph
