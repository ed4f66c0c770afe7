"""What a speech run shows: the results table's columns, TensorBoard's spectrograms and clips,
bmrun-explain's spectrogram saliency, and streaming clips from disk above data.memory_budget.

Two tiny runs of one epoch (a keyword run and a CTC run) are shared by the tests of a kind."""

from __future__ import annotations

import io

import numpy as np
import pytest

from conftest import train_in_process
from test_audio_folder import AUDIO, make_clips
from test_speech_to_text import RATE, make_transcribed

KEYWORD = ["model=cnn", "model.filters=[8]", "model.hidden_dims=[16]", "trainer.max_epochs=1", "augment=standard",
           "data.batch_size=4"]
CTC = ["data.transcripts=transcripts.csv", f"data.sample_rate={RATE}", "data.duration=0.5", "data.n_mels=16",
       "model=rnn", "model.pooling=none", "model.hidden_dim=16", "trainer.max_epochs=1"]


@pytest.fixture(scope="module")
def keyword_run(tmp_path_factory):
    root = make_clips(tmp_path_factory.mktemp("clips"), per_class=8)
    run = tmp_path_factory.mktemp("keyword") / "run"
    return root, run, train_in_process(run, [*AUDIO, f"data.path={root}", *KEYWORD])


@pytest.fixture(scope="module")
def ctc_run(tmp_path_factory):
    pytest.importorskip("jiwer")
    root = make_transcribed(tmp_path_factory.mktemp("spoken"), count=16)
    run = tmp_path_factory.mktemp("ctc") / "run"
    return root, run, train_in_process(run, ["data=audio_folder", f"data.path={root}", *CTC])


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    events.Reload()
    return events


def _png(blob: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(blob)))


def _clip_table(events) -> list[str]:
    return events.Tensors("clips_table")[-1].tensor_proto.string_val[0].decode().splitlines()[2:]


def test_results_tables_show_accuracy_and_error_rates(keyword_run, ctc_run, capsys):
    from bmrun.console import print_results

    print_results(keyword_run[2], str(keyword_run[1]))
    assert "accuracy" in capsys.readouterr().out
    metrics = ctc_run[2]
    print_results(metrics, str(ctc_run[1]))
    table = capsys.readouterr().out
    assert "cer" in table and "wer" in table
    assert f"{metrics['test']['cer']:.4f}"[:4] in table  # the value itself, not only the header


@pytest.mark.parametrize("which", ["keyword", "ctc"])
def test_tensorboard_spectrograms_each_epoch_and_clips_mistakes_first(which, keyword_run, ctc_run):
    root, run, metrics = keyword_run if which == "keyword" else ctc_run
    events = _events(run / "tensorboard" / "test")
    tags = events.Tags()["tensors"]
    assert {"spectrograms", "clips", "clips_table"} <= set(tags)
    pictures = events.Tensors("spectrograms")
    assert len(pictures) == metrics["epochs"] + 1  # each epoch, and the final test
    picture = _png(pictures[-1].tensor_proto.string_val[2])
    assert min(picture.shape[:2]) >= 256 and picture.std() > 10
    rows = _clip_table(events)  # one row per clip in the Audio tab
    marks = [row.rstrip(" |")[-1] for row in rows]
    assert 1 <= len(rows) <= 4 and marks == sorted(marks, key=lambda m: m != "✗")  # mistakes first
    audio = events.Tensors("clips")[-1].tensor_proto  # (wav bytes, label) per clip
    assert [d.size for d in audio.tensor_shape.dim] == [len(rows), 2] and audio.string_val[0][:4] == b"RIFF"


def test_the_clips_to_listen_to_are_the_mistakes_first():
    from bmrun.tensorboard.audio import listening_order

    truths, guesses = ["a", "b", "c", "d", "e"], ["a", "x", "c", "y", "e"]
    assert listening_order(truths, guesses, 4) == [1, 3, 0, 2]
    assert listening_order(truths, truths, 2) == [0, 1]


def test_captions_of_each_task_kind_name_truth_and_prediction():
    from bmrun.specs import BINARY, CTC as CTC_KIND, MULTICLASS, TaskSpec
    from bmrun.tasks import task_for

    task = task_for(TaskSpec(MULTICLASS, 3, ("yes", "no", "up")))
    assert task.captions(np.array([0, 2]), np.array([[3.0, 0, 0], [0, 5.0, 0]])) == (["yes", "up"], ["yes", "no"])
    assert task_for(TaskSpec(BINARY, 2, ("off", "on"))).captions(np.array([1]), np.array([[-2.0]])) == (["on"],
                                                                                                      ["off"])
    logits = np.full((1, 3, 3), -5.0, np.float32)
    logits[0, [0, 1, 2], [1, 0, 2]] = 5.0  # a _ b
    assert task_for(TaskSpec(CTC_KIND, 3, ("", "a", "b"))).captions(np.array([[1, 1, 0]]), logits) == (["aa"], ["ab"])


