"""The speech benchmark's corpus (``benchmarks/speech_corpus.py``): espeak-ng clips that the
audio-folder and transcripts loaders read back with the right class, length and rate."""

from __future__ import annotations

import csv
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import speech_corpus  # noqa: E402

pytestmark = pytest.mark.skipif(not speech_corpus.espeak(), reason="espeak-ng is not installed")
SPLIT = (["en", "en-us+m3"], ["en+f2"])  # two training voices, one held out


def test_keyword_clips_load_as_their_class_with_held_out_voices_in_test(tmp_path):
    from bmrun.config import compose, validate
    from bmrun.data.audio_folder import layout_of, load

    root = speech_corpus.write_keywords(tmp_path / "kw", per_voice=1, words=("yes", "no"), voice_split=SPLIT)
    assert sorted(p.name for p in (root / "test" / "no").iterdir()) == ["en_f2-0.wav"]
    for path in root.glob("*/*/*.wav"):
        with wave.open(str(path)) as clip:
            assert clip.getframerate() == speech_corpus.RATE and clip.getnchannels() == 1
            assert 0.2 < clip.getnframes() / clip.getframerate() < 1.0  # a word, not silence or a sentence
    config = validate(compose(["data=audio_folder", f"data.path={root}"]))
    layout = layout_of(config.data)
    paths, labels = layout.splits["test"]
    assert [layout.classes[i] for i in labels] == [Path(p).parent.name for p in paths]
    raw = load(config.data, seed=0)
    assert raw.x_test.shape == (2, 16000) and raw.x_train.shape == (4, 16000)  # padded to data.duration
    assert all(np.abs(w).max() > 0.05 for w in raw.x_test)  # speech, not silence


def test_digit_strings_carry_their_split_in_the_transcripts(tmp_path):
    from bmrun.data.transcripts import read_transcripts

    # Seeded: six strings per training voice use every letter the held-out voice's strings use.
    root = speech_corpus.write_digit_strings(tmp_path / "dg", per_voice=6, voice_split=SPLIT)
    with open(root / "transcripts.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["split"] for r in rows] == ["train"] * 12 + ["test"] * 6
    assert all(set(r["text"].split()) <= set(speech_corpus.WORDS) for r in rows)
    layout = read_transcripts(str(root), "transcripts.csv", 0.2, "error")
    assert [Path(p).name for p in layout.splits["test"][0]] == [f"en_f2-{n}.wav" for n in range(6)]
