"""Training-image augmentation (``augment=``): what it changes, what it must never change.

Pipeline tests run on the bundled digits; transform tests on synthetic batches.
"""

from __future__ import annotations

import numpy as np
import pytest

from bmrun.errors import ConfigError
from conftest import train_in_process, validated


def _pipeline(overrides=(), seed=0):
    from bmrun.data import load_prepared
    from bmrun.data.pipeline import DataPipeline

    config = validated(list(overrides) + [f"seed={seed}"])
    data = load_prepared(config.data, config.seed)
    return DataPipeline(data, batch_size=64, eval_batch_size=256, shuffle=True, seed=config.seed,
                        augment=config.augment)


def _batches(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


@pytest.fixture(scope="module")
def plain():
    return _pipeline(["augment=none"])


@pytest.fixture(scope="module")
def augmented():
    return _pipeline(["augment=standard"])


def _augmenter(**kwargs):
    from bmrun.data.augment import Augmenter

    return Augmenter(seed=kwargs.pop("seed", 0), **kwargs)


def _images(n=32, side=12, seed=0):
    """Random bright squares on black, like digits: content away from the border."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, side, side, 1), np.float32)
    images[:, 3:side - 3, 3:side - 3] = rng.uniform(20, 255, (n, side - 6, side - 6, 1))
    return images


def test_none_is_the_default_and_standard_never_flips():
    assert not validated().augment.enabled
    standard = validated(["augment=standard"]).augment
    assert standard.enabled and not standard.horizontal_flip  # digits must not mirror


def test_augmentation_changes_training_batches_but_not_labels_or_eval(plain, augmented):
    assert plain.augmenter is None and augmented.augmenter is not None
    base, changed = _batches(plain.train_dataset(0)), _batches(augmented.train_dataset(0))
    assert len(base) == len(changed)
    for (x0, y0), (x1, y1) in zip(base, changed):
        assert x0.shape == x1.shape and x0.dtype == x1.dtype == np.float32
        np.testing.assert_array_equal(y0, y1)  # same examples in the same order
        assert not np.array_equal(x0, x1)
    for split in ("val", "test"):
        for (x0, y0), (x1, y1) in zip(_batches(plain.eval_dataset(split)), _batches(augmented.eval_dataset(split))):
            np.testing.assert_array_equal(x0, x1)
            np.testing.assert_array_equal(y0, y1)


def test_same_seed_epoch_and_batch_give_identical_batches(augmented):
    again = _pipeline(["augment=standard"])
    first = _batches(augmented.train_dataset(1))
    for (x0, _), (x1, _) in zip(first, _batches(again.train_dataset(1))):
        np.testing.assert_array_equal(x0, x1)
    # A resumed epoch (skipping 3 trained batches) sees exactly the batches the full epoch had.
    for (x0, y0), (x1, y1) in zip(first[3:], _batches(augmented.train_dataset(1, skip_batches=3))):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    assert len(_batches(augmented.train_dataset(1, skip_batches=3))) == len(first) - 3


def test_randomness_depends_on_seed_epoch_and_batch():
    images = _images()
    augment = _augmenter(shift=2, rotation=10, noise_std=5)
    reference = augment(images, 0, 0).numpy()
    np.testing.assert_array_equal(reference, augment(images, 0, 0).numpy())
    np.testing.assert_array_equal(reference, _augmenter(shift=2, rotation=10, noise_std=5)(images, 0, 0).numpy())
    for other in (augment(images, 1, 0), augment(images, 0, 1),
                  _augmenter(shift=2, rotation=10, noise_std=5, seed=1)(images, 0, 0)):
        assert not np.array_equal(reference, other.numpy())


def test_shape_and_dtype_are_preserved():
    images = np.random.default_rng(0).uniform(0, 255, (5, 9, 7, 3)).astype(np.float32)
    out = _augmenter(shift=2, horizontal_flip=True, rotation=15, noise_std=3)(images, 0, 0)
    assert out.shape == images.shape and out.dtype.name == "float32"


def test_noise_has_the_configured_standard_deviation():
    images = _images(n=64, side=16)
    diff = _augmenter(noise_std=12.0)(images, 2, 5).numpy() - images
    assert abs(diff.std() - 12.0) < 0.5 and abs(diff.mean()) < 0.5


def test_shift_moves_each_image_by_at_most_shift_pixels_like_pad_and_crop():
    images = _images(n=40)
    out = _augmenter(shift=2)(images, 0, 3).numpy()
    moves = set()
    for original, shifted in zip(images, out):
        padded = np.pad(original, ((2, 2), (2, 2), (0, 0)))
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(shifted, padded[2 - dy:2 - dy + 12, 2 - dx:2 - dx + 12])]
        assert matches, "a shifted image must be an exact crop of the zero-padded original"
        moves.add(matches[0])
    assert len(moves) > 5  # offsets vary from image to image


def test_flip_mirrors_about_half_the_images_exactly():
    images = _images(n=64)
    out = _augmenter(horizontal_flip=True)(images, 0, 0).numpy()
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    kept = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 16 <= sum(mirrored) <= 48


def test_rotation_turns_images_a_little():
    images = _images(n=16, side=20)
    out = _augmenter(rotation=10)(images, 0, 0).numpy()
    assert not np.array_equal(out, images)
    # A small turn keeps the content in frame: total intensity within a few percent.
    ratio = out.reshape(16, -1).sum(axis=1) / images.reshape(16, -1).sum(axis=1)
    assert np.all(np.abs(ratio - 1.0) < 0.05)


@pytest.mark.parametrize("overrides, key", [
    (["data=diabetes", "model=linear", "augment=standard"], "augment"),
    (["data=breast_cancer", "model=mlp", "augment.noise_std=1"], "augment"),
    (["augment=standard", "augment.shift=8"], "augment.shift"),
    (["augment.rotation=200"], "augment.rotation"),
    (["augment.noise_std=-1"], "augment.noise_std"),
])
def test_bad_augment_configs_are_config_errors(overrides, key):
    with pytest.raises(ConfigError) as info:
        validated(overrides)
    assert info.value.key == key


def test_non_image_data_with_augment_none_is_fine():
    assert not validated(["data=diabetes", "model=linear"]).augment.enabled


def test_tiny_training_run_with_standard_augmentation_completes(tmp_path):
    common = ["data.limit=400", "trainer.max_epochs=3", "optimizer.lr=0.01", "logger=none",
              "trainer.deterministic=true"]
    metrics = train_in_process(tmp_path / "augmented", ["augment=standard", *common])
    plain = train_in_process(tmp_path / "plain", ["augment=none", *common])
    assert metrics["status"] == "completed" and metrics["epochs"] == 3
    # Only the training batches change: the same deterministic run trains differently...
    assert metrics["train"]["loss"] != plain["train"]["loss"]
    assert metrics["test"] != plain["test"]
    # ... and still learns (chance is 0.1).
    assert metrics["test"]["accuracy"] > 0.3


def test_resumed_augmented_run_matches_an_uninterrupted_one(tmp_path):
    """Epoch 2's augmentation after a resume is the one the uninterrupted run drew."""
    from bmrun.config import validate
    from bmrun.config.resume import config_for_resume
    from bmrun.training.train import train

    common = ["augment=standard", "data.limit=300", "trainer.deterministic=true", "logger=none", "seed=3"]
    reference = train_in_process(tmp_path / "reference", common + ["trainer.max_epochs=2"])
    first = train_in_process(tmp_path / "resumed", common + ["trainer.max_epochs=1"])
    assert first["epochs"] == 1
    config = validate(config_for_resume(tmp_path / "resumed", ["trainer.max_epochs=2"])[0])
    resumed = train(config, tmp_path / "resumed")
    assert resumed["epochs"] == 2
    assert resumed["test"] == reference["test"] and resumed["val"] == reference["val"]


def test_tta_flip_averages_each_image_with_its_mirror():
    """augment.tta=flip: the evaluation's outputs are the mean of the image's and its mirror's."""
    import keras
    import tensorflow as tf

    from bmrun.data.catalog import MULTICLASS, TaskSpec
    from bmrun.tasks import task_for
    from bmrun.training.evaluator import Evaluator

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (40, 6, 6, 1)), tf.float32)
    labels = tf.constant(np.random.default_rng(1).integers(0, 3, 40), tf.int32)
    expected = (model(images) + model(tf.reverse(images, axis=[2]))) / 2
    assert not np.allclose(model(images), expected)  # the mirror image really changes the outputs

    class Resident:  # the pipeline's side of an in-graph evaluation
        eval_batch_size, streaming = 16, False

        def eval_tensors(self, split):
            return images, labels

    def confusion(tta_flip):
        evaluator = Evaluator(model, lambda y, out: keras.losses.sparse_categorical_crossentropy(
            y, out, from_logits=True), task_for(TaskSpec(MULTICLASS, 3)), None, Resident(),
            tf.distribute.get_strategy(), tta_flip=tta_flip)
        return evaluator._sums("test")["confusion"].numpy()

    want = tf.math.confusion_matrix(labels, tf.argmax(expected, -1), num_classes=3).numpy()
    np.testing.assert_array_equal(confusion(True), want)
    plain = tf.math.confusion_matrix(labels, tf.argmax(model(images), -1), num_classes=3).numpy()
    np.testing.assert_array_equal(confusion(False), plain)


def test_tta_is_refused_for_non_image_data():
    with pytest.raises(ConfigError, match="augment.tta"):
        validated(["data=diabetes", "model=linear", "augment.tta=flip"])
    with pytest.raises(ConfigError, match="tta"):
        validated(["augment.tta=rotate"])


def test_cutout_blacks_out_one_square_per_image_at_a_seeded_place():
    images = np.full((16, 28, 28, 1), 100.0, np.float32)
    augmenter = _augmenter(cutout=0.3, seed=3)
    out = augmenter(images, 0, 0).numpy()
    black = (out == 0).sum(axis=(1, 2, 3))
    assert (black > 0).all() and (black <= 8 * 8).all()  # round(0.3 * 28) = 8: one 8x8 square, clipped at borders
    assert (black == 64).sum() >= 4  # most squares lie wholly inside the image
    assert set(np.unique(out)) == {0.0, 100.0}  # nothing else changes
    np.testing.assert_array_equal(out, augmenter(images, 0, 0).numpy())  # keyed on (seed, epoch, batch)
    assert not np.array_equal(out, augmenter(images, 0, 1).numpy())
    with pytest.raises(ConfigError, match="cutout"):
        validated(["augment.cutout=1.5"])
