"""RandAugment, FixMatch's strong view: each operation does what its name says, draws are seeded."""

from __future__ import annotations

import numpy as np
import pytest

from bmrun.errors import ConfigError
from conftest import validated


def _op(name, images, magnitude, sign=1.0):
    import tensorflow as tf

    from bmrun.data.rand_augment import OPERATIONS

    batch = images.shape[0]
    m = tf.fill([batch], float(magnitude))
    return OPERATIONS[name](tf.constant(images, tf.float32), m, sign * m).numpy()


def _ramp(batch=2, side=10, channels=1):
    """Images whose pixels run from 50 to 150: every grey level is distinct."""
    values = np.linspace(50.0, 150.0, side * side * channels, dtype=np.float32)
    return np.tile(values.reshape(1, side, side, channels), (batch, 1, 1, 1))


def test_autocontrast_stretches_each_image_to_the_full_range():
    out = _op("autocontrast", _ramp(), 0.5)
    assert out.min() == pytest.approx(0.0, abs=1e-3) and out.max() == pytest.approx(255.0, abs=1e-3)
    flat = np.full((1, 4, 4, 1), 80.0, np.float32)  # nothing to stretch: left as it is
    np.testing.assert_allclose(_op("autocontrast", flat, 0.5), flat)


def test_equalize_spreads_grey_levels_evenly():
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 40, size=(1, 32, 32, 1)).astype(np.float32)  # all in 0..39
    out = _op("equalize", dark, 0.5)
    assert out.max() == pytest.approx(255.0) and out.min() == pytest.approx(0.0)
    # An even histogram: each quarter of the range holds about a quarter of the pixels.
    quarters = np.histogram(out, bins=4, range=(0, 256))[0] / out.size
    assert np.all(np.abs(quarters - 0.25) < 0.08), quarters
    # Monotone: a brighter input pixel is never darker afterwards.
    order = np.argsort(dark.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)


def test_posterize_keeps_four_bits_at_full_magnitude_and_all_eight_at_none():
    images = _ramp()
    np.testing.assert_allclose(_op("posterize", images, 0.0), np.floor(images))
    out = _op("posterize", images, 1.0)
    assert np.all(out % 16 == 0) and np.all(out <= images) and np.all(images - out < 16)


def test_solarize_inverts_pixels_above_its_threshold():
    images = _ramp()
    np.testing.assert_allclose(_op("solarize", images, 0.0), images)  # threshold 256: nothing
    np.testing.assert_allclose(_op("solarize", images, 1.0), 255.0 - images)  # threshold 0: all
    half = _op("solarize", images, 0.5)  # threshold 128
    np.testing.assert_allclose(half, np.where(images < 128, images, 255.0 - images))


def test_enhancements_are_identity_at_zero_and_move_the_right_way():
    images = _ramp()
    for name in ("contrast", "brightness", "sharpness"):
        np.testing.assert_allclose(_op(name, images, 0.0), images, atol=1e-4)
    assert _op("contrast", images, 0.5).std() > images.std() > _op("contrast", images, 0.5, sign=-1).std()
    assert _op("brightness", images, 0.5).mean() > images.mean() > _op("brightness", images, 0.5, sign=-1).mean()
    out = _op("brightness", images, 1.0)
    assert out.max() <= 255.0 and out.min() >= 0.0


def test_colour_desaturates_towards_grey_and_only_colour_images_draw_it():
    from bmrun.data.rand_augment import operations_for

    assert "colour" not in operations_for(1) and "colour" in operations_for(3)
    rgb = np.zeros((1, 4, 4, 3), np.float32)
    rgb[..., 0] = 200.0  # pure red
    grey = _op("colour", rgb, 1.0, sign=-1)  # factor 0.05: almost grey
    assert np.ptp(grey[0, 0, 0]) < 0.1 * np.ptp(rgb[0, 0, 0])


