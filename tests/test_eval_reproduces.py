"""``bmrun-eval`` on a finished run gives back its metrics.json ``test`` block, key by key, for
every task kind and the options that change the test (TTA, robust accuracy, ranking)."""

from __future__ import annotations

import pytest

from conftest import load_metrics, train_in_process

CASES = {
    "multiclass_tta_adversarial": ["data=digits", "data.limit=300", "trainer.max_epochs=2", "augment.tta=flip",
                                   "trainer.adv_eval_epsilon=0.1"],
    "binary": ["data=breast_cancer", "model=mlp", "trainer.max_epochs=3"],
    "regression": ["data=diabetes", "model=linear", "trainer.max_epochs=3"],
    "recommender": ["data=ratings", "data.synthetic_users=60", "data.synthetic_items=40",
                    "data.synthetic_ratings=1500", "model=factorization", "trainer.max_epochs=2"],
    # text pairs (the file is written per test): the decoded metrics come back too, beams included
    "seq2seq": ["model=transformer", "model.decoder_layers=1", "data=csv", "data.source=en", "data.target_text=fr",
                "data.max_length=6", "trainer.max_epochs=2", "trainer.beam_size=2"],
}
# What each case's test block must hold besides loss (the kind's own metrics, the options').
EXPECTED_KEYS = {
    "multiclass_tta_adversarial": {"accuracy", "per_class", "adv_accuracy", "adv_epsilon"},
    "binary": {"accuracy", "roc_auc", "pr_auc", "per_class"},
    "regression": {"rmse", "r2", "mae"},
    "recommender": {"rmse", "recall_at_10", "ndcg_at_10"},
    "seq2seq": {"token_accuracy", "exact_match"},
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_eval_gives_back_the_runs_test_block(case, tmp_path):
    from bmrun.cli.eval import evaluate_run

    overrides = list(CASES[case])
    if case == "seq2seq":
        pairs = tmp_path.parent / f"{tmp_path.name}_pairs.csv"
        pairs.write_text("en,fr\n" + "".join(f"{n},{str(n)[::-1]}\n" for n in range(200)))
        overrides.append(f"data.path={pairs}")
    train_in_process(tmp_path, [*overrides, "logger.tensorboard=false"])
    expected = load_metrics(tmp_path)["test"]
    assert EXPECTED_KEYS[case] | {"loss"} <= set(expected), sorted(expected)
    result, _ = evaluate_run(str(tmp_path))
    assert result["test"].keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):  # per_class: the same counts give the same ratios
            assert result["test"][key] == value, key
        else:
            assert result["test"][key] == pytest.approx(value, rel=1e-5, abs=1e-7), key
