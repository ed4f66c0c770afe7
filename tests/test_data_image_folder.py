"""data=image_folder: layouts, headers, resident and streamed runs (identical), exact resume, predict."""

from __future__ import annotations

import os

import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import kill_mid_run, load_metrics, resume_in_process, train_in_process, validated

CLASSES = ("circle", "cross", "square")
TINY = ["model=mlp", "model.hidden_dims=[16]", "trainer.max_epochs=2", "data.batch_size=8", "trainer.deterministic=true"]


def write_png(path: Path, image: np.ndarray) -> None:
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(image).numpy())


def write_bmp(path: Path, image: np.ndarray) -> None:
    """A 24-bit BMP (TensorFlow decodes BMP but cannot write it)."""
    height, width = image.shape[:2]
    rgb = np.broadcast_to(image, (height, width, 3))
    row = (width * 3 + 3) // 4 * 4
    pixels = b"".join(rgb[y, :, ::-1].tobytes().ljust(row, b"\0") for y in range(height - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    path.write_bytes(header + info + pixels)


def make_folder(root: Path, per_class: int = 12, test_per_class: int = 4, size=(10, 12), splits=True) -> Path:
    """Three classes of small grayscale PNGs told apart by where a bright bar lies."""
    rng = np.random.default_rng(0)
    counts = {"train": per_class, "test": test_per_class} if splits else {"": per_class + test_per_class}
    for split, count in counts.items():
        for label, name in enumerate(CLASSES):
            for i in range(count):
                image = rng.integers(0, 60, (*size, 1)).astype(np.uint8)
                image[1 + 2 * label:3 + 2 * label, 2:-2] = 220
                write_png(root / split / name / f"{i:03d}.png", image)
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("images") / "shapes")


def test_specs_come_from_the_folder_without_decoding(folder):
    from bmrun.data.catalog import describe

    task, inputs = describe(validated(["data=image_folder", f"data.path={folder}"]).data)
    assert task.class_names == CLASSES and task.num_classes == 3
    assert inputs.shape == (10, 12, 1)
    cfg = validated(["data=image_folder", f"data.path={folder}", "data.image_size=[16,16]", "data.color_mode=rgb"])
    assert describe(cfg.data)[1].shape == (16, 16, 3)


def test_headers_of_png_jpeg_bmp(tmp_path):
    import tensorflow as tf

    from bmrun.data.image_files import image_header

    image = np.zeros((7, 9, 3), np.uint8)
    write_png(tmp_path / "a.png", image)
    (tmp_path / "b.jpg").write_bytes(tf.io.encode_jpeg(image[..., :1]).numpy())
    write_bmp(tmp_path / "c.bmp", image)
    assert image_header(tmp_path / "a.png") == (7, 9, 3)
    assert image_header(tmp_path / "b.jpg") == (7, 9, 1)
    assert image_header(tmp_path / "c.bmp") == (7, 9, 3)


def test_without_split_folders_a_stratified_test_split_is_fixed(tmp_path):
    from bmrun.data.image_files import scan_folder

    root = make_folder(tmp_path / "pool", per_class=8, test_per_class=2, splits=False)
    layout = scan_folder(str(root), 0.2)
    assert np.bincount(layout.splits["test"][1]).tolist() == [2, 2, 2]
    assert scan_folder(str(root), 0.2).splits["test"][0].tolist() == layout.splits["test"][0].tolist()


def test_streamed_and_resident_runs_give_identical_metrics(folder, tmp_path):
    common = [*TINY, "data=image_folder", f"data.path={folder}"]
    resident = train_in_process(tmp_path / "resident", common)
    streamed = train_in_process(tmp_path / "streamed", [*common, "data.memory_budget=1KiB"])
    assert streamed["test"] == resident["test"] and streamed["val"] == resident["val"]
    assert streamed["train"]["loss"] == resident["train"]["loss"]
    assert resident["test"]["accuracy"] > 0.6


def test_a_cached_streamed_run_decodes_once_and_trains_identically(folder, tmp_path):
    common = [*TINY, "data=image_folder", f"data.path={folder}", "data.memory_budget=1KiB"]
    streamed = train_in_process(tmp_path / "streamed", common)
    cache = tmp_path / "cache"
    cached = train_in_process(tmp_path / "cached", [*common, f"data.cache={cache}"])
    assert cached["test"] == streamed["test"] and cached["train"]["loss"] == streamed["train"]["loss"]
    files = list(cache.glob("images-*.npy"))
    assert len(files) == 1 and not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temp left
    built = files[0].stat().st_mtime_ns
    again = train_in_process(tmp_path / "again", [*common, f"data.cache={cache}"])
    assert files[0].stat().st_mtime_ns == built and again["test"] == cached["test"]  # reused, not rebuilt
    touched = sorted(folder.rglob("*.png"))[0]
    os.utime(touched, ns=(built + 10**9, built + 10**9))  # a changed folder gets a new cache
    train_in_process(tmp_path / "changed", [*common, f"data.cache={cache}", "trainer.max_epochs=1"])
    assert len(list(cache.glob("images-*.npy"))) == 2


def test_mixed_sizes_bmp_and_rgb_are_resized_and_reported(tmp_path, caplog):
    root = make_folder(tmp_path / "mixed", per_class=6, test_per_class=2)
    write_png(root / "train" / "circle" / "big.png", np.full((30, 20, 3), 200, np.uint8))
    write_bmp(root / "train" / "cross" / "z.bmp", np.full((10, 12, 1), 90, np.uint8))
    metrics = train_in_process(tmp_path / "run", [*TINY, "trainer.max_epochs=1", "data=image_folder",
                                                  f"data.path={root}", "data.memory_budget=1KiB"])
    assert metrics["status"] == "completed"
    assert "1 images were not 10x12" in caplog.text


def test_unreadable_files_are_skipped_and_counted_on_request(tmp_path, caplog):
    root = make_folder(tmp_path / "bad", per_class=6, test_per_class=2)
    (root / "train" / "square" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    metrics = train_in_process(tmp_path / "run", [*TINY, "trainer.max_epochs=1", "data=image_folder",
                                                  f"data.path={root}", "data.on_bad_file=skip"])
    assert metrics["status"] == "completed"
    assert "skipped 1 unreadable image files" in caplog.text and "broken.png" in caplog.text


def test_predict_takes_images_of_any_size(folder, tmp_path, capsys):
    import json

    from bmrun.cli import predict

    run_dir = tmp_path / "run"
    train_in_process(run_dir, [*TINY, "data=image_folder", f"data.path={folder}"])
    big = tmp_path / "big.png"
    write_png(big, np.full((40, 50, 3), 30, np.uint8))
    try:
        predict.main([str(run_dir), str(big), str(folder / "test" / "cross" / "000.png"), "--json"])
    except SystemExit as exit_info:
        assert exit_info.code in (0, None)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(records) == 2 and records[1]["name"] in CLASSES


@pytest.mark.slow
def test_streamed_run_killed_mid_epoch_resumes_exactly(tmp_path):
    from test_reliability import _history

    root = make_folder(tmp_path / "shapes", per_class=20, test_per_class=4)
    args = ["model=mlp", "model.hidden_dims=[16]", "data=image_folder", f"data.path={root}", "data.memory_budget=1KiB",
            "data.batch_size=4", "trainer.max_epochs=10", "trainer.steps_per_call=1",
            "trainer.checkpoint_every_n_steps=3", "trainer.deterministic=true", "logger.progress_bar=false",
            "logger.tensorboard=false"]
    # The reference and the resume train here; only the killed run needs its own process.
    reference = tmp_path / "reference"
    train_in_process(reference, args)
    interrupted = kill_mid_run(args, tmp_path, "killed", max_wait=1.0)
    resume_in_process(interrupted)
    got, expected = load_metrics(interrupted), load_metrics(reference)
    assert got["status"] == "completed" and got["test"] == expected["test"] and got["val"] == expected["val"]
    assert _history(interrupted) == _history(reference)


@pytest.mark.parametrize("model", ["model=cnn", "model=linear", "model=rnn", "model=transformer model.patch_size=2"])
def test_every_image_family_reads_rgb_jpegs_of_any_size(tmp_path_factory, tmp_path, model):
    import tensorflow as tf

    root = tmp_path_factory.getbasetemp() / "rgb_jpegs"
    if not root.exists():
        rng = np.random.default_rng(1)
        for split, count in (("train", 8), ("test", 2)):
            for label in range(2):
                for i in range(count):
                    image = rng.integers(0, 80, (10, 14, 3)).astype(np.uint8)
                    image[:, 7 * label:7 * label + 7, label] = 230
                    (root / split / f"c{label}").mkdir(parents=True, exist_ok=True)
                    (root / split / f"c{label}" / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(image).numpy())
    metrics = train_in_process(tmp_path / "run", [*model.split(), "trainer.max_epochs=1", "data=image_folder",
                                                  f"data.path={root}", "data.batch_size=4"])
    assert metrics["status"] == "completed" and metrics["num_params"] > 0
