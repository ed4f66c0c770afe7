"""Pictures in TensorBoard (``logger=images``): written where expected, readable, harmless.

Tiny runs write the event files; the tests read them back as TFRecords of ``Event`` protos.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from conftest import train_in_process

TINY = ["data.limit=300", "trainer.max_epochs=2", "trainer.deterministic=true"]


def read_events(run_dir: Path) -> dict[tuple[str, str], list]:
    """``{(split, tag): [(step, plugin, value), ...]}`` for image and histogram summaries."""
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2

    found = defaultdict(list)
    for path in sorted(Path(run_dir, "tensorboard").rglob("events.out.tfevents.*")):
        split = path.parent.name
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin in ("images", "histograms"):
                    found[(split, value.tag)].append((event.step, plugin, tf.make_ndarray(value.tensor)))
    return found


def decode(image_tensor: np.ndarray) -> np.ndarray:
    """An image summary's tensor is [width, height, png bytes...]; return the decoded PNG."""
    import tensorflow as tf

    picture = tf.io.decode_png(image_tensor[2]).numpy()
    assert (picture.shape[1], picture.shape[0]) == (int(image_tensor[0]), int(image_tensor[1]))
    return picture


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    """The same tiny run twice: with every picture (histograms every 2nd epoch) and without."""
    root = tmp_path_factory.mktemp("insight")
    with_pictures = train_in_process(root / "images", TINY + ["logger=images", "logger.histograms_every_n_epochs=2"])
    without = train_in_process(root / "plain", TINY + ["logger=tensorboard"])
    return root, with_pictures, without


def test_digits_run_logs_every_picture_for_val_and_test(digits_runs):
    root, _, _ = digits_runs
    events = read_events(root / "images")
    epoch_steps = [int(row["step"]) for row in csv.DictReader(open(root / "images" / "history.csv"))]
    val_steps = [step for step, _, _ in events[("val", "confusion_matrix")]]
    assert val_steps == epoch_steps and len(val_steps) == 2  # one per epoch, at the epoch's last step
    for tag in ("confusion_matrix", "misclassified", "saliency"):
        entries = events[("test", tag)]
        assert len(entries) == 1, tag
        step, plugin, tensor = entries[0]
        assert plugin == "images" and step == val_steps[-1]
        picture = decode(tensor)
        assert picture.ndim == 3 and picture.shape[2] in (3, 4)
        assert 100 <= picture.shape[0] <= 2000 and 200 <= picture.shape[1] <= 2000, (tag, picture.shape)
        assert picture.std() > 10, f"{tag} is a blank picture"
    matrix = decode(events[("val", "confusion_matrix")][0][2])
    assert matrix.shape[0] > 300 and matrix.shape[1] > 300  # 10 classes, room for names


def test_histograms_follow_the_configured_interval(digits_runs):
    root, _, _ = digits_runs
    events = read_events(root / "images")
    val_steps = [step for step, _, _ in events[("val", "confusion_matrix")]]
    weights = {tag for split, tag in events if split == "train" and tag.startswith("weights/")}
    gradients = {tag for split, tag in events if split == "train" and tag.startswith("gradients/")}
    assert "weights/head/kernel" in weights and "gradients/head/kernel" in gradients
    assert {t.split("/", 1)[1] for t in weights} == {t.split("/", 1)[1] for t in gradients}
    for tag in weights | gradients:
        entries = events[("train", tag)]
        assert [step for step, _, _ in entries] == [val_steps[1]], tag  # every 2nd epoch: only epoch 2
        assert entries[0][1] == "histograms"
        buckets = entries[0][2]
        assert buckets.ndim == 2 and buckets.shape[1] == 3 and buckets[:, 2].sum() > 0


def test_pictures_do_not_change_training(digits_runs):
    root, with_pictures, without = digits_runs
    assert with_pictures["test"] == without["test"]
    assert with_pictures["val"] == without["val"]
    assert not any(split in ("val", "test") or tag.startswith(("weights/", "gradients/"))
                   for split, tag in read_events(root / "plain"))


