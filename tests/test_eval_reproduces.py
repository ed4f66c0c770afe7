"""``bmrun-eval`` on a finished run gives back its metrics.json ``test`` block, key by key, for
every task kind and the options that change the test (TTA, robust accuracy, ranking)."""

from __future__ import annotations

import pytest

from conftest import load_metrics, train_in_process

CASES = {
    "multiclass_tta_adversarial": ["data=digits", "data.limit=300", "trainer.max_epochs=2", "augment.tta=flip",
                                   "trainer.adv_eval_epsilon=0.1"],
    "binary": ["data=breast_cancer", "model=mlp", "trainer.max_epochs=3"],
    "regression": ["data=diabetes", "model=linear", "trainer.max_epochs=3"],
    "recommender": ["data=ratings", "data.synthetic_users=60", "data.synthetic_items=40",
                    "data.synthetic_ratings=1500", "model=factorization", "trainer.max_epochs=2"],
    "forecast": ["data=timeseries", "data.path={series}", "data.target=sales", "model=rnn", "model.hidden_dim=8",
                 "data.window=8", "data.horizon=3", "trainer.max_epochs=2"],
    "audio_keyword": ["data=audio_folder", "data.path={clips}", "data.sample_rate=8000", "data.duration=0.25",
                      "data.n_mels=16", "model=cnn", "model.filters=[8]", "trainer.max_epochs=2"],
    "audio_ctc": ["data=audio_folder", "data.path={transcribed}", "data.transcripts=transcripts.csv",
                  "data.sample_rate=8000", "data.duration=0.5", "data.n_mels=16", "model=rnn", "model.pooling=none",
                  "model.hidden_dim=16", "trainer.max_epochs=2"],
    "multimodal": ["model=multimodal", "data=csv", "data.target=label", "data.images=[photo]", "data.text=[title]",
                   "trainer.max_epochs=2"],  # data.path: a table written by the test
    # text pairs (the file is written per test): the decoded metrics come back too, beams included
    "seq2seq": ["model=transformer", "model.decoder_layers=1", "data=csv", "data.source=en", "data.target_text=fr",
                "data.max_length=6", "trainer.max_epochs=2", "test.beam_size=2"],
}
# What each case's test block must hold besides loss (the kind's own metrics, the options').
EXPECTED_KEYS = {
    "multiclass_tta_adversarial": {"accuracy", "per_class", "adv_accuracy", "adv_epsilon"},
    "binary": {"accuracy", "roc_auc", "pr_auc", "per_class"},
    "regression": {"rmse", "r2", "mae"},
    "recommender": {"rmse", "recall_at_10", "ndcg_at_10"},
    "forecast": {"mae", "rmse", "smape", "mase", "direction_accuracy", "mae_h3", "baselines"},
    "audio_keyword": {"accuracy", "roc_auc", "pr_auc", "per_class"},
    "audio_ctc": {"cer", "wer"},
    "multimodal": {"accuracy", "roc_auc", "pr_auc", "per_class"},
    "seq2seq": {"token_accuracy", "exact_match"},
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_eval_gives_back_the_runs_test_block(case, tmp_path):
    from bmrun.cli.eval import evaluate_run

    if case == "audio_ctc":
        pytest.importorskip("jiwer")
    overrides = [_with_folder(o, tmp_path) for o in CASES[case]]
    if case == "multimodal":  # images, a text and table columns in one CSV
        from multimodal_helpers import ensure_registered, write_table

        ensure_registered(tmp_path / "site")
        overrides.append(f"data.path={write_table(tmp_path / 'table', 200, missing_every=30)}")
    if case == "seq2seq":  # text pairs: digits to their mirror image
        pairs = tmp_path / "pairs.csv"
        pairs.write_text("en,fr\n" + "".join(f"{n},{str(n)[::-1]}\n" for n in range(200)))
        overrides.append(f"data.path={pairs}")
    run = tmp_path / "run"
    train_in_process(run, [*overrides, "logger.tensorboard=false"])
    expected = load_metrics(run)["test"]
    assert EXPECTED_KEYS[case] | {"loss"} <= set(expected), sorted(expected)
    result, _ = evaluate_run(str(run))
    assert result["test"].keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):  # per_class: the same counts give the same ratios
            assert result["test"][key] == value, key
        else:
            assert result["test"][key] == pytest.approx(value, rel=1e-5, abs=1e-7), key


@pytest.mark.slow
def test_eval_gives_back_a_segmentation_runs_test_block(tmp_path):
    from bmrun.cli.eval import evaluate_run
    from segmentation_data import make_scans

    make_scans(tmp_path, count=16, size=(12, 16))
    run = tmp_path / "run"
    train_in_process(run, ["data=image_folder", f"data.path={tmp_path / 'scans'}", f"data.masks={tmp_path / 'masks'}",
                           "model=unet", "model.filters=4", "model.depth=2", "trainer.max_epochs=2",
                           "logger.tensorboard=false"])
    expected = load_metrics(run)["test"]
    assert {"loss", "pixel_accuracy", "mean_iou", "dice", "per_class"} <= set(expected)
    result, _ = evaluate_run(str(run))
    assert result["test"].keys() == expected.keys()
    assert result["test"]["per_class"] == expected["per_class"]
    for key in ("loss", "pixel_accuracy", "mean_iou", "dice"):
        assert result["test"][key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7), key


def _with_folder(override: str, tmp_path) -> str:
    """An override naming a tiny input made here: an audio folder of two tones, transcribed clips, a series."""
    if "{clips}" in override:
        from test_audio_folder import make_clips

        return override.format(clips=make_clips(tmp_path / "clips"))
    if "{transcribed}" in override:
        from test_speech_to_text import make_transcribed

        return override.format(transcribed=make_transcribed(tmp_path / "clips"))
    if "{series}" in override:
        from test_forecast import write_series

        return override.format(series=write_series(tmp_path / "series.csv", 150))
    return override
