"""FusedBatchNormalization: the same layer as Keras's BatchNormalization, one fused kernel."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from bmrun.models.batch_norm import FusedBatchNormalization  # noqa: E402


def _pair(shape, **kwargs):
    """A Keras and a fused layer with the same (non-trivial) weights."""
    keras_layer, fused = keras.layers.BatchNormalization(**kwargs), FusedBatchNormalization(**kwargs)
    channels = shape[-1] if kwargs.get("axis", -1) == -1 else shape[kwargs["axis"]]
    for layer in (keras_layer, fused):
        layer.build(shape)
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 2.0, channels).astype("float32"))
        if layer.center:
            layer.beta.assign(np.linspace(-1.0, 1.0, channels).astype("float32"))
    return keras_layer, fused


def _train_call(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2 * tf.range(1.0, y.shape[-1] + 1.0))
    grads = tape.gradient(loss, [x] + layer.trainable_weights)
    return y, grads


@pytest.mark.parametrize("kwargs", [{}, {"center": False, "scale": False}, {"momentum": 0.9, "epsilon": 1e-5}])
def test_fused_layer_equals_keras_in_training_and_inference(kwargs):
    x = np.random.RandomState(0).normal(3.0, 2.0, [16, 7, 7, 6]).astype("float32")
    keras_layer, fused = _pair(x.shape, **kwargs)
    for _ in range(3):  # the moving statistics move the same way, step after step
        y_keras, grads_keras = _train_call(keras_layer, x)
        y_fused, grads_fused = _train_call(fused, x)
        np.testing.assert_allclose(y_fused, y_keras, rtol=1e-5, atol=1e-5)
        for ours, theirs in zip(grads_fused, grads_keras):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(fused.moving_mean, keras_layer.moving_mean, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(fused.moving_variance, keras_layer.moving_variance, rtol=1e-5)
    np.testing.assert_allclose(fused(x, training=False), keras_layer(x, training=False), rtol=1e-5, atol=1e-5)


def test_fused_layer_runs_the_fused_kernel_and_falls_back_elsewhere():
    fused = FusedBatchNormalization()
    fused.build((None, 5, 5, 3))

    def ops_of(layer, x, training):
        graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)).graph
        return {op.type for op in graph.get_operations()}

    image = np.zeros([2, 5, 5, 3], "float32")
    assert "FusedBatchNormV3" in ops_of(fused, image, True)
    assert "FusedBatchNormV3" in ops_of(fused, image, False)
    rows = FusedBatchNormalization()  # a 2-D input is Keras's own path, with the same result
    rows.build((None, 3))
    assert "FusedBatchNormV3" not in ops_of(rows, np.zeros([4, 3], "float32"), True)
    x = np.random.RandomState(1).normal(size=[8, 3]).astype("float32")
    keras_rows = keras.layers.BatchNormalization()
    np.testing.assert_allclose(rows(x, training=True), keras_rows(x, training=True), rtol=1e-5, atol=1e-5)


def test_fused_layer_keeps_bfloat16_activations_and_round_trips_its_config():
    with _policy("mixed_bfloat16"):
        layer = FusedBatchNormalization(momentum=0.8, name="bn_0")
        y = layer(tf.cast(np.random.RandomState(2).normal(size=[4, 3, 3, 2]), tf.bfloat16), training=True)
    assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, FusedBatchNormalization) and clone.momentum == 0.8


class _policy:
    """Keras's global dtype policy for the duration of a ``with`` block."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.name)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.previous)


def test_deterministic_runs_on_a_gpu_keep_keras_ops(monkeypatch):
    """cuDNN's fused gradient is not deterministic: with op determinism and a GPU, Keras's path runs."""
    from bmrun.models import batch_norm

    layer = FusedBatchNormalization()
    layer.build((None, 4, 4, 2))

    def fused_ops(x):
        graph = tf.function(lambda t: layer(t, training=True)).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)).graph
        return "FusedBatchNormV3" in {op.type for op in graph.get_operations()}

    image = np.ones([2, 4, 4, 2], "float32")
    monkeypatch.setattr(batch_norm, "_deterministic_ops", lambda: True)
    assert fused_ops(image)  # deterministic on the CPU: still fused
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
    assert not fused_ops(image)
