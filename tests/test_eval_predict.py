"""``bmrun-eval`` and ``bmrun-predict`` on a small digits run: results, files and bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import copy_of_digits_run, load_metrics


@pytest.fixture(scope="module")
def run_dir(digits_run, tmp_path_factory):
    """A copy of the session's digits run: eval writes its eval*.json files into the run dir."""
    return copy_of_digits_run(digits_run, tmp_path_factory, "eval_predict")


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8), bunch.target


def _main(module, args, capsys):
    """Run a console script's ``main`` in-process; returns (exit code, stdout, stderr)."""
    code = 0
    try:
        module.main([str(a) for a in args])
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_eval_of_the_runs_own_data_gives_its_test_metrics(run_dir, capsys):
    from bmrun.cli import eval as evaluate

    code, out, _ = _main(evaluate, [run_dir], capsys)
    assert code == 0
    written = json.loads((run_dir / "eval.json").read_text())
    expected = load_metrics(run_dir)["test"]
    assert written["data"] == "digits" and written["num_examples"] == 359
    assert written["test"].keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):  # per_class: the same counts give the same ratios
            assert written["test"][key] == value, key
            continue
        assert written["test"][key] == pytest.approx(value, abs=1e-9), key
    assert "accuracy" in out and f"{expected['accuracy']:.4f}" in out


def test_eval_with_a_compatible_override_writes_its_own_file(run_dir, capsys):
    from bmrun.cli import eval as evaluate

    code, _, _ = _main(evaluate, [run_dir, "data.eval_batch_size=100"], capsys)
    assert code == 0
    written = json.loads((run_dir / "eval-digits.json").read_text())
    assert written["overrides"] == ["data.eval_batch_size=100"]
    assert written["test"]["accuracy"] == pytest.approx(load_metrics(run_dir)["test"]["accuracy"])


def test_eval_on_mnist_is_refused_for_an_8x8_model(run_dir, tmp_path, capsys):
    from bmrun.cli import eval as evaluate

    fake = tmp_path / "mnist.npz"
    rng = np.random.default_rng(0)
    np.savez(fake, x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_train=np.arange(20) % 10,
             x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), y_test=np.arange(10))
    code, _, err = _main(evaluate, [run_dir, "data=mnist", f"data.path={fake}"], capsys)
    assert code == 2
    assert "28x28x1" in err and "8x8x1" in err and "Traceback" not in err
    assert not (run_dir / "eval-mnist.json").exists()


@pytest.mark.parametrize("overrides, message", [
    (["data.classes=[0,1,2,3,4]"], "5 classes but the model predicts 10"),
    (["data=nope"], "unknown option 'nope'"),
    (["optimizer.lr=0.1"], "only changes the data"),
    (["data.colour=1"], "unknown key"),
])
def test_eval_refuses_bad_overrides(run_dir, capsys, overrides, message):
    from bmrun.cli import eval as evaluate

    code, _, err = _main(evaluate, [run_dir, *overrides], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_predict_a_png_and_a_npy_batch(run_dir, digits, tmp_path, capsys):
    import tensorflow as tf

    from bmrun.cli import predict

    images, labels = digits
    # A 32x32 RGB picture of a digit: predict must turn it grey and shrink it to 8x8.
    big = tf.image.resize(images[7][..., None].astype("float32"), (32, 32), method="nearest")
    png = tmp_path / "digit.png"
    png.write_bytes(tf.io.encode_png(tf.image.grayscale_to_rgb(tf.cast(big, tf.uint8))).numpy())
    batch = tmp_path / "batch.npy"
    np.save(batch, images[:3])  # N x 8 x 8: the channel axis is added
    code, out, err = _main(predict, [run_dir, png, batch, "--json"], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["input"] for r in records] == [str(png), f"{batch}[0]", f"{batch}[1]", f"{batch}[2]"]
    for record in records:
        assert 0 <= record["class"] <= 9 and record["name"] == str(record["class"])

    from bmrun.models.loading import load_run_model

    logits = load_run_model(run_dir, "test").predict(images[:3, ..., None].astype("float32"), verbose=0)
    assert [r["class"] for r in records[1:]] == logits.argmax(-1).tolist()
    # The probability printed is the model's softmax of the predicted class, not any number in [0, 1].
    expected = tf.nn.softmax(logits).numpy().max(-1)
    assert [r["probability"] for r in records[1:]] == pytest.approx(expected.tolist(), abs=1e-4)


def test_predict_prints_a_table(run_dir, digits, tmp_path, capsys, monkeypatch):
    from bmrun.cli import predict

    monkeypatch.chdir(tmp_path)
    np.save("one.npy", digits[0][0][..., None])
    code, out, _ = _main(predict, [run_dir, "one.npy"], capsys)
    assert code == 0 and "one.npy" in out and "probability" in out


@pytest.mark.parametrize("case", ["no_run_dir", "no_model", "wrong_shape", "not_an_image", "missing_file"])
def test_predict_bad_inputs_exit_without_traceback(run_dir, tmp_path, capsys, case):
    from bmrun.cli import predict

    target, inputs = run_dir, [tmp_path / "x.npy"]
    np.save(tmp_path / "x.npy", np.zeros((3, 5, 5)))
    expected = "does not fit the model"
    if case == "no_run_dir":
        target, expected = tmp_path / "nowhere", "no such folder"
    elif case == "no_model":
        target = tmp_path / "unfinished"
        target.mkdir()
        (target / "config.yaml").write_text((run_dir / "config.yaml").read_text())
        (target / "metrics.json").write_text('{"status": "failed"}')
        expected = "status failed"
    elif case == "not_an_image":
        inputs = [tmp_path / "notes.png"]
        inputs[0].write_text("not a picture")
        expected = "not a readable image"
    elif case == "missing_file":
        inputs, expected = [tmp_path / "absent.png"], "no such file"
    code, _, err = _main(predict, [target, *inputs], capsys)
    assert code == 2 and expected in err and "Traceback" not in err


def test_console_scripts_answer_bad_run_dirs_in_one_paragraph(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    for module in ("bmrun.cli.eval", "bmrun.cli.predict"):
        args = [sys.executable, "-m", module, str(tmp_path / "missing")] + (["a.png"] if module == "bmrun.cli.predict" else [])
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "error" in proc.stderr
