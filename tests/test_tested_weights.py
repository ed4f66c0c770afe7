"""val, test, the objective and the summary row describe the same weights (trainer.test_with=best)."""

from __future__ import annotations

import csv

from conftest import resume_in_process, train_in_process

# min_delta=100: epoch 1 is the best val/loss and epoch 2 never beats it, so the run stops after
# two epochs and tests epoch 1's weights.
EARLY = ["model=linear", "trainer.max_epochs=6", "trainer.early_stopping.enabled=true",
         "trainer.early_stopping.patience=1", "trainer.early_stopping.min_delta=100",
         "trainer.early_stopping.monitor=val/loss"]


def _history_val(run_dir, epoch: int) -> dict[str, float]:
    with open(run_dir / "history.csv", newline="", encoding="utf-8") as handle:
        row = next(row for row in csv.DictReader(handle) if row["epoch"] == str(epoch))
    return {key[len("val_"):]: float(value) for key, value in row.items() if key.startswith("val_") and value}


def _close(got: dict, expected: dict) -> bool:
    """history.csv keeps 6 significant digits."""
    return got.keys() == expected.keys() and all(abs(got[k] - expected[k]) <= 1e-5 * max(1.0, abs(expected[k]))
                                                 for k in got)


def test_best_weights_val_objective_and_summary_name_the_tested_epoch(tmp_path):
    from bmrun.sweep.summary import collect, csv_text

    run_dir = tmp_path / "run"
    metrics = train_in_process(run_dir, EARLY)
    assert metrics["epochs"] == 2 and metrics["best_epoch"] == 1 and metrics["tested_epoch"] == 1
    assert _close(metrics["val"], _history_val(run_dir, 1))
    assert _close(metrics["val_last"], _history_val(run_dir, 2))
    assert metrics["val"] != metrics["val_last"]
    assert metrics["val"] == _history_val(run_dir, 1)  # exactly the history row, as a resumed run reads it
    assert abs(metrics["monitor_best"] - metrics["val"]["loss"]) <= 1e-5 * metrics["val"]["loss"]  # the tested epoch's
    assert metrics["objective"] == {"key": "val/accuracy", "value": metrics["val"]["accuracy"], "epoch": 1}
    row = collect(tmp_path)[0]
    assert row["tested_epoch"] == 1 and row["objective_value"] == row["val/accuracy"] == metrics["val"]["accuracy"]
    assert "tested_epoch" in csv_text([row]).splitlines()[0].split(",")


def test_a_resumed_run_reports_the_tested_epochs_val_exactly(tmp_path):
    # early stopping off, min_delta still decides "best": epoch 1 stays the best, tested epoch
    best_first = ["model=linear", "trainer.early_stopping.min_delta=100", "trainer.early_stopping.monitor=val/loss",
                  "trainer.deterministic=true"]
    reference = train_in_process(tmp_path / "reference", [*best_first, "trainer.max_epochs=3"])
    train_in_process(tmp_path / "resumed", [*best_first, "trainer.max_epochs=1"])
    resumed = resume_in_process(tmp_path / "resumed", ["trainer.max_epochs=3"])  # epoch 1's row read back from csv
    assert reference["tested_epoch"] == resumed["tested_epoch"] == 1
    assert resumed["val"] == reference["val"] and resumed["objective"] == reference["objective"]


def test_last_weights_keep_the_last_val(tmp_path):
    metrics = train_in_process(tmp_path, [*EARLY, "trainer.test_with=last"])
    assert metrics["tested_epoch"] == metrics["epochs"] == 2 and "val_last" not in metrics
    assert _close(metrics["val"], _history_val(tmp_path, 2))
    assert metrics["objective"]["value"] == metrics["val"]["accuracy"] and metrics["objective"]["epoch"] == 2


def test_results_table_names_the_epoch_of_each_row(capsys):
    from bmrun.console import print_results

    metrics = {"status": "completed", "epochs": 5, "best_epoch": 3, "tested_epoch": 3, "tested_weights": "best",
               "duration_s": 1.0, "train": {"loss": 0.2}, "val": {"loss": 0.3}, "test": {"loss": 0.3}}
    print_results(metrics, "run")
    shown = capsys.readouterr().out
    assert "train (epoch 5)" in shown and "val (epoch 3 weights)" in shown and "test (epoch 3 weights)" in shown
    print_results({**metrics, "tested_epoch": 5, "best_epoch": 5}, "run")
    shown = capsys.readouterr().out
    assert "train (epoch" not in shown and "val (epoch 5 weights)" in shown
