"""Speech to text (``data.transcripts``): the transcripts file's bad input, CTC decoding, and a
tiny run that reports test CER and WER and prints transcripts with bmrun-predict."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bmrun.data.wav import write_wav
from bmrun.errors import DataError
from conftest import train_in_process

RATE = 8000
FREQ = {"a": 400.0, "b": 900.0, "c": 1600.0, " ": 0.0}


def make_transcribed(root: Path, count: int = 24) -> Path:
    """Clips that 'say' strings over a b c and space: one tone per character, short gaps."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        text = "".join(rng.choice(list("abc"), size=2)) + " " + str(rng.choice(list("abc")))
        parts = []
        for ch in text:
            t = np.arange(int(RATE * 0.06)) / RATE
            parts += [0.5 * np.sin(2 * np.pi * FREQ[ch] * t) if FREQ[ch] else 0 * t, np.zeros(200)]
        write_wav(root / f"{i}.wav", np.concatenate(parts), RATE)
        rows.append((f"{i}.wav", text))
    write_rows(root / "transcripts.csv", rows)
    return root


def write_rows(path: Path, rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text"])
        writer.writerows(rows)


def test_transcript_rows_missing_clips_and_unknown_characters(tmp_path):
    from bmrun.data.transcripts import encode, read_transcripts

    root = make_transcribed(tmp_path / "clips", count=6)
    write_rows(root / "gone.csv", [("0.wav", "ab"), ("1.wav", "ba"), ("nowhere.wav", "a")])
    with pytest.raises(DataError, match=r"line 4: the clip nowhere\.wav does not exist.*on_bad_file=skip"):
        read_transcripts(str(root), "gone.csv", 0.3, "error")
    layout = read_transcripts(str(root), "gone.csv", 0.3, "skip")
    assert len(layout.skipped) == 1
    rows = [(f"{i}.wav", "ab") for i in range(5)] + [("5.wav", "zz")]
    write_rows(root / "odd.csv", rows)
    # The fixed split puts some rows in test; a test row with 'z' cannot be written by the model.
    with pytest.raises(DataError, match="characters no training transcript has"):
        for fraction in (0.2, 0.4, 0.6, 0.8):  # one of these fixed draws puts the 'zz' row in test
            read_transcripts(str(root), "odd.csv", fraction, "error")
    with pytest.raises(DataError, match="no such file"):
        read_transcripts(str(root), "missing.csv", 0.2, "error")
    assert encode(["ab", "b"], ("a", "b")).tolist() == [[1, 2], [2, 0]]


def test_a_split_column_chooses_the_test_clips(tmp_path):
    from bmrun.data.transcripts import read_transcripts

    root = make_transcribed(tmp_path / "clips", count=6)
    with open(root / "split.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text", "split"])
        writer.writerows([(f"{i}.wav", "ab", "test" if i in (1, 4) else "train") for i in range(6)])
    layout = read_transcripts(str(root), "split.csv", 0.2, "error")
    assert [Path(p).name for p in layout.splits["test"][0]] == ["1.wav", "4.wav"]
    assert len(layout.splits["train"][0]) == 4
    (root / "bad.csv").write_text("file,text,split\n0.wav,ab,train\n1.wav,ab,dev\n")
    with pytest.raises(DataError, match="line 3: the split column says 'dev'; it must be train or test"):
        read_transcripts(str(root), "bad.csv", 0.2, "error")
    (root / "one.csv").write_text("file,text,split\n0.wav,ab,train\n1.wav,ab,train\n")
    with pytest.raises(DataError, match="0 in test; both need at least one"):
        read_transcripts(str(root), "one.csv", 0.2, "error")


def test_greedy_and_beam_decoding_merge_repeats_and_drop_blanks():
    from bmrun.tasks.ctc import decode

    names = ("", "a", "b")
    ids = [1, 1, 0, 1, 2, 2, 0]  # a a _ a b b _ -> "aab"
    logits = np.full((1, len(ids), 3), -5.0, np.float32)
    logits[0, np.arange(len(ids)), ids] = 5.0
    assert decode(logits, names) == ["aab"]
    assert decode(logits, names, beam_width=4) == ["aab"]


def test_ctc_run_reports_cer_wer_and_predicts_transcripts(tmp_path):
    pytest.importorskip("jiwer")
    from bmrun.cli.predict import predict_files

    root = make_transcribed(tmp_path / "clips")
    run = tmp_path / "run"
    metrics = train_in_process(run, ["data=audio_folder", f"data.path={root}", "data.transcripts=transcripts.csv",
                                     f"data.sample_rate={RATE}", "data.duration=0.5", "data.n_mels=16",
                                     "model=rnn", "model.pooling=none", "model.hidden_dim=16",
                                     "trainer.max_epochs=2", "logger.tensorboard=false"])
    assert {"loss", "cer", "wer"} <= set(metrics["test"])
    assert 0.0 <= metrics["test"]["cer"] and 0.0 <= metrics["test"]["wer"]
    records = predict_files(str(run), [str(root / "0.wav")], beam_width=3)
    assert set(records[0]) == {"input", "transcript"} and set(records[0]["transcript"]) <= set("abc ")


def test_ctc_needs_a_per_frame_model(tmp_path):
    from conftest import validated

    from bmrun.errors import ConfigError

    root = make_transcribed(tmp_path / "clips", count=6)
    with pytest.raises(ConfigError, match="use model=rnn model.pooling=none"):
        validated(["data=audio_folder", f"data.path={root}", "data.transcripts=transcripts.csv", "model=cnn"])
