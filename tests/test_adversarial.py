"""Adversarial training and robust accuracy: attacks respect their budget, training uses them."""

from __future__ import annotations

import numpy as np
import pytest

from bmrun.errors import ConfigError
from conftest import train_in_process, validated


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small CNN trained on digits, its loss and a batch of test images (raw pixels)."""
    import tensorflow as tf

    from bmrun.models.loading import load_run_model
    from bmrun.training.losses import make_loss

    run_dir = tmp_path_factory.mktemp("clean")
    train_in_process(run_dir, ["trainer.max_epochs=3"])
    model = load_run_model(run_dir, "test")
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = tf.constant(np.round(digits.images[:64] * 255 / 16)[..., None], tf.float32)
    y = tf.constant(digits.target[:64], tf.int32)
    return model, make_loss("cross_entropy", num_classes=10), x, y


def test_fgsm_stays_in_budget_and_raises_the_loss(trained):
    from bmrun.training.adversarial import fgsm

    model, loss_fn, x, y = trained
    x_adv = fgsm(model, loss_fn, x, y, 0.1).numpy()
    assert np.abs(x_adv - x.numpy()).max() <= 0.1 * 255 + 1e-3
    assert x_adv.min() >= 0 and x_adv.max() <= 255
    clean = float(np.mean(loss_fn(y, model(x, training=False))))
    attacked = float(np.mean(loss_fn(y, model(x_adv, training=False))))
    assert attacked > clean


def test_pgd_is_seeded_projected_and_stronger_than_fgsm(trained):
    import tensorflow as tf

    from bmrun.training.adversarial import fgsm, pgd

    model, loss_fn, x, y = trained
    seed = tf.constant([3, 4])
    a = pgd(model, loss_fn, x, y, 0.1, 5, 0.03, seed).numpy()
    b = pgd(model, loss_fn, x, y, 0.1, 5, 0.03, seed).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - x.numpy()).max() <= 0.1 * 255 + 1e-3
    loss = lambda images: float(np.mean(loss_fn(y, model(images, training=False))))  # noqa: E731
    assert loss(a) >= loss(fgsm(model, loss_fn, x, y, 0.1)) * 0.95


def test_mix_replaces_the_requested_share():
    import tensorflow as tf

    from bmrun.training.adversarial import mix

    mixed = mix(tf.zeros([10, 2, 2, 1]), tf.ones([10, 2, 2, 1]), 0.3).numpy()
    assert mixed.reshape(10, -1).max(axis=1).tolist() == [1.0] * 3 + [0.0] * 7


ROBUST = ["trainer.max_epochs=4", "optimizer.lr=0.003", "trainer.adv_eval_epsilon=0.1", "trainer.adv_steps=2",
          "trainer.adv_fraction=1.0", "trainer.deterministic=true", "logger.tensorboard=false"]


@pytest.fixture(scope="module")
def normally_trained(tmp_path_factory):
    """The same CNN, budget and robust-accuracy check, trained without adversarial examples."""
    return train_in_process(tmp_path_factory.mktemp("normal"), [*ROBUST, "trainer.adversarial=none"])["test"]


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_adversarial_training_beats_normal_training_under_attack(tmp_path, normally_trained, attack):
    """Measured (digits, seeds 0-2): robust accuracy 0.64-0.68 trained normally, 0.74-0.78 with
    FGSM and 0.73-0.74 with PGD examples, while clean accuracy stays within ~3 points."""
    test = train_in_process(tmp_path, [*ROBUST, f"trainer.adversarial={attack}"])["test"]
    assert test["adv_epsilon"] == normally_trained["adv_epsilon"] == 0.1
    assert normally_trained["adv_accuracy"] < normally_trained["accuracy"] - 0.1  # the attack does hurt
    assert test["adv_accuracy"] > normally_trained["adv_accuracy"] + 0.04, (test, normally_trained)
    assert test["accuracy"] > 0.85


def test_adversarial_needs_image_classification():
    with pytest.raises(ConfigError, match="image classification"):
        validated(["data=diabetes", "model=linear", "trainer.adversarial=fgsm"])
    with pytest.raises(ConfigError, match="trainer.adv_eval_epsilon"):
        validated(["data=breast_cancer", "model=linear", "trainer.adv_eval_epsilon=0.1"])