def test_translations_move_content_by_thirty_percent_of_the_side():
    dot = np.zeros((1, 10, 10, 1), np.float32)
    dot[0, 5, 5, 0] = 255.0
    moved = _op("translate_x", dot, 1.0)  # 0.3 x 10 = 3 pixels
    assert moved[0, 5, 2, 0] == pytest.approx(255.0) and moved.sum() == pytest.approx(255.0)
    moved = _op("translate_y", dot, 1.0, sign=-1)
    assert moved[0, 8, 5, 0] == pytest.approx(255.0)


def test_rotation_and_shears_keep_the_centre_and_move_the_corners():
    image = np.zeros((1, 11, 11, 1), np.float32)
    image[0, 5, 5, 0] = 255.0  # the centre pixel: every one of these maps it to itself
    image[0, 1, 5, 0] = 255.0  # a pixel above it: each moves it sideways
    for name in ("rotate", "shear_x"):
        out = _op(name, image, 1.0)
        assert out[0, 5, 5, 0] == pytest.approx(255.0, abs=1e-3), name
        assert out[0, 1, 5, 0] < 200.0, name
    out = _op("shear_y", image, 1.0)
    assert out[0, 5, 5, 0] == pytest.approx(255.0, abs=1e-3)
    assert out[0, 1, 5, 0] == pytest.approx(255.0, abs=1e-3)  # same column: a vertical shear leaves it


def test_views_are_seeded_per_image_and_stay_in_range():
    import tensorflow as tf

    from bmrun.data.rand_augment import rand_augment

    rng = np.random.default_rng(1)
    images = tf.constant(rng.uniform(0, 255, size=(64, 12, 12, 1)).astype(np.float32))
    key = tf.constant([3, 4], tf.int64)
    first, again = rand_augment(images, key, 2).numpy(), rand_augment(images, key, 2).numpy()
    np.testing.assert_array_equal(first, again)
    other = rand_augment(images, tf.constant([3, 5], tf.int64), 2).numpy()
    assert not np.array_equal(first, other)
    assert first.shape == images.shape and first.min() >= 0.0 and first.max() <= 255.0
    changed = np.abs(first - images.numpy()).reshape(64, -1).max(axis=1) > 1.0
    # Two draws from 13 operations: only identity twice (or magnitude ~0) leaves an image as it was.
    assert 0.75 < changed.mean() < 1.0 or changed.all()
    rgb = rand_augment(tf.constant(rng.uniform(0, 255, size=(8, 12, 12, 3)).astype(np.float32)), key, 2)
    assert rgb.shape == (8, 12, 12, 3) and np.isfinite(rgb.numpy()).all()


def test_strong_view_of_semi_supervised_training_is_randaugment_then_cutout():
    from bmrun.methods.consistency import views_for

    weak, strong = views_for(28, True, "randaugment", 2)
    assert weak.randaugment_ops == 0 and strong.randaugment_ops == 2 and strong.cutout == 0.5
    _, mild = views_for(28, True, "mild", 2)
    assert mild.randaugment_ops == 0 and mild.rotation > 0


@pytest.mark.parametrize("overrides, key", [
    (["trainer.strong_view=mild"], "trainer.strong_view"),  # supervised: no strong view
    (["trainer.strong_view=mild", "trainer.randaugment_ops=3", "trainer.semi_supervised=consistency"],
     "trainer.randaugment_ops"),
    (["trainer.strong_view=heavy", "trainer.semi_supervised=consistency"], "trainer.strong_view"),
    (["trainer.randaugment_ops=0", "trainer.semi_supervised=consistency"], "trainer.randaugment_ops"),
])
def test_strong_view_options_that_cannot_apply_are_refused(overrides, key):
    with pytest.raises(ConfigError, match=key):
        validated(["data=digits", "data.label_fraction=0.2", *overrides])


def test_strong_view_options_are_accepted_with_consistency():
    config = validated(["data=digits", "data.label_fraction=0.2", "trainer.semi_supervised=consistency",
                        "trainer.strong_view=mild"])
    assert config.trainer.strong_view == "mild"
    assert validated(["data=digits", "data.label_fraction=0.2", "trainer.semi_supervised=consistency",
                      "trainer.randaugment_ops=3"]).trainer.randaugment_ops == 3
