"""The compiled loop: no retracing, precision and XLA switches that train correctly on CPU."""

from __future__ import annotations

import math

import pytest

from conftest import train_in_process

SHORT = ["model=cnn", "trainer.max_epochs=3", "data.limit=600"]


def test_one_trace_per_function_whatever_the_call_sizes(tmp_path):
    # 540 train examples / 32 = 17 steps per epoch: calls of 5, 5, 5 and 2 steps, three epochs.
    metrics = train_in_process(tmp_path, [*SHORT, "data.batch_size=32", "trainer.steps_per_call=5"])
    assert metrics["traces"] == {"train": 1, "eval": 1}


def test_fused_and_unfused_steps_train_identically(tmp_path):
    common = [*SHORT, "trainer.deterministic=true", "seed=4"]
    fused = train_in_process(tmp_path / "fused", [*common, "trainer.steps_per_call=9"])
    single = train_in_process(tmp_path / "single", [*common, "trainer.steps_per_call=1"])
    assert fused["test"] == single["test"]


def test_metrics_report_speed_and_compile_time(tmp_path):
    import csv

    metrics = train_in_process(tmp_path, [*SHORT, "data.batch_size=32", "trainer.steps_per_call=4"])
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    rate = metrics["train"]["samples_per_s"]
    # The median of the epochs' rates (each epoch's own rate is in history.csv).
    assert rate == pytest.approx(sorted(float(r["samples_per_s"]) for r in rows)[1], rel=1e-5)
    steady_call_s = 4 * 32 / rate  # one compiled call of 4 steps, once traced
    # A fresh run traces and optimises its step: that first call costs far more than a steady
    # one, and what is left after subtracting the call's own work is positive (not clamped to 0).
    assert math.isfinite(metrics["compile_s"]) and metrics["compile_s"] > max(steady_call_s, 0.01)
    assert metrics["compile_s"] < metrics["duration_s"]
    assert metrics["traces"] == {"train": 1, "eval": 1}
    # Where the wall time went: consecutive phases that add up to (almost) all of duration_s
    # (which ends before the export), training holding the compile; start-up is the process's
    # age when training code began.
    timings = metrics["timings"]
    phases = ("device_s", "build_s", "train_s", "test_s")
    assert set(phases) | {"export_s"} <= set(timings) and all(timings[k] >= 0 for k in timings)
    assert sum(timings[k] for k in phases) <= metrics["duration_s"] <= sum(timings[k] for k in phases) + 2.0
    assert timings["train_s"] > metrics["compile_s"]
    from bmrun.runtime.clock import process_age_s

    assert 0 < timings["startup_s"] < process_age_s()  # in-process tests: the test process's age at the run's start


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_on_cpu(tmp_path, precision):
    metrics = train_in_process(tmp_path, [*SHORT, "trainer.max_epochs=4", f"device.precision={precision}"])
    assert metrics["status"] == "completed" and math.isfinite(metrics["train"]["loss"])
    assert metrics["test"]["accuracy"] > 0.8
    import keras

    model = keras.saving.load_model(str(tmp_path / "model" / "model.keras"))
    assert model.get_layer("conv_0").dtype_policy.name == precision
    assert model.get_layer("head").dtype_policy.name == "float32"  # logits and loss in full precision
    keras.mixed_precision.set_global_policy("float32")


def test_float16_uses_loss_scaling(tmp_path):
    import keras

    from bmrun.training.optim import make_optimizer
    from conftest import validated

    config = validated(["device.precision=mixed_float16"])
    optimizer = make_optimizer(config.optimizer, total_steps=10, steps_per_epoch=5, precision="mixed_float16")
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)


def test_xla_step_trains_on_cpu_like_the_plain_step(tmp_path):
    common = [*SHORT, "trainer.max_epochs=4", "seed=2"]
    xla = train_in_process(tmp_path / "xla", [*common, "device.xla=true"])
    plain = train_in_process(tmp_path / "plain", common)
    assert xla["status"] == "completed" and "XLA" in xla["device"]
    assert abs(xla["test"]["accuracy"] - plain["test"]["accuracy"]) < 0.05
    assert xla["test"]["accuracy"] > 0.7


def test_l2_penalty_shrinks_kernels(tmp_path):
    import keras
    import numpy as np

    def kernel_norm(run_dir):
        model = keras.saving.load_model(str(run_dir / "model" / "model.keras"))
        return float(np.sum(np.square(model.get_layer("head").get_weights()[0])))

    common = ["model=linear", "trainer.max_epochs=3", "seed=1", "optimizer=sgd", "optimizer.lr=0.05",
              "optimizer.momentum=0", "optimizer.nesterov=false"]
    train_in_process(tmp_path / "plain", common)
    train_in_process(tmp_path / "l2", [*common, "loss.l2=0.05"])
    assert kernel_norm(tmp_path / "l2") < 0.75 * kernel_norm(tmp_path / "plain")


def test_precision_auto_picks_bf16_only_where_the_cpu_multiplies_it(monkeypatch, tmp_path):
    from bmrun.runtime import device

    amd = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
    intel = "flags\t\t: fpu avx512f amx_bf16 amx_tile\n"
    old = "flags\t\t: fpu sse2 avx2 fma\n"
    assert device.cpu_has_bf16(amd) and device.cpu_has_bf16(intel) and not device.cpu_has_bf16(old)
    for explicit in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert device.resolve_precision(explicit, "cpu") == explicit  # a choice is taken as given
    monkeypatch.setattr(device, "cpu_has_bf16", lambda cpuinfo=None: False)
    assert device.resolve_precision("auto", "cpu") == "float32"
    monkeypatch.setattr(device, "cpu_has_bf16", lambda cpuinfo=None: True)
    assert device.resolve_precision("auto", "cpu") == "mixed_bfloat16"
    metrics = train_in_process(tmp_path, [*SHORT, "device.precision=auto"])
    assert metrics["status"] == "completed"
    assert metrics["device"].endswith("mixed_bfloat16 (device.precision=auto)")
    import keras

    keras.mixed_precision.set_global_policy("float32")


def test_resident_training_and_evaluation_need_no_autograph(tmp_path, monkeypatch):
    # Converting a function costs 0.05-0.1 s of every start-up: the resident loops are written
    # as graph loops (fold_range), so nothing of bmrun's should pass through AutoGraph.
    from tensorflow.python.autograph.impl import api

    converted = []
    original = api._convert_actual

    def spy(entity, program_ctx):
        converted.append(f"{getattr(entity, '__module__', '')}.{getattr(entity, '__qualname__', '')}")
        return original(entity, program_ctx)

    monkeypatch.setattr(api, "_convert_actual", spy)
    metrics = train_in_process(tmp_path, [*SHORT, "trainer.max_epochs=1", "augment=standard",
                                          "logger.saved_model=true"])
    assert metrics["test"]["accuracy"] > 0.3
    assert converted, "the spy saw nothing (Keras's export signature is still converted)"
    assert [name for name in converted if name.startswith("bmrun.")] == []


def test_fold_range_is_a_python_loop_in_the_graph():
    import tensorflow as tf

    from bmrun.training.steps import fold_range

    squares = tf.function(lambda n: fold_range(n, lambda i, s: s + i * i, tf.constant(0)), autograph=False)
    assert int(squares(tf.constant(5))) == 0 + 1 + 4 + 9 + 16
    assert int(squares(tf.constant(0))) == 0
