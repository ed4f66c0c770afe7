"""Backbone + head: every family's model is a backbone (raw inputs to features) with a head on it.

Freezing trains the head only, ``init_from`` copies exactly the backbone, a pretext head shares
the backbone's variables, and each family's model reloads in Keras safe mode (also from a file
saved before backbones were part of the model) with a ``get_config()`` that round-trips.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from bmrun.models import backbone, features, with_head  # noqa: E402
from bmrun.models.base import BasicModel  # noqa: E402

IMAGE = dict(input_shape=(8, 8, 1), input_kind="image", input_mean=4.0, input_variance=9.0)
TABLE_COLUMNS = {"numeric": [{"name": "age", "mean": 40.0, "variance": 100.0, "indicator": True}],
                 "categorical": [{"name": "city", "vocabulary": ["", "lyon", "oslo"]}]}
TEXT_COLUMNS = {"text": {"name": "review", "vocabulary": ["good", "bad", "film"], "max_len": 6}}
FAMILIES = {
    "linear": lambda: BasicModel("linear", **IMAGE, num_outputs=3),
    "mlp": lambda: BasicModel("mlp", **IMAGE, num_outputs=3, hidden_dims=[8], dropout_rate=0.0),
    "cnn": lambda: BasicModel("cnn", **IMAGE, num_outputs=3, filters=[4], hidden_dims=[8], batch_norm=True),
    "rnn": lambda: BasicModel("rnn", **IMAGE, num_outputs=3, hidden_dim=4),
    "transformer": lambda: BasicModel("transformer", **IMAGE, num_outputs=3, num_layers=1, num_heads=2,
                                      hidden_dim=8, intermediate_dim=8, patch_size=4),
    "mlp_table_regression": lambda: BasicModel("mlp", input_shape=(2,), input_kind="table", num_outputs=1,
                                               columns=TABLE_COLUMNS, target_mean=5.0, target_std=2.0,
                                               hidden_dims=[8]),
    "linear_text": lambda: BasicModel("linear", input_shape=(6,), input_kind="text", vocab_size=5,
                                      num_outputs=1, columns=TEXT_COLUMNS),
    "factorization": lambda: _recommender("factorization", dim=4),
    "two_tower": lambda: _recommender("two_tower", dim=4, hidden_dims=[8]),
    "plugin": lambda: _plugin_model(),
}


def _recommender(family, **arguments):
    from bmrun.models.recommender import RecommenderModel

    return RecommenderModel(family, user_ids=["u1", "u2", "u3"], item_ids=["i1", "i2"], target_mean=3.5,
                            target_std=1.0, rating_range=[1.0, 5.0], **arguments)


def _plugin_model():
    """A plugin's model: the plugin protocol's plain functional model, its head its last Dense."""
    inputs = keras.Input((8, 8, 1), name="inputs")
    x = keras.layers.Conv2D(4, 3, name="stem")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="plugin")


def _examples(name):
    rng = np.random.default_rng(0)
    if name == "mlp_table_regression":
        return {"age": np.array([30.0, np.nan, 55.0, 41.0], np.float32),
                "city": np.array(["lyon", "oslo", "", "rome"])}
    if name == "linear_text":
        return np.array(["good film", "bad film", "", "good good bad"])
    if name in ("factorization", "two_tower"):
        return np.array([["u1", "i1"], ["u2", "i2"], ["u3", "i1"], ["u9", "i2"]])
    return rng.uniform(0, 16, (4, 8, 8, 1)).astype(np.float32)


def _predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _values(layers) -> list:
    return [np.array(w) for layer in layers for w in layer.get_weights()]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_has_a_backbone_whose_output_the_head_reads(name):
    model = FAMILIES[name]()
    body = backbone(model)
    assert isinstance(body, keras.Model) and body is not model
    assert all(layer in model.layers for layer in body.layers)  # its layers are the model's own
    out = keras.ops.convert_to_numpy(body(_examples(name), training=False))
    assert out.shape[0] == 4 and np.isfinite(out).all()
    assert features(model) is body.output
    assert len(body.layers) < len(model.layers)  # the head is not part of it


@pytest.mark.parametrize("name", [n for n in FAMILIES if n != "plugin"])
def test_get_config_round_trips_and_the_clone_has_the_same_backbone(name):
    model = FAMILIES[name]()
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert [(w.path, tuple(w.shape)) for w in clone.backbone.weights] == \
        [(w.path, tuple(w.shape)) for w in model.backbone.weights]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_keras_file_reloads_in_safe_mode_with_its_backbone(name, tmp_path):
    model = FAMILIES[name]()
    path = tmp_path / "model.keras"
    model.save(str(path))
    loaded = keras.saving.load_model(str(path), safe_mode=True)
    x = _examples(name)
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=0, atol=1e-6)
    for mine, theirs in zip(_values(backbone(loaded).layers), _values(backbone(model).layers)):
        np.testing.assert_array_equal(mine, theirs)


def _without_backbone_group(path, out):
    """The ``.keras`` file as bmrun wrote it before backbones: no ``backbone`` weights group."""
    import h5py

    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            data = source.read(item)
            if item == "model.weights.h5":
                buffer = io.BytesIO(data)
                with h5py.File(buffer, "a") as weights:
                    assert "backbone" in weights
                    del weights["backbone"]
                data = buffer.getvalue()
            target.writestr(item, data)


@pytest.mark.parametrize("name", ["cnn", "two_tower"])
def test_a_file_saved_before_backbones_still_loads_with_the_same_weights(name, tmp_path):
    model = FAMILIES[name]()
    model.save(str(tmp_path / "new.keras"))
    _without_backbone_group(tmp_path / "new.keras", tmp_path / "old.keras")
    loaded = keras.saving.load_model(str(tmp_path / "old.keras"), safe_mode=True)
    x = _examples(name)
    np.testing.assert_allclose(_predict(loaded, x), _predict(model, x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["cnn", "mlp_table_regression", "plugin"])
def test_freezing_trains_the_head_only(name):
    """One optimizer step on a frozen model: every backbone weight (batch norm statistics too) stays."""
    from bmrun.models.transfer import freeze_backbone

    model = FAMILIES[name]()
    freeze_backbone(model)
    body_before = _values(backbone(model).layers)
    head_before = [np.array(v) for v in model.trainable_variables]
    optimizer = keras.optimizers.SGD(0.5)
    x, y = _examples(name), np.ones((4, int(model.output_shape[-1])), np.float32)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean((model(x, training=True) - y) ** 2)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    for before, after in zip(body_before, _values(backbone(model).layers)):
        np.testing.assert_array_equal(before, after)
    assert all(v.path.startswith("head/") for v in model.trainable_variables)
    assert any(np.abs(before - np.array(v)).max() > 0 for before, v in zip(head_before, model.trainable_variables))


@pytest.mark.parametrize("name", ["cnn", "plugin"])
def test_init_from_copies_exactly_the_backbone(name):
    from bmrun.models.transfer import copy_matching_weights

    keras.utils.set_random_seed(1)
    source = FAMILIES[name]()
    keras.utils.set_random_seed(2)
    target = FAMILIES[name]()
    report = copy_matching_weights(source, target, "source", keep_head=False)
    assert report.mismatched == ["head"] and not report.missing
    for mine, theirs in zip(_values(backbone(target).layers), _values(backbone(source).layers)):
        np.testing.assert_array_equal(mine, theirs)
    assert not any(w.any() for w in target.get_layer("head").get_weights())  # a new head starts at zero


def test_init_from_pairs_layers_by_structure_not_by_name():
    """A renamed backbone layer is still copied; a layer of another kind at its place is not."""
    from bmrun.models.transfer import copy_matching_weights

    source = _plugin_model()
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, name="renamed_stem")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    target = keras.Model(inputs, keras.layers.Dense(3, name="classifier")(x))
    report = copy_matching_weights(source, target, "source")
    assert report.copied == ["renamed_stem", "classifier"]
    np.testing.assert_array_equal(target.get_layer("renamed_stem").get_weights()[0],
                                  source.get_layer("stem").get_weights()[0])


@pytest.mark.parametrize("name", ["cnn", "plugin"])
def test_a_pretext_head_shares_the_backbone_variables(name):
    model = FAMILIES[name]()
    pretext = with_head(model, lambda f: keras.layers.Dense(5, name="projection")(f), name="pretext")
    shared = {id(v) for v in backbone(model).weights}
    assert shared and shared <= {id(v) for v in pretext.weights}
    assert "head" not in [layer.name for layer in pretext.layers]
    # Training the pretext model moves the classifier's backbone: one set of variables.
    before = _predict(backbone(model), _examples(name))
    optimizer = keras.optimizers.SGD(0.5)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(pretext(_examples(name), training=True) ** 2)
    variables = [v for v in pretext.trainable_variables if id(v) in shared]
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    assert np.abs(_predict(backbone(model), _examples(name)) - before).max() > 0
    both = with_head(model, lambda f: keras.layers.Dense(2, name="extra")(f), keep_outputs=True)
    assert [tuple(t.shape) for t in both.outputs] == [(None, 3), (None, 2)]


def test_checkpoints_keep_a_flat_models_variable_paths(tmp_path):
    """The backbone is not tracked twice: a training checkpoint names each variable once, under
    the model's own layers, and restores exactly into a freshly built model."""
    keras.utils.set_random_seed(1)
    model = FAMILIES["cnn"]()
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(path).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    assert not any("backbone" in child.local_name for node in graph.nodes for child in node.children)
    keras.utils.set_random_seed(2)
    fresh = FAMILIES["cnn"]()
    tf.train.Checkpoint(model=fresh).read(path).assert_consumed()
    for mine, theirs in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
