"""trainer.similarity_weight: SimMatch's label bank, neighbour votes and instance loss."""

from __future__ import annotations

import numpy as np
import pytest

from bmrun.errors import ConfigError
from conftest import assert_same_results, resume_in_process, train_in_process, validated

SIMMATCH = ["data=digits", "data.limit=400", "data.batch_size=32", "trainer.max_epochs=4",
            "trainer.deterministic=true", "data.label_fraction=0.2", "trainer.unlabeled_ratio=2", "augment.shift=1",
            "trainer.semi_supervised=consistency", "trainer.confidence_threshold=0.2", "model.batch_norm=true"]


def _bank(embeddings, labels, num_classes=2):
    import tensorflow as tf

    from bmrun.training.similarity import LabelBank

    bank = LabelBank(len(labels), len(embeddings[0]), num_classes)
    bank.push(tf.constant(embeddings, tf.float32), tf.constant(labels))
    return bank


def test_label_bank_is_a_ring_buffer_ready_after_one_pass():
    import tensorflow as tf

    from bmrun.training.similarity import LabelBank

    bank = LabelBank(4, 2, 3)
    bank.push(tf.ones([3, 2]), tf.constant([0, 1, 2]))
    assert float(bank.ready()) == 0.0  # one slot still holds no embedding
    bank.push(tf.fill([2, 2], 2.0), tf.constant([1, 1]))  # fills slot 3, then overwrites slot 0
    assert float(bank.ready()) == 1.0
    assert bank.labels.numpy().tolist() == [1, 1, 2, 1]
    assert bank.embeddings.numpy()[:, 0].tolist() == [2.0, 1.0, 1.0, 2.0]


def test_neighbours_vote_on_the_pseudo_label_and_the_instance_loss_wants_the_same_neighbours():
    import tensorflow as tf

    from bmrun.training.similarity import match

    # Two labeled images per class; class 0 points along x, class 1 along y.
    bank = _bank([[1, 0], [1, 0], [0, 1], [0, 1]], [0, 0, 1, 1])
    unsure = tf.constant([[0.5, 0.5]])  # the classifier cannot tell
    near_class_1 = tf.constant([[0.0, 1.0]])
    mixed, loss = match(bank, unsure, near_class_1, near_class_1, temperature=0.1, neighbour_weight=0.5)
    assert mixed.numpy()[0, 1] == pytest.approx(0.75, abs=1e-3)  # half classifier, half the neighbours' vote
    np.testing.assert_allclose(mixed.numpy().sum(), 1.0, rtol=1e-6)
    # A strong view embedded among the other class's images costs more than one among the same ones.
    _, far = match(bank, unsure, near_class_1, tf.constant([[1.0, 0.0]]), temperature=0.1, neighbour_weight=0.5)
    assert float(far[0]) > float(loss[0]) + 5.0
    # The classifier's belief reweights the instance target: a confident class-0 prediction makes
    # the class-0 neighbours the target even for a weak view halfway between.
    between = tf.math.l2_normalize(tf.constant([[1.0, 1.0]]), axis=-1)
    _, toward_0 = match(bank, tf.constant([[0.99, 0.01]]), between, tf.constant([[1.0, 0.0]]), temperature=0.1,
                        neighbour_weight=0.5)
    _, toward_1 = match(bank, tf.constant([[0.99, 0.01]]), between, tf.constant([[0.0, 1.0]]), temperature=0.1,
                        neighbour_weight=0.5)
    assert float(toward_0[0]) < float(toward_1[0])


def test_similarity_waits_for_a_full_bank():
    import tensorflow as tf

    from bmrun.training.similarity import LabelBank, match

    bank = LabelBank(8, 2, 2)
    bank.push(tf.constant([[0.0, 1.0]]), tf.constant([1]))  # 1 of 8 slots written
    probabilities = tf.constant([[0.7, 0.3]])
    mixed, loss = match(bank, probabilities, tf.constant([[0.0, 1.0]]), tf.constant([[1.0, 0.0]]), temperature=0.1,
                        neighbour_weight=0.5)
    np.testing.assert_allclose(mixed.numpy(), probabilities.numpy(), rtol=1e-6)
    assert float(loss[0]) == 0.0


def test_projection_shares_the_classifier_layers_and_embeds_on_the_unit_sphere():
    import keras

    from bmrun.training.similarity import with_projection

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    # tanh, not relu: with random weights a relu layer can zero every feature of a row, and the
    # zero vector has no direction to normalise (the test then failed depending on the draw).
    features = keras.layers.Dense(6, activation="tanh", name="features")(inputs)
    classifier = keras.Model(inputs, keras.layers.Dense(3, name="head")(features))
    embedder = with_projection(classifier, dims=(4,))
    logits, embedding = embedder(np.random.default_rng(0).normal(size=(5, 8)).astype("float32"))
    assert tuple(logits.shape) == (5, 3) and tuple(embedding.shape) == (5, 4)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(embedding), axis=1), 1.0, rtol=1e-5)
    shared = {id(v) for v in classifier.trainable_variables}
    assert shared < {id(v) for v in embedder.trainable_variables}  # the classifier's weights, plus the head's


def test_simmatch_run_logs_its_loss_changes_training_and_resumes_exactly(tmp_path):
    """The bank travels in the checkpoint, so a resumed run ends where an uninterrupted one does;
    model/ is the classifier alone (bmrun-eval and -predict read it as any run's)."""
    import keras

    simmatch = [*SIMMATCH, "trainer.similarity_weight=1.0", "trainer.neighbour_weight=0.3"]
    plain = train_in_process(tmp_path / "plain", SIMMATCH)
    reference = train_in_process(tmp_path / "reference", simmatch)
    assert reference["train"]["similarity_loss"] > 0 and "similarity_loss" not in plain["train"]
    assert reference["train"]["pseudo_label_accuracy"] != plain["train"]["pseudo_label_accuracy"]  # other targets
    assert reference["train"]["loss"] != plain["train"]["loss"]
    exported = keras.models.load_model(tmp_path / "reference" / "model" / "model.keras")
    assert len(exported.outputs) == 1 and not any("similarity" in layer.name for layer in exported.layers)
    first = train_in_process(tmp_path / "resumed", [*simmatch, "trainer.max_epochs=2"])
    assert first["epochs"] == 2
    assert_same_results(resume_in_process(tmp_path / "resumed", ["trainer.max_epochs=4"]), reference)


@pytest.mark.parametrize("override, key", [
    ("trainer.similarity_weight=-1", "trainer.similarity_weight"),
    ("trainer.similarity_temperature=0", "trainer.similarity_temperature"),
    ("trainer.neighbour_weight=1.5", "trainer.neighbour_weight"),
])
def test_bad_similarity_settings_are_refused_in_one_line(override, key):
    with pytest.raises(ConfigError, match=key):
        validated(["data=digits", override])


@pytest.mark.parametrize("overrides, words", [
    (["trainer.similarity_weight=1"], "only applies to semi-supervised training"),
    (["trainer.similarity_weight=1", "trainer.semi_supervised=pseudo_label", "data.label_fraction=0.2"],
     "use trainer.semi_supervised=consistency"),
])
def test_similarity_without_a_strong_view_is_refused(overrides, words):
    with pytest.raises(ConfigError, match=rf"^trainer.similarity_weight: .*{words}"):
        validated(["data=digits", *overrides])
