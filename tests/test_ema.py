"""optimizer.ema_decay: a moving average of the weights is validated, tested and exported."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import train_in_process, validated

SHORT = ["model=cnn", "model.filters=[8]", "model.hidden_dims=[16]", "data.limit=400", "logger=none",
         "trainer.deterministic=true", "seed=2"]


def test_average_follows_the_formula_with_its_warm_up():
    import keras
    import tensorflow as tf

    from bmrun.training.ema import WeightAverage

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    kernel = model.layers[0].kernel
    kernel.assign([[1.0], [1.0]])
    average = WeightAverage(model, decay=0.9)
    expected = np.ones((2, 1))
    for step, value in enumerate([3.0, 5.0, 7.0, 9.0], start=1):
        kernel.assign([[value], [value]])
        average.update(tf.constant(step))
        decay = min(0.9, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
        np.testing.assert_allclose(average.variables[0].numpy(), expected, rtol=1e-6)
    with average.swapped_in():
        np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(kernel.numpy(), 9.0)  # the raw weights come back
    average.copy_to_model()
    np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-6)


def test_the_exported_model_is_the_average_and_the_checkpoint_keeps_both(tmp_path):
    import keras
    import tensorflow as tf

    metrics = train_in_process(tmp_path, [*SHORT, "trainer.max_epochs=2", "optimizer.ema_decay=0.9"])
    assert metrics["status"] == "completed" and metrics["test"]["accuracy"] > 0.3
    exported = keras.saving.load_model(tmp_path / "model" / "model.keras", compile=False)
    reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints"))
    names = reader.get_variable_to_shape_map()
    averages = sorted((n for n in names if n.startswith("ema_variables/")), key=lambda n: int(n.split("/")[1]))
    raw = sorted((n for n in names if n.startswith("model_variables/")), key=lambda n: int(n.split("/")[1]))
    floating = [w for w in exported.weights if tf.as_dtype(w.dtype).is_floating]
    assert len(averages) == len(floating) > 0
    for weight, name in zip(floating, averages):
        np.testing.assert_allclose(weight.numpy(), reader.get_tensor(name), rtol=1e-6)
    kernel = [w for w in exported.weights if w.path.endswith("kernel")][0]
    raw_kernels = [reader.get_tensor(n) for n in raw if reader.get_tensor(n).shape == tuple(kernel.shape)]
    assert not any(np.allclose(kernel.numpy(), r) for r in raw_kernels), "exported the raw weights"


def test_averaged_run_evaluates_differently_and_resumes_exactly(tmp_path):
    from bmrun.config import validate
    from bmrun.config.resume import config_for_resume
    from bmrun.training.train import train

    common = [*SHORT, "data.val_fraction=0.2", "optimizer.lr=0.01"]
    plain = train_in_process(tmp_path / "plain", [*common, "trainer.max_epochs=2"])
    reference = train_in_process(tmp_path / "reference", [*common, "trainer.max_epochs=2", "optimizer.ema_decay=0.8"])
    assert reference["train"]["loss"] == plain["train"]["loss"]  # training itself is unchanged...
    assert reference["val"] != plain["val"] and reference["test"] != plain["test"]  # ...what is evaluated is not
    first = train_in_process(tmp_path / "resumed", [*common, "trainer.max_epochs=1", "optimizer.ema_decay=0.8"])
    assert first["epochs"] == 1
    config = validate(config_for_resume(tmp_path / "resumed", ["trainer.max_epochs=2"])[0])
    resumed = train(config, tmp_path / "resumed")
    assert resumed["test"] == reference["test"] and resumed["val"] == reference["val"]


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_decay_outside_the_unit_interval_is_refused(value):
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError, match="ema_decay"):
        validated([f"optimizer.ema_decay={value}"])