def test_regression_run_logs_a_predicted_vs_true_scatter(tmp_path):
    metrics = train_in_process(tmp_path, ["data=diabetes", "model=linear", "model.solve=start", "logger=images",
                                                "trainer.max_epochs=2"])
    assert metrics["status"] == "completed"
    events = read_events(tmp_path)
    assert len(events[("val", "predicted_vs_true")]) == 2
    step, _, tensor = events[("test", "predicted_vs_true")][0]
    picture = decode(tensor)
    assert picture.shape[0] >= 300 and picture.shape[1] >= 300 and picture.std() > 10
    assert not any(tag in ("confusion_matrix", "misclassified", "saliency") for _, tag in events)
    assert events[("train", "weights/head/kernel")]
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "completed"


def test_nothing_is_built_when_tensorboard_is_off(tmp_path):
    from bmrun.tensorboard.scalars import TensorBoardLogger
    from bmrun.tensorboard.insight import build_insight
    from conftest import validated

    images = validated(["logger=images"]).logger
    assert build_insight(images, TensorBoardLogger(tmp_path, enabled=False), model=None, pipeline=None,
                         loss_fn=None, variables=[]) is None  # non-chief workers, logger.tensorboard=false
    assert build_insight(validated().logger, TensorBoardLogger(tmp_path, enabled=True), model=None,
                         pipeline=None, loss_fn=None, variables=[]) is None  # nothing switched on


# ----------------------------------------------------------------------------- drawing (matplotlib)
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def assert_legible(picture: np.ndarray, min_width: int = 400) -> None:
    """A real picture: RGB uint8, wide enough for TensorBoard's default display, not blank."""
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    assert min_width <= picture.shape[1] <= 2000 and 200 <= picture.shape[0] <= 2000, picture.shape
    assert picture.std() > 10, "a blank picture"


def test_confusion_matrix_names_its_classes_and_counts_its_cells():
    from bmrun.explain.figures import pyplot
    from bmrun.tensorboard.pictures import confusion_matrix_figure, confusion_matrix_image

    matrix = np.arange(100).reshape(10, 10)
    fig = confusion_matrix_figure(matrix, FASHION, "test · confusion matrix")
    try:
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == list(FASHION)
        assert [t.get_text() for t in ax.get_yticklabels()] == list(FASHION)
        assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 10  # legible at 100%
        counts = [t.get_text() for t in ax.texts]
        assert len(counts) == 100 and counts[:3] == ["0", "1", "2"] and "99" in counts
        assert len(fig.axes) == 2  # the matrix and its colour bar
        assert ax.get_title() == "test · confusion matrix"
    finally:
        pyplot().close(fig)
    small = confusion_matrix_image(np.eye(2) * 5, ("negative", "positive"), "val")
    large = confusion_matrix_image(matrix, FASHION, "test · confusion matrix")
    for picture in (small, large):
        assert_legible(picture, 600)
    assert large.shape[0] > small.shape[0] and large.shape[1] > small.shape[1]


def test_grid_saliency_and_scatter_pictures_are_legible():
    from bmrun.tensorboard.pictures import GREEN, RED, image_grid, saliency_image, scatter_image

    images = np.random.default_rng(0).uniform(0, 255, (20, 8, 8, 1))
    grid = image_grid(images, [[("true 1", GREEN), ("pred 7", RED)]] * 20, "misclassified", columns=8)
    assert_legible(grid, 8 * 100)
    assert (np.abs(grid.astype(int) - (0, 120, 0)).sum(axis=-1) < 60).any()  # green caption text is drawn
    saliency = saliency_image(images[:4], np.abs(images[:4, ..., 0]), ["pred 1"] * 4, "saliency")
    assert_legible(saliency, 600)
    scatter = scatter_image(np.arange(50.0), np.arange(50.0) + 1, "scatter")
    flat = scatter_image(np.ones(3), np.ones(3), "all equal")  # zero span must not divide by zero
    assert scatter.shape == flat.shape and scatter.shape[0] >= 500
    assert_legible(scatter, 500)


def test_a_kept_confusion_matrix_figure_is_redrawn_with_the_new_counts():
    from bmrun.tensorboard import pictures

    names = ("cat", "dog", "owl")
    first = pictures.confusion_matrix_image(np.eye(3, dtype=int) * 4, names, "epoch 1")
    second = pictures.confusion_matrix_image(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), names, "epoch 2")
    assert first.shape == second.shape and (first != second).any()
    fig = pictures._MATRIX_FIGURES[(names, (3, 3))]
    assert [t.get_text() for t in fig.axes[0].texts] == [str(v) for v in range(1, 10)]
    assert fig.axes[0].get_title() == "epoch 2"
