"""Options no other test touches, each checked by a measurable consequence: learning-rate
schedules, label smoothing, gradient clipping, weight decay, batch norm, shuffling, input
normalisation and thread pools. Every check compares against the same run without the option
(or a bound the option alone makes true), so an option that silently stopped working fails here.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import load_metrics, train_in_process

LINEAR = ["model=linear", "data.limit=200", "logger.tensorboard=false", "trainer.deterministic=true"]


def _history(run_dir: Path) -> list[dict]:
    with open(Path(run_dir) / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _saved_model(run_dir: Path):
    """The run's exported ``model/model.keras`` (the artifact users load), in safe mode."""
    from bmrun.models.loading import load_run_model

    return load_run_model(run_dir, "test")


def _weights(run_dir: Path) -> list[np.ndarray]:
    return [np.asarray(w) for w in _saved_model(run_dir).trainable_weights]


# ----------------------------------------------------------------------------- learning-rate schedules
LR, EPOCHS = 0.01, 6


def _cosine(progress: float, floor: float) -> float:
    return LR * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def _linear(progress: float, floor: float) -> float:
    return LR * (1 - (1 - floor) * progress)


# schedule overrides, warm-up epochs, the decay after warm-up (None = constant), min_lr_ratio
SCHEDULES = {
    "constant": (["optimizer.schedule=constant"], 0, None, 1.0),
    "cosine": (["optimizer.schedule=cosine", "optimizer.min_lr_ratio=0.1"], 0, _cosine, 0.1),
    "cosine_to_zero": (["optimizer.schedule=cosine"], 0, _cosine, 0.0),
    "linear": (["optimizer.schedule=linear", "optimizer.min_lr_ratio=0.25"], 0, _linear, 0.25),
    "warmup_cosine": (["optimizer.schedule=warmup_cosine", "optimizer.warmup_epochs=2", "optimizer.min_lr_ratio=0.1"],
                      2, _cosine, 0.1),
    "linear_with_warmup": (["optimizer.schedule=linear", "optimizer.warmup_epochs=2", "optimizer.min_lr_ratio=0.1"],
                           2, _linear, 0.1),
    "constant_with_warmup": (["optimizer.schedule=constant", "optimizer.warmup_epochs=2"], 2, None, 1.0),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_learning_rate_in_history_follows_the_schedule(tmp_path, name):
    overrides, warmup_epochs, decay, floor = SCHEDULES[name]
    train_in_process(tmp_path, [*LINEAR, f"trainer.max_epochs={EPOCHS}", f"optimizer.lr={LR}", *overrides])
    rows = _history(tmp_path)
    steps = [int(r["step"]) for r in rows]
    lrs = [float(r["learning_rate"]) for r in rows]
    assert len(lrs) == EPOCHS and steps == [steps[0] * (i + 1) for i in range(EPOCHS)]
    total, warmup = steps[-1], steps[0] * warmup_epochs
    for step, lr in zip(steps, lrs):
        if step < warmup:  # linear ramp towards the peak (either end of the step counts as "at" it)
            assert LR * step / warmup * (1 - 1e-4) <= lr <= LR * (step + 1) / warmup * (1 + 1e-4), (step, lrs)
        elif decay is None:
            assert lr == pytest.approx(LR, rel=1e-4), (step, lrs)
        else:
            assert lr == pytest.approx(decay((step - warmup) / (total - warmup), floor), rel=1e-4, abs=1e-9), \
                (step, lrs)
    if warmup:
        assert lrs[0] < lrs[1] == pytest.approx(LR, rel=1e-4)  # rises to the peak over the warm-up
    if decay is not None:
        assert all(a > b for a, b in zip(lrs[warmup_epochs:], lrs[warmup_epochs + 1:]))  # then decays
        assert lrs[-1] == pytest.approx(floor * LR, rel=1e-4, abs=1e-9)  # down to min_lr_ratio * lr


def test_schedule_changes_training_not_only_the_logged_number(tmp_path):
    common = [*LINEAR, "trainer.max_epochs=3", "optimizer.lr=0.05"]
    constant = train_in_process(tmp_path / "constant", common)
    cosine = train_in_process(tmp_path / "cosine", [*common, "optimizer.schedule=cosine"])
    assert constant["train"]["loss"] != cosine["train"]["loss"]
    assert constant["test"] != cosine["test"]


# ----------------------------------------------------------------------------- label smoothing
def _smoothed_entropy(epsilon: float, classes: int) -> float:
    """Entropy of smoothed one-hot targets: the least cross-entropy any prediction can reach."""
    hit = 1 - epsilon + epsilon / classes
    miss = epsilon / classes
    return -(hit * math.log(hit) + (classes - 1) * miss * math.log(miss))


@pytest.mark.parametrize("data, classes", [("digits", 10), ("breast_cancer", 2)])
def test_label_smoothing_puts_a_floor_under_the_training_loss(tmp_path, data, classes):
    """Cross-entropy against smoothed targets is at least their entropy (Gibbs), however well the
    model fits; the same run without smoothing goes below that floor."""
    epsilon = 0.3
    common = ["model=linear", f"data={data}", "trainer.max_epochs=4", "optimizer.lr=0.02", "logger.tensorboard=false",
              "trainer.deterministic=true"]
    plain = train_in_process(tmp_path / "plain", common)
    smooth = train_in_process(tmp_path / "smooth", [*common, f"loss.label_smoothing={epsilon}"])
    floor = _smoothed_entropy(epsilon, classes)
    assert plain["train"]["loss"] < floor - 0.1, (plain["train"], floor)
    for row in _history(tmp_path / "smooth"):
        assert float(row["train_loss"]) >= floor - 1e-4, (row, floor)
    # Smoothing changes the targets only: the model still learns to classify.
    assert smooth["test"]["accuracy"] > 0.8


# ----------------------------------------------------------------------------- gradient clipping
# Plain SGD, so one step moves the weights by exactly lr * (clipped) gradient.
SGD = [*LINEAR, "optimizer=sgd", "optimizer.momentum=0", "optimizer.lr=0.5", "trainer.test_with=last"]


def _epoch_two_movement(root: Path, extra: list[str]) -> tuple[list[np.ndarray], int]:
    """The weight change over epoch 2 (runs of 1 and 2 epochs, identical up to the end of epoch 1)."""
    one = train_in_process(root / "one", [*SGD, *extra, "trainer.max_epochs=1"])
    train_in_process(root / "two", [*SGD, *extra, "trainer.max_epochs=2"])
    steps = int(_history(root / "one")[0]["step"])
    assert one["epochs"] == 1
    return [b - a for a, b in zip(_weights(root / "one"), _weights(root / "two"))], steps


def test_clip_norm_bounds_each_steps_update_by_lr_times_the_norm(tmp_path):
    clip = 1e-3
    clipped, steps = _epoch_two_movement(tmp_path / "clipped", [f"optimizer.clip_norm={clip}"])
    free, _ = _epoch_two_movement(tmp_path / "free", [])
    norm = lambda deltas: math.sqrt(sum(float(np.sum(np.square(d))) for d in deltas))  # noqa: E731
    bound = steps * 0.5 * clip
    assert norm(clipped) <= bound * (1 + 1e-3)
    assert norm(clipped) > 0.5 * bound  # large gradients: every step moves by the full clip
    assert norm(free) > 100 * bound


def test_clip_value_bounds_each_weights_update(tmp_path):
    clip = 1e-4
    clipped, steps = _epoch_two_movement(tmp_path / "clipped", [f"optimizer.clip_value={clip}"])
    free, _ = _epoch_two_movement(tmp_path / "free", [])
    largest = lambda deltas: max(float(np.abs(d).max()) for d in deltas)  # noqa: E731
    bound = steps * 0.5 * clip
    assert largest(clipped) <= bound * (1 + 1e-3)
    assert largest(clipped) > 0.5 * bound
    assert largest(free) > 100 * bound


def test_clip_norm_keeps_an_absurd_learning_rate_finite(tmp_path):
    """lr=1e30 diverges (test_reliability); clipped to norm 1e-29 each step moves by at most 10."""
    metrics = train_in_process(tmp_path, [*SGD, "optimizer.lr=1e30", "optimizer.clip_norm=1e-29",
                                          "trainer.max_epochs=2"])
    assert metrics["status"] == "completed"
    assert math.isfinite(metrics["train"]["loss"]) and math.isfinite(metrics["test"]["loss"])


# ----------------------------------------------------------------------------- weight decay
@pytest.mark.parametrize("optimizer, lr", [("adamw", 0.01), ("adam", 0.01), ("sgd", 0.05)])
def test_weight_decay_shrinks_the_weights(tmp_path, optimizer, lr):
    common = [*LINEAR, f"optimizer={optimizer}", f"optimizer.lr={lr}", "trainer.max_epochs=3",
              "trainer.test_with=last"]
    train_in_process(tmp_path / "plain", [*common, "optimizer.weight_decay=0"])
    train_in_process(tmp_path / "decayed", [*common, "optimizer.weight_decay=4.0"])
    norm = lambda run: math.sqrt(sum(float(np.sum(np.square(w))) for w in _weights(tmp_path / run)))  # noqa: E731
    assert norm("decayed") < 0.9 * norm("plain")  # NaN weights (a diverged run) fail this too


# ----------------------------------------------------------------------------- batch norm
@pytest.fixture(scope="module")
def cnn_runs(tmp_path_factory):
    """The same small CNN with and without batch norm."""
    root = tmp_path_factory.mktemp("batch_norm")
    common = ["model=cnn", "model.filters=[8]", "model.hidden_dims=[16]", "data.limit=400", "trainer.max_epochs=3",
              "logger.tensorboard=false", "trainer.deterministic=true", "optimizer.lr=0.01"]
    return root, train_in_process(root / "bn", [*common, "model.batch_norm=true"]), \
        train_in_process(root / "plain", common)


def test_batch_norm_layers_are_saved_and_their_statistics_trained(cnn_runs):
    import keras

    root, bn_metrics, plain_metrics = cnn_runs
    bn = _saved_model(root / "bn")
    norms = [layer for layer in bn.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert [layer.name for layer in norms] == ["bn_0"]
    from bmrun.models.batch_norm import FusedBatchNormalization

    assert isinstance(norms[0], FusedBatchNormalization)  # the fused kernel, and it reloads as such
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in _saved_model(root / "plain").layers)
    assert len(bn.get_layer("conv_0").weights) == 1  # no bias before a batch norm
    layer = norms[0]
    # Training ran the layer in training mode: its moving statistics left their initial 0 and 1.
    assert np.abs(np.asarray(layer.moving_mean)).max() > 1e-3
    assert np.abs(np.asarray(layer.moving_variance) - 1).max() > 1e-3
    assert bn_metrics["test"]["accuracy"] > 0.5  # chance is 0.1
    assert bn_metrics["num_params"] != plain_metrics["num_params"]


def test_batch_norm_model_predicts_each_example_independently_of_its_batch(cnn_runs):
    """Inference uses the moving statistics: an example's logits do not depend on its batch mates."""
    root, _, _ = cnn_runs
    model = _saved_model(root / "bn")
    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1)).astype("float32")
    together = np.asarray(model(x, training=False))
    alone = np.concatenate([np.asarray(model(x[i:i + 1], training=False)) for i in range(4)])
    np.testing.assert_allclose(alone, together[:4], rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- shuffling
@pytest.fixture(scope="module")
def start_weights(tmp_path_factory):
    """A run whose weights start the shuffle runs, so that ``seed`` changes only the data order."""
    run_dir = tmp_path_factory.mktemp("start")
    train_in_process(run_dir, ["model=linear", "data.val_fraction=0", "trainer.max_epochs=1",
                               "trainer.limit_train_batches=1", "logger.tensorboard=false"])
    return run_dir


def _shuffle_run(root: Path, start: Path, shuffle: bool, seed: int) -> dict:
    # No data.limit and no validation split: the training examples are the same set whatever
    # the seed, and init_from fixes the initial weights; the seed only orders the batches.
    return train_in_process(root / f"{shuffle}-{seed}", [
        "model=linear", "data.val_fraction=0", f"data.shuffle={str(shuffle).lower()}", f"seed={seed}",
        f"model.init_from={start}", "trainer.max_epochs=2", "trainer.limit_train_batches=3",
        "trainer.deterministic=true", "trainer.test_with=last", "logger.tensorboard=false"])


def test_without_shuffle_the_seed_no_longer_changes_the_batches(tmp_path, start_weights):
    fixed = [_shuffle_run(tmp_path, start_weights, False, seed) for seed in (1, 2)]
    shuffled = [_shuffle_run(tmp_path, start_weights, True, seed) for seed in (1, 2)]
    assert fixed[0]["train"]["loss"] == fixed[1]["train"]["loss"]
    assert fixed[0]["test"] == fixed[1]["test"]
    assert shuffled[0]["train"]["loss"] != shuffled[1]["train"]["loss"]  # the seed does order shuffled batches
    assert shuffled[0]["train"]["loss"] != fixed[0]["train"]["loss"]


def test_without_shuffle_every_epoch_trains_on_the_same_batch(tmp_path):
    """One batch per epoch: unshuffled, it is always the same batch, which the model memorises;
    shuffled, each epoch brings unseen examples and the training loss stays far higher."""
    common = ["model=linear", "data.limit=400", "data.batch_size=16", "trainer.limit_train_batches=1",
              "trainer.max_epochs=12", "optimizer.lr=0.05", "trainer.deterministic=true", "logger.tensorboard=false"]
    fixed = train_in_process(tmp_path / "fixed", [*common, "data.shuffle=false"])
    shuffled = train_in_process(tmp_path / "shuffled", [*common, "data.shuffle=true"])
    losses = [float(r["train_loss"]) for r in _history(tmp_path / "fixed")]
    assert all(a > b for a, b in zip(losses, losses[1:]))  # the same batch, fitted a little better each epoch
    assert fixed["train"]["accuracy"] == 1.0
    assert fixed["train"]["loss"] < 0.5 * shuffled["train"]["loss"]


# ----------------------------------------------------------------------------- input normalisation
def _layer_names(run_dir: Path) -> list[str]:
    return [layer.name for layer in _saved_model(run_dir).layers]


def test_normalize_false_keeps_only_the_fixed_pixel_scaling_for_images(tmp_path):
    common = [*LINEAR, "trainer.max_epochs=2"]
    normalized = train_in_process(tmp_path / "on", [*common, "data.normalize=true"])
    raw = train_in_process(tmp_path / "off", [*common, "data.normalize=false"])
    on = _saved_model(tmp_path / "on").get_layer("normalize")
    off = _saved_model(tmp_path / "off").get_layer("normalize")
    # Unnormalised images are only scaled from 0..255 to 0..1: mean 0, variance 255^2.
    assert float(np.asarray(off.mean).squeeze()) == 0.0
    assert float(np.asarray(off.variance).squeeze()) == pytest.approx(255.0 ** 2)
    # Normalised: the training pixels' own statistics (digits: mostly dark, mean far from 0).
    assert 20 < float(np.asarray(on.mean).squeeze()) < 128
    assert float(np.asarray(on.variance).squeeze()) != pytest.approx(255.0 ** 2, rel=0.05)
    assert normalized["test"] != raw["test"]


def test_normalize_false_drops_the_normalisation_of_tabular_features(tmp_path):
    common = ["data=breast_cancer", "model=linear", "trainer.max_epochs=3", "optimizer.lr=0.02",
              "logger.tensorboard=false", "trainer.deterministic=true"]
    normalized = train_in_process(tmp_path / "on", [*common, "data.normalize=true"])
    raw = train_in_process(tmp_path / "off", [*common, "data.normalize=false"])
    assert "normalize" in _layer_names(tmp_path / "on")
    assert np.asarray(_saved_model(tmp_path / "on").get_layer("normalize").mean).shape[-1] == 30  # per feature
    assert "normalize" not in _layer_names(tmp_path / "off")
    # The raw features span 0.001..4000: unscaled, the same optimiser reaches a worse fit.
    assert normalized["test"]["loss"] != raw["test"]["loss"]
    assert normalized["test"]["accuracy"] > 0.85


# ----------------------------------------------------------------------------- thread pools
_REPORT_THREADS = """
import atexit, sys

def report():
    import tensorflow as tf
    print("THREADS", tf.config.threading.get_intra_op_parallelism_threads(),
          tf.config.threading.get_inter_op_parallelism_threads(), flush=True)

atexit.register(report)
sys.argv = ["bmrun", *sys.argv[1:]]
from bmrun.cli import main
main()
"""


def _bmrun_reporting_threads(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, tuple[int, int]]:
    """Run the bmrun CLI in a fresh process; at exit it prints the TensorFlow thread-pool sizes."""
    proc = subprocess.run([sys.executable, "-c", _REPORT_THREADS, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    lines = [line.split() for line in proc.stdout.splitlines() if line.startswith("THREADS ")]
    assert lines, proc.stdout + proc.stderr
    return proc, (int(lines[-1][1]), int(lines[-1][2]))


TINY_CLI = ["model=linear", "data.limit=200", "trainer.max_epochs=1", "logger=none", "logger.progress_bar=false"]


@pytest.mark.parametrize("intra, inter", [(1, 2), (0, 0)])
def test_thread_settings_reach_tensorflow_in_a_fresh_process(tmp_path, intra, inter):
    args = [*TINY_CLI, f"device.intra_op_threads={intra}", f"device.inter_op_threads={inter}",
            f"hydra.run.dir={tmp_path / 'run'}"]
    proc, threads = _bmrun_reporting_threads(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert load_metrics(tmp_path / "run")["status"] == "completed"
    from bmrun.runtime.device import cpu_inter_op_threads

    # intra 0 = TensorFlow's own choice, left untouched; inter 0 on a CPU = 2 ops at once
    assert threads == (intra, inter or cpu_inter_op_threads())


def test_a_sweep_cannot_change_thread_counts_between_jobs_of_one_process(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *TINY_CLI, "device.intra_op_threads=1,2", f"hydra.sweep.dir={sweep}"]
    proc, threads = _bmrun_reporting_threads(args, tmp_path)
    assert proc.returncode != 0
    from bmrun.runtime.device import cpu_inter_op_threads

    assert threads == (1, cpu_inter_op_threads())  # the first job fixed the pool for the process
    assert load_metrics(sweep / "0")["status"] == "completed"
    assert "fixed by the first job" in proc.stdout + proc.stderr
