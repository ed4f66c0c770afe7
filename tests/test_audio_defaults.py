"""The training settings data=audio_folder carries, and the cnn's ``auto`` settings over a spectrogram."""

from __future__ import annotations

import pytest

from bmrun.errors import ConfigError
from bmrun.models.cnn import CnnConfig, resolved
from conftest import compose, validated


def test_keyword_clips_train_30_cosine_epochs_with_spec_augment(tmp_path):
    from test_audio_folder import make_clips

    clips = f"data.path={make_clips(tmp_path / 'clips', per_class=6)}"
    config = validated(["data=audio_folder", clips])
    assert config.trainer.max_epochs == 30 and config.optimizer.schedule == "cosine"
    assert config.augment.name == "standard" and config.augment.time_mask > 0 and config.augment.freq_mask > 0
    # The command line and augment=none still win.
    assert validated(["data=audio_folder", clips, "trainer.max_epochs=3"]).trainer.max_epochs == 3
    off = validated(["data=audio_folder", clips, "augment=none"]).augment
    assert off.time_mask == 0 and off.freq_mask == 0 and not off.enabled
    # Other datasets are untouched.
    assert compose(["data=digits"]).augment.name == "none"


def test_speech_to_text_has_its_own_ctc_training_settings():
    """data.transcripts: 30 ms frames and hop, batches of 16, clipping, 20 epochs, a GRU at lr 0.01."""
    ctc = ["model=rnn", "data=audio_folder", "data.transcripts=t.csv"]
    config = compose(ctc)
    assert (config.data.frame_ms, config.data.hop_ms, config.data.batch_size) == (30, 30, 16)
    assert (config.optimizer.lr, config.optimizer.clip_norm, config.trainer.max_epochs) == (1e-2, 1.0, 20)
    assert config.model.cell == "gru"
    # Keyword clips, other data and the command line keep theirs.
    words = compose(["model=rnn", "data=audio_folder"])
    assert (words.data.frame_ms, words.data.hop_ms, words.data.batch_size) == (25, 10, 32)
    assert (words.optimizer.lr, words.optimizer.clip_norm, words.trainer.max_epochs) == (1e-3, None, 30)
    assert words.model.cell == compose(["model=rnn", "data=adding"]).model.cell == "lstm"
    assert compose(["model=rnn", "data=adding"]).optimizer.lr == 1e-3
    mine = compose([*ctc, "optimizer.lr=3e-3", "model.cell=lstm", "data.hop_ms=10", "trainer.max_epochs=5"])
    assert (mine.optimizer.lr, mine.model.cell, mine.data.hop_ms, mine.trainer.max_epochs) == (3e-3, "lstm", 10, 5)
    assert compose([*ctc, "optimizer=sgd"]).optimizer.lr == 0.05  # SGD keeps its own


def test_help_shows_the_speech_to_text_defaults(capsys):
    from conftest import help_line

    assert "10 (speech to text: 30)" in help_line(capsys, "data", "audio_folder", "data.hop_ms")
    assert "1e-3 (model=rnn on text pairs: 3e-3) (speech to text: 1e-2)" in help_line(capsys, "optimizer", "adam",
                                                                                     "optimizer.lr")


def test_cnn_auto_settings_resolve_from_the_input():
    assert resolved(CnnConfig(), spectrogram=False) == ([32], "valid", "flatten")
    assert resolved(CnnConfig(), spectrogram=True) == ([32, 64, 128], "same", "time_max")
    mine = CnnConfig(filters=[8], padding="valid", pooling="avg")
    assert resolved(mine, spectrogram=True) == ([8], "valid", "avg")
    with pytest.raises(ConfigError, match="pooling"):
        CnnConfig(pooling="sum")


def test_cnn_over_a_spectrogram_pools_over_time_and_keeps_the_mel_bands():
    """A max over time keeps which bands sounded: a global max lost the pitch of two tones."""
    from bmrun.models.base import BasicModel

    audio = {"audio": {"sample_rate": 8000, "frame_length": 200, "frame_step": 80, "n_mels": 16}}
    model = BasicModel("cnn", input_shape=(2000,), input_kind="audio", columns=audio, num_outputs=3,
                       hidden_dims=[8])
    names = {layer.name for layer in model.backbone.layers}
    assert "time_max" in names and "flatten" in names and "conv_2" in names
    # 25 frames x 16 bands, three pooled blocks: one row of time left, 2 bands of 128 maps each.
    assert tuple(model.backbone.get_layer("time_max").output.shape) == (None, 1, 2, 128)
    image = BasicModel("cnn", input_shape=(8, 8, 1), input_kind="image", num_outputs=3, hidden_dims=[8])
    assert "time_max" not in {layer.name for layer in image.backbone.layers}


def test_a_cnn_saved_before_the_pooling_key_still_flattens():
    from bmrun.models.base import BasicModel

    audio = {"audio": {"sample_rate": 8000, "frame_length": 200, "frame_step": 80, "n_mels": 16}}
    saved = BasicModel("cnn", input_shape=(2000,), input_kind="audio", columns=audio, num_outputs=3,
                       filters=[4], padding="valid", pooling="flatten", hidden_dims=[8]).get_config()
    del saved["pooling"]
    again = BasicModel.from_config(saved)
    assert "flatten" in {layer.name for layer in again.backbone.layers}
    assert "time_max" not in {layer.name for layer in again.backbone.layers}


def test_an_audio_cnn_config_saved_before_the_pooling_key_rebuilds_flattening(tmp_path):
    """A run dir's config.yaml from before model.pooling (resume, bmrun-eval) keeps the flatten model it trained."""
    from omegaconf import OmegaConf

    from bmrun.config import validate
    from test_audio_folder import make_clips

    clips = f"data.path={make_clips(tmp_path / 'clips', per_class=6)}"
    saved = OmegaConf.to_container(compose(["data=audio_folder", clips, "model=cnn", "model.filters=[32]",
                                            "model.padding=valid"]), resolve=True)
    del saved["model"]["pooling"]
    OmegaConf.save(saved, tmp_path / "config.yaml")
    old = validate(OmegaConf.load(tmp_path / "config.yaml"))
    assert resolved(old.model, spectrogram=True) == ([32], "valid", "flatten")
    today = validated(["data=audio_folder", clips, "model=cnn"])  # a new run still gets the auto max over time
    assert resolved(today.model, spectrogram=True)[2] == "time_max"
