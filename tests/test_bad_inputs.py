"""The bad-input catalogue: every invocation exits non-zero with one paragraph naming the key or
file, and never prints a Python traceback (HYDRA_FULL_ERROR=1 still shows one)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli, train_in_process

TINY = ["data.limit=64", "trainer.max_epochs=1", "logger.progress_bar=false"]


def _corrupt_idx_folder(root: Path) -> Path:
    folder = root / "idx"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (folder / name).write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05garbage")
    return folder


def _truncated_npz(root: Path) -> Path:
    path = root / "mnist.npz"
    np.savez(path, x_train=np.zeros((10, 28, 28), np.uint8), y_train=np.zeros(10), x_test=np.zeros((2, 28, 28)),
             y_test=np.zeros(2))
    path.write_bytes(path.read_bytes()[:300])
    return path


def _text_file(root: Path) -> Path:
    path = root / "notes.txt"
    path.write_text("not a dataset")
    return path


def _png_bytes(value: int = 40) -> bytes:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes([value]) * 4 for _ in range(4))  # 4x4 gray, filter byte per row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _image_folder(root: Path, classes=("a", "b"), count: int = 3) -> Path:
    folder = root / "images"
    for name in classes:
        (folder / name).mkdir(parents=True)
        for i in range(count):
            (folder / name / f"{i}.png").write_bytes(_png_bytes(40 * i))
    return folder


def _empty_image_folder(root: Path) -> Path:
    folder = root / "no_images"
    folder.mkdir()
    return folder


def _class_without_images(root: Path) -> Path:
    folder = _image_folder(root)
    (folder / "empty_class").mkdir()
    (folder / "empty_class" / "notes.txt").write_text("not an image")
    return folder


def _corrupt_image(root: Path) -> Path:
    folder = _image_folder(root)
    (folder / "b" / "broken.png").write_bytes(_png_bytes()[:45])
    return folder


def _not_a_run(root: Path) -> Path:
    folder = root / "empty_dir"
    folder.mkdir()
    return folder


def _run_without_checkpoints(root: Path) -> Path:
    folder = root / "half_run"
    folder.mkdir()
    (folder / "config.yaml").write_text("seed: 0\n")
    return folder


def _finished_run(root: Path) -> Path:
    """A completed 1-epoch CNN run on digits (trained once per test that needs it, in this process:
    the refused command is the CLI run under test)."""
    run_dir = root / "finished"
    train_in_process(run_dir, TINY)
    return run_dir


def _busy_run(root: Path) -> Path:
    """A run dir whose lock names a live process (this test's own)."""
    run_dir = _finished_run(root)
    (run_dir / ".lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    return run_dir


def _corrupt_run(root: Path) -> Path:
    """A run whose every checkpoint has a damaged data file."""
    run_dir = _finished_run(root)
    for data in (run_dir / "checkpoints").glob("ckpt-*.data-*"):
        data.write_bytes(b"\x00" * data.stat().st_size)
    return run_dir


def _file_blocking_output(root: Path) -> Path:
    (root / "blocker").write_text("a file where a folder should be")
    return root / "blocker" / "run"


def _csv(root: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = root / name
    path.write_bytes(text.encode(encoding))
    return path


def _csv_table(root: Path) -> Path:
    return _csv(root, "table.csv", "age,city,label\n" + "".join(f"{20 + i},x{i % 3},{'ab'[i % 2]}\n" for i in range(20)))


def _csv_ragged(root: Path) -> Path:
    return _csv(root, "ragged.csv", "age,city,label\n31,Oslo,a\n42,Rome\n50,Bonn,b\n")


def _csv_latin1(root: Path) -> Path:
    return _csv(root, "latin1.csv", "age,city,label\n31,Oslo,a\n42,Zürich,b\n", encoding="latin-1")


def _csv_one_class(root: Path) -> Path:
    return _csv(root, "one_class.csv", "age,city,label\n" + "".join(f"{20 + i},x,same\n" for i in range(10)))


def _csv_stray(root: Path) -> Path:
    rows = "".join(f"{20 + i},x,{'ab'[i % 2]}\n" for i in range(30))
    return _csv(root, "stray.csv", "age,city,label\n" + rows + "unknown,y,a\n")


def _csv_people(root: Path, classes: str = "ab") -> Path:
    rows = "".join(f"{20 + i},{'FM'[i % 2]},X,{classes[i % len(classes)]}\n" for i in range(30))
    return _csv(root, f"people_{classes}.csv", "age,sex,country,label\n" + rows)


def _csv_people_3_classes(root: Path) -> Path:
    return _csv_people(root, "abc")


CSV = ["data=csv", "data.target=label", "model=linear", *TINY]
PEOPLE = ["data.path={csv_people}", *CSV]

# (arguments, text the message must contain); {tmp} is the test's temporary folder.
CATALOGUE = [
    (["model=nope"], "nope"),
    (["datum=digits"], "datum"),
    (["optimizer.lrr=1"], "lrr"),
    (["+foo=1"], "foo"),
    (["+optimizer.foo=1"], "optimizer.foo"),
    (["+trainer.early_stopping.patiance=2"], "trainer.early_stopping.patiance"),
    (["optimizer.lr=abc"], "lr"),
    (["trainer.max_epochs=1.5"], "max_epochs"),
    (["data.batch_size=many"], "batch_size"),
    (["trainer.deterministic=maybe"], "deterministic"),
    (["optimizer.lr=-0.1"], "optimizer.lr"),
    (["optimizer.lr=0"], "optimizer.lr"),
    (["data.batch_size=0"], "data.batch_size"),
    (["model.dropout_rate=1.0"], "model.dropout_rate"),
    (["data.val_fraction=1.0"], "data.val_fraction"),
    (["trainer.max_epochs=-1"], "trainer.max_epochs"),
    (["trainer.max_epochs=0"], "trainer.max_epochs"),
    (["loss.label_smoothing=1.5"], "loss.label_smoothing"),
    (["seed=-1"], "seed"),
    (["optimizer.schedule=step"], "optimizer.schedule"),
    (["device.precision=float64"], "device.precision"),
    (["data.classes=[1,1]"], "data.classes"),
    (["model=cnn", "data=diabetes"], "cannot read"),
    (["loss=mse"], "loss=mse"),
    (["loss=binary_cross_entropy"], "binary_cross_entropy"),
    (["model=transformer", "model.patch_size=3"], "patch_size"),
    (["model=transformer", "model.num_heads=5"], "num_heads"),
    (["model=rnn", "model.cell=rnnn"], "model.cell"),
    (["trainer.deterministic=true", "device.xla=true"], "MaxPool"),
    (["data=mnist", "data.path=/no/such/mnist.npz", *TINY], "/no/such/mnist.npz"),
    (["data=mnist", "data.path={corrupt_idx}", *TINY], "train-images-idx3-ubyte"),
    (["data=mnist", "data.path={truncated_npz}", *TINY], "mnist.npz"),
    (["data=mnist", "data.path={text_file}", *TINY], "notes.txt"),
    (["data=mnist", "data.download=false", *TINY], "MNIST data not found"),
    (["data=image_folder", *TINY], "data.path"),
    (["data=image_folder", "data.path=/no/such/folder", *TINY], "/no/such/folder"),
    (["data=image_folder", "data.path={empty_image_folder}", *TINY], "no_images is empty as an image folder"),
    (["data=image_folder", "data.path={class_without_images}", *TINY], "empty_class has no images"),
    (["data=image_folder", "data.path={corrupt_image}", *TINY], "broken.png"),
    (["data=image_folder", "data.path={corrupt_image}", "data.memory_budget=1KiB", *TINY], "broken.png"),
    (["data=image_folder", "data.path={image_folder}", "data.memory_budget=lots", *TINY], "data.memory_budget"),
    (["data=image_folder", "data.path={image_folder}", "data.color_mode=cmyk", *TINY], "data.color_mode"),
    (["hydra.run.dir={blocked_output}", *TINY], "blocker"),
    (["resume=/nonexistent/run"], "/nonexistent/run"),
    (["resume={not_a_run}"], "empty_dir"),
    (["resume={no_checkpoints}"], "checkpoints"),
    (["hydra.run.dir=/proc/bmrun-test/run", *TINY], "cannot create the run dir /proc/bmrun-test/run"),
    (["-m", "hydra.sweep.dir=/proc/bmrun-test/sweep", *TINY], "cannot create the run dir /proc/bmrun-test/sweep"),
    (["-m", "hydra.sweep.dir={blocked_output}", *TINY], "blocker"),
    (["resume={busy_run}", "trainer.max_epochs=3"], "is being trained by process"),
    (["resume={finished_run}", "model=mlp"], "model (cnn -> mlp)"),
    (["resume={finished_run}", "optimizer.lr=0.5", "data.val_fraction=0.2"], "optimizer.lr (0.003 -> 0.5)"),
    (["resume={corrupt_run}", "trainer.max_epochs=3"], "no good checkpoint"),
    (["data=csv", "data.target=label"], "data.path"),
    (["data.path=/no/such/table.csv", *CSV], "/no/such/table.csv: no such file"),
    (["data.path={csv_table}", *CSV[:1], "data.target=price", *CSV[2:]], "no column 'price' (data.target); the header has 3 columns: age, city, label"),
    (["data.path={csv_ragged}", *CSV], "ragged.csv, line 3: 2 fields, but the header has 3"),
    (["data.path={csv_latin1}", *CSV], "latin1.csv, line 3: byte 0xfc is not UTF-8"),
    (["data.path={csv_one_class}", *CSV], "the target 'label' has one class ('same'"),
    (["data.path={csv_stray}", *CSV], "line 32: column 'age' holds 'unknown'"),
    (["data.path={csv_table}", *CSV[:2], "model=rnn", *CSV[3:]], "model=rnn cannot read data=csv"),
    # fairness: data.sensitive and the demographic-parity penalty
    ([*PEOPLE, "data.sensitive=[gender]"], "no column 'gender' (data.sensitive); the header has 4 columns: "
                                           "age, sex, country, label"),
    ([*PEOPLE, "data.sensitive=[country]"], "the sensitive column 'country' (data.sensitive) holds one value"),
    ([*PEOPLE, "data.sensitive=[age]"], "holds 30 distinct numbers; groups need a few labels, not a measurement. "
                                        "Bin it"),
    ([*PEOPLE, "data.sensitive=[label]"], "data.sensitive names the target 'label'"),
    (["data=digits", "data.sensitive=[sex]", *TINY], "names columns of a table; data=digits has none"),
    ([*PEOPLE, "data.target=age", "data.sensitive=[sex]"], "a regression target"),
    ([*PEOPLE, "loss.fairness_penalty=-1"], "loss.fairness_penalty: is the weight of the demographic-parity "
                                            "penalty: 0 (off) or more, got -1"),
    ([*PEOPLE, "data.sensitive=[sex]", "loss.fairness_penalty=2"], "needs the group column the penalty compares: "
                                                                    "loss.fairness_group=sex"),
    ([*PEOPLE, "data.sensitive=[sex]", "loss.fairness_penalty=2", "loss.fairness_group=country"],
     "'country' is not a sensitive column (data.sensitive=['sex'])"),
    (["data.path={csv_people_3_classes}", *CSV, "data.sensitive=[sex]", "loss.fairness_penalty=2",
      "loss.fairness_group=sex"], "needs a binary task; data=csv is multiclass"),
]

def _ratings_without_item(root: Path) -> Path:
    path = root / "ratings.csv"
    path.write_text("user_id,movie,rating\n1,10,4\n2,11,3\n")
    return path


def _ratings_with_text(root: Path) -> Path:
    path = root / "ratings.csv"
    path.write_text("user_id,item_id,rating\n1,10,4\n2,11,good\n")
    return path


def _empty_ratings(root: Path) -> Path:
    path = root / "empty.csv"
    path.write_text("")
    return path


RATINGS = ["data=ratings", "model=factorization", "trainer.max_epochs=1", "logger.progress_bar=false"]
CATALOGUE += [
    (["model=cnn", "data=ratings"], "model=factorization or model=two_tower"),
    (["model=factorization", "data=digits"], "cannot read"),
    (["data=ratings", "model=two_tower", "model.dim=0"], "model.dim"),
    (["data=ratings", "model=factorization", "data.split=latest"], "data.split"),
    ([*RATINGS, "data.path={ratings_without_item}"], "'user_id', 'movie', 'rating'"),
    ([*RATINGS, "data.path={ratings_with_text}"], "'good', not a number"),
    ([*RATINGS, "data.path={empty_ratings}"], "the file is empty"),
]

FACTORIES = {"ratings_without_item": _ratings_without_item, "ratings_with_text": _ratings_with_text,
             "empty_ratings": _empty_ratings, "corrupt_idx": _corrupt_idx_folder, "truncated_npz": _truncated_npz, "text_file": _text_file,
             "not_a_run": _not_a_run, "no_checkpoints": _run_without_checkpoints,
             "blocked_output": _file_blocking_output, "finished_run": _finished_run, "busy_run": _busy_run,
             "corrupt_run": _corrupt_run, "image_folder": _image_folder, "empty_image_folder": _empty_image_folder,
             "class_without_images": _class_without_images, "corrupt_image": _corrupt_image,
             "csv_table": _csv_table, "csv_ragged": _csv_ragged, "csv_latin1": _csv_latin1,
             "csv_one_class": _csv_one_class, "csv_stray": _csv_stray, "csv_people": _csv_people,
             "csv_people_3_classes": _csv_people_3_classes}


@pytest.mark.parametrize("args, needle", CATALOGUE, ids=[" ".join(a)[:60] for a, _ in CATALOGUE])
def test_bad_invocation_is_one_clear_paragraph(tmp_path, keras_home, args, needle):
    values = {name: factory(tmp_path) for name, factory in FACTORIES.items() if any(f"{{{name}}}" in a for a in args)}
    args = [a.format(**values) for a in args]
    needle = needle.format(**values)
    proc = run_cli(args, tmp_path, env={"KERAS_HOME": str(keras_home)})
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert needle in output, output
    assert "Traceback" not in output, output
    # One paragraph (Hydra's composition errors add the list of valid options, one tab-indented
    # line each, which grows with every option, and a hint line).
    assert len([line for line in proc.stderr.strip().splitlines() if not line.startswith("\t")]) <= 16, proc.stderr


# The catalogue's configuration mistakes (no files, run dirs or output dirs involved).
NOT_CONFIG = ("data.path=", "data.download=", "resume=", "hydra.")
CONFIG_MISTAKES = [(args, needle) for args, needle in CATALOGUE
                   if not any("{" in a or a.startswith(NOT_CONFIG) for a in args)]


@pytest.mark.parametrize("args, needle", CONFIG_MISTAKES, ids=[" ".join(a)[:60] for a, _ in CONFIG_MISTAKES])
def test_config_mistakes_are_config_errors_before_any_data_or_model(args, needle):
    """The public entry points (compose + validate) refuse them, without loading data or building a
    model: a ConfigError naming the key, which the CLI turns into exit code 2."""
    from bmrun.errors import ConfigError
    from conftest import validated

    with pytest.raises(ConfigError) as info:
        validated(args)
    assert needle in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU is present")
def test_device_gpu_without_gpu_is_refused(tmp_path):
    proc = run_cli(["device=gpu", *TINY], tmp_path)
    assert proc.returncode == 2 and "device=gpu" in proc.stderr and "Traceback" not in proc.stderr


def test_resume_cannot_swap_config_groups(tmp_path):
    run_dir = tmp_path / "run"
    train_in_process(run_dir, TINY)
    proc = run_cli([f"resume={run_dir}", "model=rnn"], tmp_path)
    assert proc.returncode == 2 and "model" in proc.stderr and "Traceback" not in proc.stderr


def test_hydra_full_error_shows_the_traceback_for_debugging(tmp_path):
    proc = run_cli(["data=mnist", "data.path=/no/such/file.npz", *TINY], tmp_path, env={"HYDRA_FULL_ERROR": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr
