"""Speech to text's plain command: the per-frame RNN and clips that are not cut (``data.duration=null``)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from omegaconf import OmegaConf

from bmrun.data.wav import header_length, read_wav, write_wav
from bmrun.errors import ConfigError
from conftest import compose, validated
from test_speech_to_text import RATE, make_transcribed, write_rows

SHORT = ["data=audio_folder", "data.path=clips", "data.transcripts=transcripts.csv", "model=rnn"]
# What BENCHMARKS.md measured, less data.duration=2 (see test_a_long_clip_is_not_cut_by_default).
LONG = ["model=rnn", "model.pooling=none", "model.bidirectional=true", "data=audio_folder", "data.path=clips",
        "data.transcripts=transcripts.csv"]


def test_the_short_command_resolves_to_the_measured_one():
    short, long = (OmegaConf.to_container(compose(c), resolve=True) for c in (SHORT, LONG))
    assert short == long
    assert (short["model"]["pooling"], short["model"]["bidirectional"], short["model"]["cell"]) == ("none", True, "gru")
    assert short["data"]["duration"] is None
    # Keyword clips and other data keep the pooled, one-way RNN and 1 s clips.
    words = OmegaConf.to_container(compose(["data=audio_folder", "data.path=clips", "model=rnn"]), resolve=True)
    assert (words["model"]["pooling"], words["model"]["bidirectional"], words["data"]["duration"]) == ("last", False, 1.0)
    assert compose(["model=rnn", "data=adding"]).model.pooling == "last"


def test_a_pooling_the_user_sets_is_still_refused_in_one_line(tmp_path):
    root = make_transcribed(tmp_path / "clips", count=6)
    with pytest.raises(ConfigError, match="model.pooling=last pools the clip"):
        validated(["data=audio_folder", f"data.path={root}", "data.transcripts=transcripts.csv", "model=rnn",
                   "model.pooling=last"])
    with pytest.raises(ConfigError, match="duration"):
        validated(["data=audio_folder", f"data.path={root}", "data.duration=0"])


def _with_long_clip(tmp_path):
    root = make_transcribed(tmp_path / "clips", count=8)
    t = np.arange(int(1.23 * 16000)) / 16000  # 1.23 s at another rate: resampled, still the longest
    write_wav(root / "long.wav", 0.5 * np.sin(2 * np.pi * 400 * t), 16000)
    rows = [(f"{i}.wav", "ab c") for i in range(8)] + [("long.wav", "abc abc")]
    write_rows(root / "transcripts.csv", [(*row, "train") for row in rows[:6]] + [(*rows[8], "train")]
               + [(*row, "test") for row in rows[6:8]])
    (root / "transcripts.csv").write_text((root / "transcripts.csv").read_text().replace("file,text", "file,text,split"))
    return root


def test_a_long_clip_is_not_cut_by_default(tmp_path):
    from bmrun.data.audio_folder import DATASET, clip_seconds

    root = _with_long_clip(tmp_path)
    assert header_length(root / "long.wav", RATE) == len(read_wav(root / "long.wav", RATE)) == 9840
    config = validated([*SHORT, f"data.path={root}", f"data.sample_rate={RATE}", "data.n_mels=16"]).data
    assert clip_seconds(config) == 1.3  # 1.23 s rounded up to 0.1 s
    raw = DATASET.load(config, 0)
    assert raw.x_train.shape[1] == 10400 and "longer than data.duration" not in raw.notes
    assert np.abs(raw.x_train[-1][9000:9840]).max() > 0.1  # the end of the long clip is there
    assert "the longest training clip, 1.3 s" in raw.notes


def test_a_short_duration_counts_the_cut_clips_and_warns(tmp_path, caplog):
    from bmrun.data.audio_folder import DATASET

    root = _with_long_clip(tmp_path)
    config = validated([*SHORT, f"data.path={root}", f"data.sample_rate={RATE}", "data.n_mels=16",
                        "data.duration=0.5"]).data
    with caplog.at_level(logging.WARNING, logger="bmrun"):
        raw = DATASET.load(config, 0)
    assert raw.x_train.shape[1] == 4000
    assert "cut 1 clips longer than data.duration=0.5 s (the longest: 1.23 s)" in raw.notes
    assert "transcripts may name words the cut audio lost" in caplog.text


def test_help_shows_both_defaults(capsys):
    from bmrun.cli.keys import print_keys

    print_keys("data", "audio_folder")
    line = next(line for line in capsys.readouterr().out.splitlines() if "data.duration " in line)
    assert "1.0 (speech to text: null)" in line and "longest" in line
    print_keys("model", "rnn")
    out = capsys.readouterr().out.splitlines()
    assert "last (speech to text: none)" in next(line for line in out if "model.pooling " in line)
    assert "(speech to text: true)" in next(line for line in out if "model.bidirectional " in line)
