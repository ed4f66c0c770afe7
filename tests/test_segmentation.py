"""Segmentation end to end: losses, U-Net padding, masks under augmentation, a tiny run and its model."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_metrics, train_in_process
from segmentation_data import make_scans

TINY = ["model=unet", "model.filters=4", "model.depth=2", "trainer.max_epochs=2", "data.batch_size=8",
        "logger.tensorboard=false"]


def scan_overrides(root) -> list[str]:
    from bmrun.data import masks

    masks.forget()
    return ["data=image_folder", f"data.path={root / 'scans'}", f"data.masks={root / 'masks'}"]


def test_dice_is_zero_for_a_perfect_mask_and_dice_ce_adds_cross_entropy():
    import tensorflow as tf

    from bmrun.training.losses import make_dense_loss

    y = tf.constant(np.random.default_rng(0).integers(0, 3, (2, 6, 5)), tf.int32)
    perfect = 40.0 * tf.one_hot(y, 3)
    dice = make_dense_loss("dice", num_classes=3)
    cross_entropy = make_dense_loss("cross_entropy", num_classes=3)
    both = make_dense_loss("dice_ce", num_classes=3)
    assert dice(y, perfect).shape == (2,)
    np.testing.assert_allclose(dice(y, perfect).numpy(), 0.0, atol=1e-5)
    logits = tf.random.stateless_normal((2, 6, 5, 3), seed=[1, 2])
    np.testing.assert_allclose(both(y, logits).numpy(), (dice(y, logits) + cross_entropy(y, logits)).numpy(), rtol=1e-6)
    assert dice(y, logits).numpy().min() > 0.2
    # A class weight of 2 on every class doubles the cross-entropy of each pixel.
    doubled = make_dense_loss("cross_entropy", num_classes=3, class_weights=np.full(3, 2.0, np.float32))
    np.testing.assert_allclose(doubled(y, logits).numpy(), 2 * cross_entropy(y, logits).numpy(), rtol=1e-6)


def test_shifts_and_flips_move_the_mask_with_its_image_and_noise_does_not():
    import tensorflow as tf

    from bmrun.data.augment import Augmenter

    masks = tf.constant(np.random.default_rng(1).integers(0, 4, (6, 9, 11)), tf.uint8)
    images = tf.cast(masks, tf.float32)[..., None] * 50.0
    moved_images, moved_masks = Augmenter(shift=3, horizontal_flip=True, rotation=20, seed=5).with_masks(
        images, masks, 0, 1)
    assert moved_masks.dtype == tf.uint8 and set(np.unique(moved_masks)) <= {0, 1, 2, 3}
    assert not np.array_equal(moved_masks.numpy(), masks.numpy())
    moved_images, moved_masks = Augmenter(shift=3, horizontal_flip=True, seed=5).with_masks(images, masks, 0, 1)
    np.testing.assert_array_equal(moved_images.numpy()[..., 0], moved_masks.numpy() * 50.0)  # lossless, aligned
    noisy, same = Augmenter(noise_std=10.0, seed=5).with_masks(images, masks, 0, 1)
    np.testing.assert_array_equal(same.numpy(), masks.numpy())
    assert not np.array_equal(noisy.numpy(), images.numpy())


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory):
    """A tiny run on 20x20 scans (not a multiple of the U-Net's stride 4: padded and cropped back)."""
    root = make_scans(tmp_path_factory.mktemp("scans"), count=24, size=(18, 22))
    run = root / "run"
    # bfloat16 on every CPU (emulated where the chip lacks it): what model=unet computes in where it has it
    train_in_process(run, [*scan_overrides(root), *TINY, "loss=dice_ce", "data.class_weight=balanced",
                           "augment=standard", "logger.tensorboard=true", "logger.saved_model=true",
                           "device.precision=mixed_bfloat16"])
    return root, run


@pytest.mark.slow
def test_bmrun_eval_gives_back_a_bfloat16_runs_own_test_metrics(seg_run):
    """The loaded model is rebuilt in the run's precision: in float32 its outputs differ slightly."""
    import keras

    from bmrun.cli.eval import evaluate_run

    _, run = seg_run
    keras.mixed_precision.set_global_policy("float32")
    result, _ = evaluate_run(str(run))
    assert result["test"] == load_metrics(run)["test"]
    assert keras.mixed_precision.global_policy().name == "float32"  # the process's policy is restored


@pytest.mark.slow
def test_tensorboard_shows_image_truth_prediction_of_the_same_test_images_each_epoch(seg_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = seg_run
    events = EventAccumulator(str(run / "tensorboard" / "test"), size_guidance={"tensors": 0})
    events.Reload()
    pictures = events.Tensors("segmentation")
    assert len({event.step for event in pictures}) == 2  # one per epoch (2 epochs)
    import tensorflow as tf

    picture = tf.io.decode_png(pictures[0].tensor_proto.string_val[2]).numpy()
    assert picture.ndim == 3 and picture.shape[1] > picture.shape[0] / 2  # three columns of 4 rows


def test_overlays_tint_the_foreground_only_and_the_picture_has_three_columns():
    from bmrun.explain.figures import mask_overlay
    from bmrun.tensorboard.pictures import segmentation_image

    image = np.full((2, 10, 12, 1), 100, np.uint8)
    masks = np.zeros((2, 10, 12), np.int64)
    masks[:, 2:5, 3:7] = 1
    tinted = mask_overlay(image[0], masks[0])
    assert (tinted[0, 0] == 100).all() and not (tinted[3, 4] == 100).all()
    picture = segmentation_image(image, masks, np.zeros_like(masks), ["dice 1.000", "dice 0.000"], "test")
    assert picture.dtype == np.uint8 and picture.shape[-1] == 3 and picture.shape[1] > picture.shape[0]


@pytest.mark.slow
def test_a_run_reports_pixel_metrics_and_picks_the_best_epoch_by_val_iou(seg_run):
    _, run = seg_run
    metrics = load_metrics(run)
    test = metrics["test"]
    assert {"loss", "pixel_accuracy", "mean_iou", "dice", "per_class"} <= set(test)
    assert set(test["per_class"]) == {"class_0", "class_1"}
    assert sum(c["pixels"] for c in test["per_class"].values()) == 5 * 18 * 22  # 5 test scans
    assert metrics["monitor"] == "val/mean_iou"
    assert set(metrics["class_weight"]) == {"class_0", "class_1"}


@pytest.mark.slow
def test_the_saved_model_reloads_in_safe_mode_and_gives_a_mask_of_the_image_size(seg_run):
    import keras

    root, run = seg_run
    from bmrun.models.loading import register_model_classes

    register_model_classes(run)
    model = keras.saving.load_model(run / "model" / "model.keras", safe_mode=True)
    outputs = model(np.zeros((2, 18, 22, 1), np.float32))
    assert tuple(outputs.shape) == (2, 18, 22, 2)


@pytest.mark.slow
def test_predict_writes_index_masks_overlays_and_areas(seg_run):
    from PIL import Image

    from bmrun.cli.predict import predict_files

    root, run = seg_run
    images = sorted((root / "scans" / "images").glob("*.png"))[:2]
    records = predict_files(str(run), [str(p) for p in images])
    mask = np.asarray(Image.open(records[0]["mask"]))
    assert mask.shape == (18, 22) and set(np.unique(mask)) <= {0, 1}
    assert np.asarray(Image.open(records[0]["overlay"])).shape == (18, 22, 3)
    rows = (run / "predictions" / "areas.csv").read_text().splitlines()
    assert rows[0] == "input,mask,class_0,class_1,pixels" and len(rows) == 3
    assert records[0]["areas"]["class_1"] == int((mask == 1).sum())


@pytest.mark.slow
def test_explain_follows_one_class_over_a_chosen_region(seg_run):
    from PIL import Image

    from bmrun.cli.explain import explain

    _, run = seg_run
    result = explain(str(run), n=2, region="2,3,12,10", class_name="class_1")  # Grad-CAM by default
    assert result["method"] == "gradcam" and result["region"] == "2,3,12,10" and result["classes"] == "class_1"
    assert result["layer"] == "bottom_conv_1"  # the U-Net's bottleneck, not the 1x1 head
    near = np.load(run / "explain" / "gradcam.npy")
    assert near.shape == (2, 18, 22) and 0.0 <= near.min() and near.max() <= 1.0
    one = Image.open(run / "explain" / "gradcam" / "001.png")
    assert min(one.size) >= 256 and "class_1 over region 2,3,12,10" in one.text["Caption"]
    assert (run / "explain" / "gradcam.png").is_file()
    # The score is the class's logits summed over the region: another region, another map.
    explain(str(run), n=2, region="14,10,22,18", class_name="1")
    assert not np.allclose(np.load(run / "explain" / "gradcam.npy"), near)
    assert explain(str(run), n=2)["region"] == "0,0,22,18"  # default: the whole image, a foreground class


@pytest.mark.slow
@pytest.mark.parametrize("option, message", [
    ({"region": "2,3,12"}, "four whole pixel numbers"), ({"region": "5,3,2,9"}, "inside the 22x18 image"),
    ({"region": "0,0,23,18"}, "inside the 22x18 image"), ({"class_name": "lesion"}, "class_0, class_1"),
    ({"class_name": "2"}, "index 0..1"), ({"method": "smoothgrad"}, "explained with --method gradcam")])
def test_a_bad_region_or_class_is_one_line_naming_what_fits(seg_run, option, message):
    from bmrun.cli.explain import explain
    from bmrun.errors import BmrunError

    _, run = seg_run
    with pytest.raises(BmrunError, match=message) as error:
        explain(str(run), n=1, **option)
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_a_run_stopped_mid_epoch_resumes_to_the_same_weights_and_metrics(tmp_path, monkeypatch):
    """Ctrl-C after step 6 (mid-epoch 2 of 3, augmented): the resumed run ends as the uninterrupted one."""
    import signal

    import keras

    from conftest import resume_in_process
    from bmrun.errors import BmrunError
    from bmrun.models.loading import register_model_classes
    from bmrun.training.epoch import EpochLoop

    root = make_scans(tmp_path, count=24, size=(16, 16))
    args = [*scan_overrides(root), *TINY[:3], "data.batch_size=4", "trainer.max_epochs=3", "trainer.steps_per_call=1",
            "trainer.deterministic=true", "augment=standard", "loss=dice_ce", "logger=none", "seed=5"]
    expected = train_in_process(tmp_path / "reference", args)
    run_call = EpochLoop.run_call

    def stop_after_step_6(loop, source, done, n):
        result = run_call(loop, source, done, n)
        if int(loop.job.state.global_step.numpy()) == 6:
            loop.stop.signum = signal.SIGINT  # what Ctrl-C sets: the loop checkpoints and stops here
        return result

    monkeypatch.setattr(EpochLoop, "run_call", stop_after_step_6)
    with pytest.raises(BmrunError, match="stopped at step 6"):
        train_in_process(tmp_path / "stopped", args)
    monkeypatch.setattr(EpochLoop, "run_call", run_call)
    assert load_metrics(tmp_path / "stopped")["status"] == "interrupted"
    got = resume_in_process(tmp_path / "stopped")
    assert got["status"] == "completed" and got["epochs"] == 3
    assert got["test"] == expected["test"] and got["val"] == expected["val"]  # identical, not approximately
    weights = []
    for run in ("reference", "stopped"):
        register_model_classes(tmp_path / run)
        weights.append(keras.saving.load_model(tmp_path / run / "model" / "model.keras", safe_mode=True).get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


@pytest.mark.slow
def test_images_over_the_memory_budget_are_streamed_or_cached_and_train_identically(tmp_path):
    root = make_scans(tmp_path, count=24, size=(16, 16))
    args = [*scan_overrides(root), *TINY[:3], "data.batch_size=4", "trainer.max_epochs=2", "trainer.deterministic=true",
            "augment=standard", "logger=none", "seed=3"]
    resident = train_in_process(tmp_path / "resident", args)
    # TensorBoard on: its picture decodes the first test images from their files
    streamed = train_in_process(tmp_path / "streamed", args + ["data.memory_budget=1KiB", "logger=tensorboard"])
    cached = train_in_process(tmp_path / "cached", args + ["data.memory_budget=1KiB", f"data.cache={tmp_path / 'cache'}"])
    assert len(list((tmp_path / "cache").glob("images-*.npy"))) == 1
    from bmrun.data import load_prepared

    from conftest import validated

    data = load_prepared(validated(args + ["data.memory_budget=1KiB"]).data, 3)
    assert data.train.x.streamed and data.train.y.shape == (len(data.train), 16, 16)  # files; masks kept
    assert "images streamed from disk" in data.notes
    for run in (streamed, cached):  # the same pixels, masks, batches and augmentation
        assert run["test"] == resident["test"] and run["val"] == resident["val"]


def test_unet_defaults_to_bfloat16_where_the_chip_has_it_and_help_says_so(capsys):
    """The device files give model=unet precision auto, every other family float32; the command
    line still wins, and ``bmrun device=cpu --help`` shows both defaults, not the interpolation."""
    from conftest import compose, help_line

    assert compose(["model=unet"]).device.precision == "auto"
    assert compose(["model=unet", "device=cpu"]).device.precision == "auto"
    assert compose(["model=cnn"]).device.precision == "float32"
    assert compose(["model=unet", "device.precision=float32"]).device.precision == "float32"
    line = help_line(capsys, "device", "cpu", "device.precision")
    assert "float32 (model=unet: auto)" in line and "${" not in line
