"""The option x method matrix: every pair trains with the option in effect, or is refused in one line."""

from __future__ import annotations

import math

import pytest

from bmrun.errors import ConfigError
from bmrun.methods.catalog import METHODS, OPTIONS, matrix_markdown
from conftest import train_in_process, validated

# Each method on digits, a few steps.
TINY = ["data=digits", "data.limit=240", "data.batch_size=32", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
        "trainer.steps_per_call=1", "trainer.deterministic=true"]
METHOD_OVERRIDES = {
    "supervised": [],
    "consistency": ["data.label_fraction=0.25", "trainer.semi_supervised=consistency", "trainer.unlabeled_ratio=2",
                    "trainer.confidence_threshold=0.2"],
    "contrastive": ["pretrain=contrastive", "model=mlp"],
    "autoencoder": ["pretrain=autoencoder", "model=mlp"],
}
OPTION_OVERRIDES = {
    "trainer.adversarial": ["trainer.adversarial=pgd", "trainer.adv_steps=2"],
    "trainer.adv_eval_epsilon": ["trainer.adv_eval_epsilon=0.1"],
    "loss.fairness_penalty": ["loss.fairness_penalty=1.0"],
    "fairness.max_gap": ["fairness.max_gap=0.1"],
    "loss.label_smoothing": ["loss.label_smoothing=0.2"],
    "data.class_weight": ["data.class_weight=balanced"],
    "loss.l2": ["loss.l2=0.01"],
    "optimizer.ema_decay": ["optimizer.ema_decay=0.5"],
    "augment.tta": ["augment.tta=flip"],
    "model.freeze": ["model.freeze=backbone"],
}
# The penalty and the bound need a binary table with a group column: tests/test_fairness.py and
# tests/test_fairness_bound.py train those pairs.
ELSEWHERE = {("supervised", "loss.fairness_penalty"), ("supervised", "fairness.max_gap")}
PAIRS = [(m, o) for m in METHODS for o in OPTIONS]


def test_every_option_has_overrides_in_this_test():
    assert set(OPTION_OVERRIDES) == set(OPTIONS) and set(METHOD_OVERRIDES) == set(METHODS)


@pytest.mark.parametrize("method, option", [p for p in PAIRS if not METHODS[p[0]].supports(p[1])])
def test_unsupported_pairs_are_refused_naming_both(method, option):
    with pytest.raises(ConfigError) as error:
        validated([*TINY, *METHOD_OVERRIDES[method], *OPTION_OVERRIDES[option]])
    text = str(error.value)
    assert text.startswith(f"{option}: ") and f"the {method} method" in text and "\n" not in text


@pytest.fixture(scope="module")
def plain_runs(tmp_path_factory):
    """Each method without options: what every option run must differ from."""
    root = tmp_path_factory.mktemp("plain")
    return {m: train_in_process(root / m, [*TINY, *extra]) for m, extra in METHOD_OVERRIDES.items()}


def _signature(metrics: dict) -> tuple:
    return metrics["train"]["loss"], metrics["test"].get("loss"), metrics["test"].get("accuracy")


@pytest.mark.slow
@pytest.mark.parametrize("method, option",
                         [p for p in PAIRS if METHODS[p[0]].supports(p[1]) and p not in ELSEWHERE])
def test_supported_pairs_train_with_the_option_in_effect(method, option, plain_runs, tmp_path):
    metrics = train_in_process(tmp_path / "run", [*TINY, *METHOD_OVERRIDES[method], *OPTION_OVERRIDES[option]])
    assert metrics["status"] == "completed" and math.isfinite(metrics["train"]["loss"])
    if option == "trainer.adv_eval_epsilon":
        # Measured only: the same training as without it, and the attack costs accuracy.
        assert metrics["test"]["adv_epsilon"] == 0.1 and "adv_accuracy" not in plain_runs[method]["test"]
        assert metrics["test"]["accuracy"] == plain_runs[method]["test"]["accuracy"]
        assert metrics["test"]["adv_accuracy"] <= metrics["test"]["accuracy"] + 1e-6  # float32 vs float64 shares
    else:  # the option changed what was learnt or how it was tested
        assert _signature(metrics) != _signature(plain_runs[method])


@pytest.mark.slow
def test_consistency_with_pgd_attacks_the_labeled_batches(tmp_path):
    """FixMatch composes with adversarial training: the same run with PGD ends at another robust accuracy."""
    common = [*TINY, *METHOD_OVERRIDES["consistency"], "trainer.adv_eval_epsilon=0.1", "trainer.limit_train_batches=0",
              "data.limit=600", "trainer.max_epochs=4", "optimizer.lr=0.01"]
    clean = train_in_process(tmp_path / "clean", common)
    attacked = train_in_process(tmp_path / "pgd", [*common, "trainer.adversarial=pgd", "trainer.adv_steps=2"])
    assert clean["test"]["accuracy"] > 0.3  # learnt something: the attack has a classifier to move
    assert attacked["train"]["loss"] != clean["train"]["loss"]
    assert attacked["test"]["adv_accuracy"] != clean["test"]["adv_accuracy"]
    assert attacked["semi_supervised"] == "consistency" and attacked["train"]["mask_rate"] > 0


def test_matrix_table_lists_every_option_and_method():
    table = matrix_markdown()
    for option in OPTIONS:
        assert f"`{option}`" in table
    header = table.splitlines()[0]
    assert all(f" {name} " in header for name in METHODS)
    assert table.count("refused") == sum(not METHODS[m].supports(o) for m, o in PAIRS)
