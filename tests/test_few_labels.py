"""Few labels: data.label_fraction, pretrain=contrastive|autoencoder, trainer.semi_supervised."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bmrun.errors import BmrunError, ConfigError
from conftest import (assert_same_results, kill_mid_run, load_metrics, resume_in_process, run_cli, train_in_process,
                      validated)

# Tiny digits runs: a few steps each.
TINY = ["data=digits", "data.limit=400", "data.batch_size=32", "trainer.max_epochs=2", "trainer.deterministic=true"]


def _history(run_dir: Path) -> list[dict]:
    with open(Path(run_dir) / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _scalar_tags(log_dir: Path) -> set:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for folder in sorted({p.parent for p in Path(log_dir).rglob("events.out.tfevents.*")}):
        accumulator = EventAccumulator(str(folder))
        accumulator.Reload()
        tags |= {f"{folder.name}/{tag}" for tag in accumulator.Tags()["tensors"] + accumulator.Tags()["scalars"]}
    return tags


# ----------------------------------------------------------------------------- data.label_fraction
def _prepared(fraction: float, seed: int = 0, labels=None):
    from bmrun.data.arrays import RawData, prepare
    from bmrun.data.catalog import IMAGE, MULTICLASS, InputSpec, TaskSpec

    y = np.repeat(np.arange(4), [400, 300, 200, 100]) if labels is None else labels
    x = np.arange(len(y), dtype=np.uint8).reshape(-1, 1, 1, 1).repeat(4, axis=1).repeat(4, axis=2)
    x_test, y_test = x[:20], y[:20]
    task = TaskSpec(MULTICLASS, 4, ("a", "b", "c", "d"))
    raw = RawData(x, y, x_test, y_test)
    return prepare(raw, task, InputSpec(IMAGE, (4, 4, 1)), val_fraction=0.1, limit=None, normalize=True, seed=seed,
                   label_fraction=fraction)


def test_label_fraction_is_stratified_seeded_and_exact():
    full = _prepared(1.0)
    data = _prepared(0.1)
    assert data.unlabeled is not None and full.unlabeled is None
    assert len(data.train) == round(0.1 * len(full.train))  # exact count
    assert len(data.train) + len(data.unlabeled) == len(full.train)  # the rest is the pool
    assert data.val.y.tolist() == full.val.y.tolist() and data.test.y.tolist() == full.test.y.tolist()
    full_counts = np.bincount(full.train.y, minlength=4)
    kept = np.bincount(data.train.y, minlength=4)
    assert np.all(np.abs(kept - 0.1 * full_counts) <= 1)  # stratified: each class keeps ~10%
    # Normalisation is fitted on every training image, labeled or not.
    assert float(data.input_mean) == pytest.approx(float(full.input_mean))
    again, other = _prepared(0.1), _prepared(0.1, seed=1)
    assert again.train.x.tolist() == data.train.x.tolist()  # same seed, same labels kept
    assert other.train.x.tolist() != data.train.x.tolist()
    assert data.label_counts() == {"labeled": len(data.train), "unlabeled": len(data.unlabeled)}
    # The pool and the labeled part are disjoint and together are the training split.
    pixels = sorted(data.train.x[:, 0, 0, 0].tolist() + data.unlabeled.x[:, 0, 0, 0].tolist())
    assert pixels == sorted(full.train.x[:, 0, 0, 0].tolist())


def test_label_fraction_that_leaves_a_class_unlabeled_says_which_and_what_works():
    labels = np.repeat(np.arange(4), [500, 500, 500, 5])
    with pytest.raises(ConfigError) as error:
        _prepared(0.05, labels=labels)
    message = str(error.value)
    assert "data.label_fraction" in message and "class 3 (d)" in message
    smallest = float(message.rsplit("is ", 1)[1].rstrip("."))
    assert _prepared(smallest, labels=labels).train.y.tolist().count(3) >= 1  # the advice works


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "nan"])
def test_label_fraction_outside_unit_interval_is_refused(value):
    with pytest.raises(ConfigError, match=r"data.label_fraction: .*\(0, 1\]"):
        validated(["data=digits", f"data.label_fraction={value}"])


@pytest.mark.parametrize("overrides, key", [
    (["data=diabetes", "model=mlp", "pretrain=contrastive"], "pretrain"),
    (["data=breast_cancer", "model=mlp", "trainer.semi_supervised=consistency", "data.label_fraction=0.5"],
     "trainer.semi_supervised"),
    (["data=imdb", "model=rnn", "pretrain=autoencoder"], "pretrain"),
    (["data=ratings", "model=factorization", "trainer.semi_supervised=consistency", "data.label_fraction=0.5"],
     "trainer.semi_supervised"),
])
def test_unlabeled_learning_on_non_image_data_is_refused(overrides, key):
    with pytest.raises(ConfigError, match=rf"^{key}: .*learns from unlabeled images.*image dataset"):
        validated(overrides)


def test_semi_supervised_without_an_unlabeled_pool_is_refused():
    with pytest.raises(ConfigError, match="data.label_fraction=1 every training image keeps its label"):
        validated(["data=digits", "trainer.semi_supervised=consistency"])
    with pytest.raises(ConfigError, match="pretrain first"):
        validated(["data=digits", "pretrain=contrastive", "trainer.semi_supervised=consistency",
                   "data.label_fraction=0.5"])


def test_pretrain_budget_replaces_the_trainer_budget_in_pretrain_runs_only():
    common = ["data=digits", "pretrain.max_epochs=7", "pretrain.batch_size=48"]
    pretrain = validated(["pretrain=contrastive", *common])
    assert (pretrain.trainer.max_epochs, pretrain.data.batch_size) == (7, 48)
    supervised, plain = validated(common), validated(["data=digits"])
    assert (supervised.trainer.max_epochs, supervised.data.batch_size) == (plain.trainer.max_epochs,
                                                                           plain.data.batch_size)


# ----------------------------------------------------------------------------- NT-Xent
def test_nt_xent_is_low_for_agreeing_views_and_log_2n_minus_1_for_unrelated_ones():
    import tensorflow as tf

    from bmrun.pretrain.contrastive import nt_xent

    n = 8
    distinct = tf.eye(n, 16) * 10.0  # orthogonal embeddings: views of one image agree, differ from the rest
    agreeing = nt_xent(distinct, distinct, temperature=0.1).numpy()
    assert agreeing.shape == (n,) and agreeing.max() < 1e-3
    # Hand check: all embeddings equal -> every candidate has the same logit -> loss log(2N - 1).
    same = tf.ones([n, 4])
    assert nt_xent(same, same, temperature=0.5).numpy() == pytest.approx(np.full(n, math.log(2 * n - 1)), rel=1e-5)
    rng = np.random.default_rng(0)
    a, b = (tf.constant(rng.normal(size=(256, 64)), tf.float32) for _ in range(2))
    assert float(tf.reduce_mean(nt_xent(a, b, temperature=1.0))) == pytest.approx(math.log(511), rel=0.02)


# ----------------------------------------------------------------------------- pretrain, then transfer
@pytest.fixture(scope="module")
def pretrain_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("pretrain") / "run"
    train_in_process(run_dir, [*TINY, "pretrain=contrastive", "data.label_fraction=0.1", "model.batch_norm=true"])
    return run_dir


def test_pretrain_run_writes_a_run_dir_with_the_pretext_loss(pretrain_run):
    metrics = load_metrics(pretrain_run)
    assert metrics["status"] == "completed" and metrics["loss"] == "nt_xent"
    assert metrics["pretrain"] == {"task": "contrastive", "loss": "nt_xent", "images": 360}  # every image, not 10%
    assert metrics["objective"]["key"] == "val/loss" and "accuracy" not in metrics["test"]
    rows = _history(pretrain_run)
    assert len(rows) == 2 and float(rows[0]["train_loss"]) > 0 and "train_accuracy" not in rows[0]
    assert {"train/loss", "val/loss", "test/loss"} <= _scalar_tags(pretrain_run / "tensorboard")
    assert (pretrain_run / "model" / "model.keras").is_file() and (pretrain_run / "checkpoints").is_dir()


def test_init_from_a_pretrain_run_copies_every_backbone_layer(pretrain_run, tmp_path, capsys):
    import keras

    from bmrun.models.transfer import backbone_layers

    target = tmp_path / "finetune"
    train_in_process(target, [*TINY, "data.label_fraction=0.1", "model.batch_norm=true", "trainer.max_epochs=1",
                              "model.freeze=backbone", f"model.init_from={pretrain_run}"])
    announced = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert "copied the weights of 3 of 4 layers" in announced and "head (pretrain run)" in announced
    source = keras.saving.load_model(str(pretrain_run / "model" / "model.keras"))
    tuned = keras.saving.load_model(str(target / "model" / "model.keras"))
    layers = [layer for layer in backbone_layers(tuned) if layer.weights]
    assert [layer.name for layer in layers] == ["conv_0", "bn_0", "dense_0"]
    for layer in layers:  # freeze=backbone: still the pretrained weights after training the head
        for got, want in zip(layer.get_weights(), source.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(got, want)
    assert np.any(tuned.get_layer("head").get_weights()[0] != 0)  # the head did train


def test_init_from_a_pretrain_run_with_another_backbone_says_so(pretrain_run, tmp_path):
    with pytest.raises(ConfigError, match="no layer of the cnn model .* matches a layer of the new mlp model"):
        train_in_process(tmp_path / "mlp", [*TINY, "model=mlp", f"model.init_from={pretrain_run}"])


def test_eval_and_predict_refuse_a_pretrain_run(pretrain_run):
    from bmrun.models.loading import open_run

    with pytest.raises(BmrunError, match="pretrain=contrastive run.*no trained classifier head.*model.init_from="):
        open_run(str(pretrain_run), "bmrun-eval")


def test_autoencoder_pretrain_learns_to_reconstruct(tmp_path):
    metrics = train_in_process(tmp_path / "mae", ["data=digits", "data.limit=400", "trainer.max_epochs=6",
                                                  "pretrain=autoencoder", "model=mlp"])
    rows = _history(tmp_path / "mae")
    assert metrics["loss"] == "masked_reconstruction_mse"
    assert float(rows[-1]["val_loss"]) < 0.8 * float(rows[0]["val_loss"])


# ----------------------------------------------------------------------------- semi-supervised
SEMI = [*TINY, "data.label_fraction=0.2", "trainer.unlabeled_ratio=2", "augment.shift=1"]


def test_semi_supervised_run_logs_mask_rate_unlabeled_loss_and_pseudo_label_accuracy(tmp_path):
    metrics = train_in_process(tmp_path / "fixmatch", [*SEMI, "trainer.semi_supervised=consistency",
                                                       "trainer.confidence_threshold=0.2", "trainer.max_epochs=4"])
    assert metrics["semi_supervised"] == "consistency"
    assert metrics["labels"] == {"labeled": 72, "unlabeled": 288, "fraction": 0.2}
    train = metrics["train"]
    # Four epochs on 72 labels learn too little for a floor above chance; some pseudo-labels are right.
    assert 0 < train["mask_rate"] <= 1 and train["unlabeled_loss"] > 0 and train["pseudo_label_accuracy"] > 0
    row = _history(tmp_path / "fixmatch")[-1]
    assert float(row["train_pseudo_label_accuracy"]) == pytest.approx(train["pseudo_label_accuracy"], rel=1e-5)
    assert {"train_mask_rate", "train_unlabeled_loss", "train_pseudo_label_accuracy"} <= set(row)
    assert {"train/mask_rate", "train/unlabeled_loss"} <= _scalar_tags(tmp_path / "fixmatch" / "tensorboard")


def test_semi_supervised_with_nothing_confident_trains_like_supervised(tmp_path):
    """Threshold 1: no unlabeled image becomes a target, so (no batch norm, no dropout) the labeled
    loss alone moves the weights, exactly as in the supervised run on the same labels."""
    supervised = train_in_process(tmp_path / "supervised", SEMI)
    semi = train_in_process(tmp_path / "semi", [*SEMI, "trainer.semi_supervised=consistency",
                                                "trainer.confidence_threshold=1.0"])
    assert semi["train"]["mask_rate"] == 0 and semi["train"]["unlabeled_loss"] == 0
    assert semi["train"]["loss"] == pytest.approx(supervised["train"]["loss"], rel=1e-4)
    assert semi["test"]["loss"] == pytest.approx(supervised["test"]["loss"], rel=1e-4)


def test_fixmatch_with_the_weights_average_resumes_exactly(tmp_path):
    """The unlabeled stream is keyed on (seed, epoch, batch) and the average travels in the
    checkpoint, so a resumed FixMatch run ends where an uninterrupted one does."""
    fixmatch = [*SEMI, "trainer.semi_supervised=consistency", "trainer.confidence_threshold=0.2",
                "optimizer.ema_decay=0.9", "optimizer.lr=0.01", "trainer.max_epochs=4"]
    reference = train_in_process(tmp_path / "reference", fixmatch)
    assert 0 < reference["train"]["mask_rate"] <= 1 and reference["test"]["accuracy"] > 0.2  # twice chance
    first = train_in_process(tmp_path / "resumed", [*fixmatch, "trainer.max_epochs=2"])
    assert first["epochs"] == 2
    assert_same_results(resume_in_process(tmp_path / "resumed", ["trainer.max_epochs=4"]), reference)


@pytest.mark.parametrize("override", ["trainer.teacher=ema", "trainer.distribution_alignment=true",
                                      "trainer.flexible_thresholds=true", "trainer.similarity_weight=1.0",
                                      "trainer.semi_supervised=pseudo_label"])
def test_removed_few_label_variants_say_what_replaced_them(override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^{key}: .*removed.*trainer.semi_supervised=consistency"):
        validated(["data=digits", "data.label_fraction=0.2", override])


def test_old_run_configs_with_the_removed_keys_at_their_defaults_still_load():
    from omegaconf import OmegaConf

    from bmrun.config import compose, validate

    cfg = OmegaConf.create(OmegaConf.to_yaml(compose(["data=digits"])))  # as a run dir's config.yaml loads
    old = OmegaConf.merge(cfg, {"trainer": {"teacher": "model", "distribution_alignment": False,
                                            "flexible_thresholds": False, "similarity_weight": 0.0,
                                            "similarity_temperature": 0.1, "neighbour_weight": 0.1}})
    assert validate(old).trainer.semi_supervised == "none"
    with pytest.raises(ConfigError, match="^trainer.teacher: the EMA teacher was removed"):
        validate(OmegaConf.merge(old, {"trainer": {"teacher": "ema"}}))


# ----------------------------------------------------------------------------- resume and sweeps
PRETRAIN_RESUMABLE = ["pretrain=contrastive", "model=mlp", "data=digits", "data.batch_size=16", "trainer.max_epochs=8",
                      "trainer.steps_per_call=4", "trainer.checkpoint_every_n_steps=8", "trainer.deterministic=true",
                      "logger.progress_bar=false", "seed=3"]


@pytest.mark.slow
def test_killed_pretrain_run_resumes_exactly(tmp_path):
    # Only the killed run needs a process of its own; the reference and the resume (whose CLI
    # path test_reliability's SIGKILL test runs) train here.
    reference = tmp_path / "reference"
    train_in_process(reference, PRETRAIN_RESUMABLE)
    interrupted = kill_mid_run(PRETRAIN_RESUMABLE, tmp_path, "killed", max_wait=1.0)
    resume_in_process(interrupted)
    got, expected = load_metrics(interrupted), load_metrics(reference)
    assert got["status"] == "completed" and got["test"] == expected["test"]  # identical
    strip = [{k: v for k, v in row.items() if k not in ("epoch_s", "samples_per_s")} for row in _history(interrupted)]
    want = [{k: v for k, v in row.items() if k not in ("epoch_s", "samples_per_s")} for row in _history(reference)]
    assert strip == want


def test_sweep_over_pretrain_options(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", "pretrain=contrastive,autoencoder", "pretrain.max_epochs=1", "data=digits", "data.limit=200",
                    "model=mlp", "logger.progress_bar=false", f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    tasks = sorted(load_metrics(sweep / str(i))["pretrain"]["task"] for i in range(2))
    assert tasks == ["autoencoder", "contrastive"]
    assert len((sweep / "summary.csv").read_text().strip().splitlines()) == 3  # header and one row per job