def test_explain_draws_spectrogram_saliency_of_a_wav_and_of_test_clips(keyword_run, ctc_run, capsys):
    from PIL import Image

    from bmrun.cli import explain

    root, run, _ = keyword_run
    explain.main([str(run), str(root / "low" / "0.wav")])
    printed = capsys.readouterr().out
    assert "saliency" in printed and "predicted" in printed
    png = run / "explain" / "saliency" / "000.png"
    image = Image.open(png)
    assert min(image.size) >= 256 and "low/0.wav" in image.text["Caption"]
    maps = np.load(run / "explain" / "saliency.npy")
    assert maps.shape == (1, 25, 16) and np.isfinite(maps).all() and maps.max() > 0  # frames x mel bands
    with pytest.raises(SystemExit):
        explain.main([str(run), str(root / "low" / "0.wav"), "--method", "gradcam"])
    assert "log-mel spectrogram" in capsys.readouterr().err
    root, run, _ = ctc_run
    explain.main([str(run), "--n", "2"])  # the run's own test clips
    assert "transcript" in capsys.readouterr().out
    assert np.load(run / "explain" / "saliency.npy").shape[0] == 2
    assert "saliency" in _events(run / "tensorboard" / "explain").Tags()["tensors"]


def test_saliency_is_where_the_sound_is():
    """A fixed model that only counts energy in frames 0..9: the gradient lives there alone."""
    import keras

    from bmrun.explain.audio import spectrogram_saliency
    from bmrun.models.audio import LogMel

    waves = keras.Input((800,))
    spectrogram = LogMel(RATE, 200, 80, 8, name="log_mel")(waves)
    first = keras.layers.Lambda(lambda s: s[:, :4])(spectrogram)
    logits = keras.layers.Dense(2)(keras.layers.Flatten()(first))
    model = keras.Model(waves, logits)
    clip = np.random.default_rng(0).standard_normal((1, 800)).astype(np.float32)
    spectrograms, maps, _ = spectrogram_saliency(model, clip, "multiclass")
    assert spectrograms.shape == maps.shape == (1, 10, 8)
    assert maps[0, :4].max() > 0 and not maps[0, 4:].any()


def test_streamed_clips_give_the_same_batches_and_run_as_resident_ones(keyword_run, tmp_path):
    from conftest import validated

    from bmrun.data import load_prepared
    from bmrun.data.audio_stream import FileClips
    from bmrun.data.pipeline import DataPipeline

    root, _, resident = keyword_run
    common = [*AUDIO, f"data.path={root}", *KEYWORD]
    tiny = [*common, "data.memory_budget=1KiB", "logger.tensorboard=false"]
    held, streamed = (load_prepared(validated(o).data, 0) for o in (common, tiny))
    assert isinstance(streamed.train.x, FileClips) and isinstance(held.train.x, np.ndarray)
    assert "streamed from disk" in streamed.notes
    assert np.array_equal(np.asarray(streamed.test.x), held.test.x)  # the same samples, read again
    batches = [[(x.numpy(), y.numpy()) for x, y in DataPipeline(data, batch_size=4, eval_batch_size=8, shuffle=True,
                                                                seed=3).train_dataset(1, skip_batches=1)]
               for data in (streamed, held)]
    assert len(batches[0]) == len(batches[1]) > 0
    for (x_s, y_s), (x_h, y_h) in zip(*batches):  # epoch 2's order, resumed after one batch
        assert np.array_equal(x_s, x_h) and np.array_equal(y_s, y_h)
    run = train_in_process(tmp_path / "streamed", tiny)
    assert run["train"]["loss"] == resident["train"]["loss"]  # the same batches, augmented alike
    # Evaluation takes another compiled path for files (tf.data batches) than for resident
    # tensors; the FFT's rounding may then differ in the last float32 digit.
    scalars = [{k: v for k, v in r["test"].items() if not isinstance(v, dict)} for r in (run, resident)]
    assert scalars[0] == pytest.approx(scalars[1], rel=1e-5)
    assert run["test"].get("per_class") == resident["test"].get("per_class")
