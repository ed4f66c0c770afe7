"""``data=audio_folder``: WAV reading, the folder's bad input, the log-mel front end, SpecAugment,
and a tiny keyword run end to end (train, reload in safe mode, bmrun-predict on WAV clips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bmrun.data.wav import BadClip, fit_length, read_wav, resample, write_wav
from bmrun.errors import BmrunError, DataError
from conftest import train_in_process

RATE = 8000
TONES = {"high": 1500.0, "low": 250.0}


def make_clips(root: Path, per_class: int = 12, duration: float = 0.25) -> Path:
    """Tones of two pitches with noise, at mixed rates, widths and channel counts."""
    rng = np.random.default_rng(0)
    for label, freq in TONES.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rate = (RATE, 16000, 11025)[i % 3]
            t = np.arange(int(rate * duration * rng.uniform(0.6, 1.2))) / rate
            wave = 0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))
            write_wav(root / label / f"{i}.wav", wave, rate, width=(2, 1, 3, 4)[i % 4], channels=1 + i % 2)
    return root


AUDIO = ["data=audio_folder", f"data.sample_rate={RATE}", "data.duration=0.25", "data.n_mels=16"]


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_widths_read_back_the_written_samples(tmp_path, width):
    wave = 0.8 * np.sin(np.linspace(0, 20, 400))
    write_wav(tmp_path / "a.wav", wave, RATE, width=width)
    got = read_wav(tmp_path / "a.wav", RATE)
    assert got.dtype == np.float32 and got.shape == (400,)
    assert np.abs(got - wave).max() < (0.02 if width == 1 else 1e-4)


def test_stereo_is_mixed_down_and_rates_are_resampled(tmp_path):
    left, right = np.full(1000, 0.5), np.full(1000, -0.1)
    write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000)
    got = read_wav(tmp_path / "s.wav", 8000)
    assert got.shape == (500,) and np.allclose(got, 0.2, atol=1e-3)
    tone = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    down = resample(tone, 16000, 8000)
    assert np.allclose(down, np.sin(2 * np.pi * 440 * np.arange(8000) / 8000), atol=1e-3)
    assert fit_length(np.ones(3, np.float32), 5).tolist() == [1, 1, 1, 0, 0]
    assert fit_length(np.ones(9, np.float32), 5).shape == (5,)


def test_bad_clips_are_one_paragraph(tmp_path):
    (tmp_path / "text.wav").write_text("not audio at all, just text")
    write_wav(tmp_path / "empty.wav", np.zeros(0), RATE)
    with pytest.raises(BadClip, match="not a readable WAV file"):
        read_wav(tmp_path / "text.wav", RATE)
    with pytest.raises(BadClip, match="zero-length clip"):
        read_wav(tmp_path / "empty.wav", RATE)


@pytest.mark.parametrize("budget", ["2GiB", "1KiB"])  # resident, and streamed from disk
def test_a_bad_clip_in_the_folder_stops_the_run_or_is_skipped(tmp_path, budget):
    from conftest import validated

    from bmrun.data.audio_folder import DATASET

    root = make_clips(tmp_path / "clips", per_class=5)
    (root / "low" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    config = validated([*AUDIO, f"data.path={root}", f"data.memory_budget={budget}"])
    with pytest.raises(DataError, match=r"broken\.wav: not a readable WAV.*data\.on_bad_file=skip"):
        DATASET.load(config.data, 0)
    config = validated([*AUDIO, f"data.path={root}", "data.on_bad_file=skip", f"data.memory_budget={budget}"])
    raw = DATASET.load(config.data, 0)
    assert len(raw.x_train) + len(raw.x_test) == 10 and raw.x_train.shape[1] == 2000
    assert "skipped 1 unreadable clips" in raw.notes
    assert np.asarray(raw.x_test).shape == (len(raw.x_test), 2000)  # streamed clips read back as arrays


def test_folder_without_clips_and_missing_path_are_refused(tmp_path):
    from conftest import validated

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"")
    with pytest.raises(BmrunError, match=r"class folder .*a has no clips \(WAV files\)"):
        validated([*AUDIO, f"data.path={tmp_path}"])
    with pytest.raises(BmrunError, match="data=audio_folder needs data.path"):
        validated(AUDIO)


def test_log_mel_front_end_shape_and_safe_mode_round_trip(tmp_path):
    import keras

    from bmrun.models.audio import LogMel

    layer = LogMel(RATE, 200, 80, 16)
    waves = np.random.default_rng(0).standard_normal((3, 2000)).astype(np.float32)
    out = np.asarray(layer(waves))
    assert out.shape == (3, 25, 16, 1)
    # Standardised per clip: a clip ten times louder gives the same spectrogram.
    assert np.allclose(np.asarray(layer(10 * waves)), out, atol=1e-3)
    inputs = keras.Input((2000,))
    model = keras.Model(inputs, LogMel(RATE, 200, 80, 16)(inputs))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert np.allclose(np.asarray(again(waves)), out, atol=1e-5)


def test_spec_augment_masks_a_span_and_a_band_reproducibly():
    import tensorflow as tf

    from bmrun.data.augment import Augmenter

    augmenter = Augmenter(time_mask=0.5, freq_mask=0.5, seed=3)
    t = np.arange(4000) / RATE
    waves = np.stack([np.sin(2 * np.pi * 300 * t) + np.sin(2 * np.pi * 3000 * t)] * 4).astype(np.float32)
    out = np.asarray(augmenter(tf.constant(waves), 0, 0))
    assert out.shape == waves.shape
    assert np.array_equal(out, np.asarray(augmenter(tf.constant(waves), 0, 0)))
    assert not np.array_equal(out, np.asarray(augmenter(tf.constant(waves), 0, 1)))
    silent = np.abs(out) < 1e-6
    assert silent.any(axis=1).all()  # each clip has a silenced span
    assert Augmenter(seed=3)(tf.constant(waves), 0, 0).numpy() == pytest.approx(waves, abs=1e-4)


def test_keyword_run_trains_predicts_wav_and_reloads(tmp_path):
    from bmrun.cli.predict import predict_files

    root = make_clips(tmp_path / "clips")
    run = tmp_path / "run"
    metrics = train_in_process(run, [*AUDIO, f"data.path={root}", "model=cnn", "model.filters=[8]",
                                     "model.hidden_dims=[16]", "trainer.max_epochs=15", "augment=standard",
                                     "logger.tensorboard=false", "optimizer.lr=0.003"])
    assert metrics["test"]["accuracy"] >= 0.8
    clip = root / "low" / "0.wav"
    records = predict_files(str(run), [str(clip), str(root / "high" / "1.wav")])
    assert [r["name"] for r in records] == ["low", "high"]
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="reads audio clips; give .wav"):
        predict_files(str(run), [str(tmp_path / "notes.txt")])
