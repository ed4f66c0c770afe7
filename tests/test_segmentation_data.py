"""data=image_folder data.masks=...: pairing, mask formats, classes and bad input (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import validated
from segmentation_data import make_scans, save_png


def describe_scans(root, *extra):
    from bmrun.data import masks
    from bmrun.data.catalog import describe

    masks.forget()  # each test writes its own folder
    return describe(validated(["data=image_folder", f"data.path={root / 'scans'}", f"data.masks={root / 'masks'}",
                               "model=unet", *extra]).data)


def test_binary_masks_make_two_classes_and_the_image_shape(tmp_path):
    from bmrun.data.masks import masked_folder

    make_scans(tmp_path, count=10)
    task, inputs = describe_scans(tmp_path)
    assert (task.kind, task.num_classes, task.class_names) == ("segmentation", 2, ("class_0", "class_1"))
    assert inputs.shape == (20, 20, 1)
    found = masked_folder(validated(["data=image_folder", f"data.path={tmp_path / 'scans'}",
                                     f"data.masks={tmp_path / 'masks'}", "model=unet"]).data)
    masks = np.concatenate([m for _, m in found.splits.values()])
    assert set(np.unique(masks)) == {0, 1} and found.binary == 10  # 0/255 read as 0/1


def test_classes_txt_names_classes_and_bounds_the_indices(tmp_path):
    make_scans(tmp_path, count=10, classes=3)
    (tmp_path / "masks" / "classes.txt").write_text("background\nnucleus\nmembrane\n")
    task, _ = describe_scans(tmp_path)
    assert task.class_names == ("background", "nucleus", "membrane")
    (tmp_path / "masks" / "classes.txt").write_text("background\nnucleus\n")
    from bmrun.errors import DataError

    with pytest.raises(DataError, match="class index 2 and 2 classes are declared"):
        describe_scans(tmp_path)


def test_a_missing_mask_names_the_image_or_is_skipped_and_counted(tmp_path):
    from bmrun.data.masks import masked_folder
    from bmrun.errors import DataError

    make_scans(tmp_path, count=10)
    (tmp_path / "masks" / "s003.png").unlink()
    with pytest.raises(DataError, match=r"s003\.png: has no mask.*data.on_bad_file=skip"):
        describe_scans(tmp_path)
    describe_scans(tmp_path, "data.on_bad_file=skip")
    found = masked_folder(validated(["data=image_folder", f"data.path={tmp_path / 'scans'}",
                                     f"data.masks={tmp_path / 'masks'}", "model=unet", "data.on_bad_file=skip"]).data)
    assert len(found.bad) == 1 and sum(len(p) for p, _ in found.splits.values()) == 9


def test_a_run_reads_each_mask_once_and_the_specs_after_loading_still_refuse_bad_pairs(tmp_path, monkeypatch):
    from bmrun.data import load_prepared, masks
    from bmrun.errors import DataError

    make_scans(tmp_path, count=10)
    (tmp_path / "masks" / "s003.png").unlink()
    reads = []
    read_mask = masks.read_mask
    monkeypatch.setattr(masks, "read_mask", lambda path: reads.append(path) or read_mask(path))
    masks.forget()
    overrides = ["data=image_folder", f"data.path={tmp_path / 'scans'}", f"data.masks={tmp_path / 'masks'}",
                 "model=unet"]
    config = validated(overrides + ["data.on_bad_file=skip"])
    data = load_prepared(config.data, config.seed)  # the specs are described again after the load
    assert len(reads) == 9 and len(data.train) + len(data.val) + len(data.test) == 9
    assert masks._cache == {}  # the loaded arrays are the only copy of the masks
    with pytest.raises(DataError, match=r"s003\.png: has no mask"):
        masks.folder_specs(validated(overrides).data)
    assert len(reads) == 9


def test_a_mask_one_pixel_off_names_both_sizes(tmp_path):
    from bmrun.errors import DataError

    make_scans(tmp_path, count=10)
    save_png(tmp_path / "masks" / "s005.png", np.zeros((20, 19), np.uint8))
    with pytest.raises(DataError, match=r"s005\.png: is 20x20 but its mask .* is 20x19"):
        describe_scans(tmp_path)


def test_bad_folders_and_formats_are_one_paragraph(tmp_path):
    from bmrun.errors import DataError

    make_scans(tmp_path, count=10)
    with pytest.raises(DataError, match="data.masks=.*no such folder"):
        describe_scans(tmp_path, f"data.masks={tmp_path / 'nowhere'}")
    colours = np.zeros((20, 20, 3), np.uint8)
    colours[..., 0] = 200
    save_png(tmp_path / "masks" / "s001.png", colours)
    with pytest.raises(DataError, match="RGB mask .* class indices.*palette"):
        describe_scans(tmp_path)
    make_scans(tmp_path, count=10)
    save_png(tmp_path / "scans" / "images" / "s002.png", np.full((20, 20), 4000, np.uint16))
    with pytest.raises(DataError, match="16-bit PNG"):
        describe_scans(tmp_path)


def test_palette_masks_are_read_as_their_indices(tmp_path):
    from PIL import Image

    from bmrun.data.mask_files import read_mask

    indices = np.array([[0, 1], [2, 1]], np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    image.save(tmp_path / "m.png")
    assert np.array_equal(read_mask(tmp_path / "m.png"), indices)


@pytest.mark.parametrize("overrides, key", [
    (["model=mlp"], "model"),
    (["model=rnn"], "model"),
    (["augment.tta=flip"], "augment.tta"),
    (["loss=binary_cross_entropy"], "loss"),
])
def test_segmentation_refuses_what_needs_one_label_per_image(tmp_path, overrides, key):
    from bmrun.errors import ConfigError

    make_scans(tmp_path, count=6)
    with pytest.raises(ConfigError) as error:
        describe_scans(tmp_path, *overrides)
    assert key in str(error.value)


def test_unet_and_dice_need_masks():
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError, match="model=unet predicts a class for every pixel"):
        validated(["data=digits", "model=unet"])
    with pytest.raises(ConfigError, match="loss=dice does not fit"):
        validated(["data=digits", "loss=dice"])


def test_segmentation_metrics_of_a_confusion_matrix():
    from bmrun.confusion import segmentation_metrics, segmentation_per_class

    confusion = np.array([[80.0, 10.0], [5.0, 5.0]])  # rows: truth
    metrics = segmentation_metrics(confusion)
    assert metrics["pixel_accuracy"] == pytest.approx(0.85)
    assert metrics["mean_iou"] == pytest.approx((80 / 95 + 5 / 20) / 2)
    assert metrics["dice"] == pytest.approx(10 / 25)  # foreground only
    table = segmentation_per_class(confusion, ("bg", "cell"))
    assert table["cell"] == {"iou": 0.25, "dice": 0.4, "pixels": 10, "predicted_pixels": 15}


def test_masks_default_to_small_batches_and_an_explicit_size_wins(tmp_path):
    """Auto batch sizes: 8/16 with masks (more steps per epoch), 64/128 for labels; a given size is kept."""
    from bmrun.data.image_folder import ImageFolderConfig

    make_scans(tmp_path, count=10)
    seg = validated(["data=image_folder", f"data.path={tmp_path / 'scans'}",
                    f"data.masks={tmp_path / 'masks'}", "model=unet"]).data
    assert (seg.batch_size, seg.eval_batch_size) == (8, 16)
    labels = ImageFolderConfig(name="image_folder", path=str(tmp_path))
    assert (labels.batch_size, labels.eval_batch_size) == (64, 128)
    given = validated(["data=image_folder", f"data.path={tmp_path / 'scans'}", f"data.masks={tmp_path / 'masks'}",
                       "model=unet", "data.batch_size=32"]).data
    assert given.batch_size == 32


def test_large_masked_images_get_batches_of_at_most_2_17_pixels(tmp_path):
    """A U-Net's memory follows the pixels of a batch: 256x256 scans default to 2 and 2 (8 and 16
    held 2.2 GiB on 2,000 scans); a size given on the command line still wins."""
    from bmrun.data.image_folder import mask_batch_sizes

    make_scans(tmp_path, count=4, size=(256, 256))
    folder = ["data=image_folder", f"data.path={tmp_path / 'scans'}", f"data.masks={tmp_path / 'masks'}", "model=unet"]
    seg = validated(folder).data
    assert (seg.batch_size, seg.eval_batch_size) == (2, 2)
    given = validated(folder + ["data.eval_batch_size=12"]).data
    assert (given.batch_size, given.eval_batch_size) == (2, 12)
    assert mask_batch_sizes((128, 128)) == (8, 8)
    assert mask_batch_sizes((90, 90)) == (8, 16)
    assert mask_batch_sizes((200, 200)) == (3, 3)
    assert mask_batch_sizes((2048, 2048)) == (1, 1)
    assert mask_batch_sizes(None) == (8, 16)


def test_results_table_shows_pixel_accuracy_mean_iou_and_dice_not_per_class(capsys):
    from bmrun.console import print_results

    test = {"loss": 0.1, "pixel_accuracy": 0.97, "mean_iou": 0.8912, "dice": 0.9043,
            "per_class": {"class_0": {"iou": 0.95}, "class_1": {"iou": 0.83}}}
    print_results({"status": "completed", "epochs": 2, "duration_s": 1.0, "train": {"loss": 0.1, "pixel_accuracy": 0.98},
                   "test": test}, "run")
    shown = capsys.readouterr().out
    assert all(key in shown for key in ("pixel_accuracy", "mean_iou", "dice", "0.8912", "0.9043"))
    assert "per_class" not in shown


def test_a_family_without_spatial_features_is_refused_naming_the_dense_ones(tmp_path):
    from bmrun.errors import ConfigError

    make_scans(tmp_path, count=6)
    with pytest.raises(ConfigError, match=r"model=unet\|cnn\|transformer"):
        describe_scans(tmp_path, "model=linear")


def test_segmentation_splits_are_compacted_in_place_and_equal_the_copied_ones():
    from bmrun.data.arrays import RawData, prepare
    from bmrun.specs import SEGMENTATION, InputSpec, TaskSpec

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (600, 4, 4, 1), dtype=np.uint8), rng.integers(0, 2, (600, 4, 4), dtype=np.uint8)
    x_copy, y_copy = x.copy(), y.copy()
    task, inputs = TaskSpec(SEGMENTATION, 2, ("a", "b")), InputSpec("image", (4, 4, 1))
    data = prepare(RawData(x, y, x[:3].copy(), y[:3].copy()), task, inputs, val_fraction=0.1, limit=None,
                   normalize=False, seed=3)
    order = np.random.default_rng(3).permutation(600)
    train, val = np.sort(order[60:]), np.sort(order[:60])
    np.testing.assert_array_equal(data.train.x, x_copy[train])
    np.testing.assert_array_equal(data.train.y, y_copy[train])
    np.testing.assert_array_equal(data.val.x, x_copy[val])
    assert np.shares_memory(data.train.x, x)  # no second copy of the images


def test_the_pipeline_holds_resident_splits_once_and_the_splits_read_its_buffers():
    """Training arrays and the evaluation splits: the split's arrays become views of the tensors
    made from them (one copy of 2,000 scans of 256x256 is 260 MB), with the same values."""
    from bmrun.data.arrays import PreparedData, Split
    from bmrun.data.pipeline import DataPipeline
    from bmrun.specs import SEGMENTATION, InputSpec, TaskSpec

    rng = np.random.default_rng(0)
    def split(n):
        return Split(rng.integers(0, 255, (n, 8, 8, 1), dtype=np.uint8), rng.integers(0, 3, (n, 8, 8), dtype=np.uint8))
    data = PreparedData(train=split(40), val=split(6), test=split(10), task=TaskSpec(SEGMENTATION, 3, ("a", "b", "c")),
                        inputs=InputSpec("image", (8, 8, 1)))
    before = {name: (part.x.copy(), part.y.copy()) for name, part in (("train", data.train), ("test", data.test))}
    import tensorflow as tf

    pipe = DataPipeline(data, batch_size=8, eval_batch_size=4, shuffle=True, seed=1)
    x, y = pipe.eval_tensors("test")
    # Training gathers batches in a compiled step and through tf.data: neither may copy the
    # variables' buffers (a sparse access to a variable whose buffer is shared copies all of it).
    order = pipe.order_tensor(0)
    step = tf.function(lambda i: pipe.batch_at(order, tf.constant(0, tf.int64), i))
    gathered = step(tf.constant(1))
    np.testing.assert_array_equal(gathered[0].numpy()[..., 0], data.train.x[pipe.order(0)[8:16], ..., 0])
    next(iter(pipe.train_dataset(0)))
    for part, (x_tensor, y_tensor), name in ((data.train, (pipe._train_x.read_value(), pipe._train_y.read_value()), "train"),
                                             (data.test, (x, y), "test")):
        assert np.shares_memory(part.x, np.asarray(x_tensor)) and np.shares_memory(part.y, np.asarray(y_tensor))
        np.testing.assert_array_equal(part.x, before[name][0])
        np.testing.assert_array_equal(part.y, before[name][1])
        assert part.x.dtype == np.uint8 and part.y.dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_image_statistics_are_exact_and_their_temporaries_bounded_in_pixels(monkeypatch, dtype):
    """Chunks count pixels, not images: np.bincount's int64 copy of 4,096 images of 256x256 is 2 GiB."""
    import tracemalloc

    from bmrun.data import arrays
    from bmrun.specs import IMAGE, InputSpec

    x = np.random.default_rng(0).integers(0, 256, (300, 32, 32, 1)).astype(dtype)
    monkeypatch.setattr(arrays, "CHUNK_PIXELS", 2**14)  # 16 images a chunk: 128 KiB as int64
    tracemalloc.start()
    mean, variance = arrays._input_stats(x, InputSpec(IMAGE, (32, 32, 1)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20  # the whole split at once would take 2.4 MiB as int64 or float64
    np.testing.assert_allclose([mean, variance], [x.astype(np.float64).mean(), x.astype(np.float64).var()],
                               rtol=1e-6)
