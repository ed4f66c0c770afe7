"""The benchmark scripts' own logic: what they compute from measurements and where they write it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_tta  # noqa: E402
from sections import machine, write_section  # noqa: E402


def test_time_to_accuracy_is_the_first_point_at_or_over_the_target():
    curve = [{"seconds": 30.0, "test_accuracy": 0.905}, {"seconds": 10.0, "test_accuracy": 0.88},
             {"seconds": 20.0, "test_accuracy": 0.90}]
    assert bench_tta.time_to(curve, 0.90) == 20.0
    assert bench_tta.time_to(curve, 0.88) == 10.0
    assert bench_tta.time_to(curve, 0.91) is None


def test_report_states_both_times_and_the_ratio():
    keras = [{"epoch": e, "seconds": 10.0 * e, "test_accuracy": a} for e, a in enumerate((0.87, 0.89, 0.90), 1)]
    full = [{"epochs": 2, "seconds": s, "test_accuracy": 0.912, "timings": {"train_s": 5.0}} for s in (9.0, 11.0, 10.0)]
    text = bench_tta.report("fashion_speedrun", keras, full, [{"epochs": 1, "seconds": 6.0, "test_accuracy": 0.89}])
    assert "| 30.0 s | never |" in text  # Keras: 90% at 30 s, 91% never
    assert "| 10.0 s |" in text  # the preset's median wall time
    assert "0.33x the time" in text  # 10 / 30


def test_write_section_replaces_only_its_own_block(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\nhand-written\n")
    write_section("tta", "Time to accuracy", "first", path)
    write_section("quality", "Quality", "table", path)
    write_section("tta", "Time to accuracy", "second", path)
    content = path.read_text()
    assert content.count("## Time to accuracy") == 1 and "second" in content and "first" not in content
    assert content.startswith("# Benchmarks\nhand-written\n") and "table" in content
    assert "cores" in machine()


def test_preset_rows_say_whether_the_bar_is_met():
    import presets

    fast = {"test_accuracy": 0.9372, "epochs": 20, "seconds": 512.0, "timings": {"train_s": 480.0}}
    assert presets.row("fashion_best", fast, "2026-01-02").endswith("| met | 2026-01-02 |")
    assert "| NOT met |" in presets.row("fashion_best", {**fast, "seconds": 650.0})
    assert "| NOT met |" in presets.row("fashion_best", {**fast, "test_accuracy": 0.93})
    # Rerunning one preset keeps the other rows, in the bars' order.
    old = "\n".join([*presets.HEADER, presets.row("fashion_rnn", fast, "2026-01-01"),
                     presets.row("fashion_best", {**fast, "test_accuracy": 0.93}, "2026-01-01")])
    rows = presets.merged({"fashion_best": presets.row("fashion_best", fast, "2026-01-02")}, old)
    assert [r.split("`")[1] for r in rows] == ["fashion_rnn", "fashion_best"]
    assert rows[0].endswith("2026-01-01 |") and rows[1].endswith("| met | 2026-01-02 |")
    assert set(presets.BARS) <= {p.stem for p in (Path(__file__).resolve().parent.parent / "conf" / "experiment").glob("*.yaml")}


def test_few_labels_report_checks_each_time_bar_and_the_mean_gain():
    import few_labels

    def arm(seconds, accuracy=None):
        return {"seconds": seconds, "metrics": {"test": {"loss": 3.1} if accuracy is None else {"accuracy": accuracy}}}

    def seed(semi_accuracy, pretrain_seconds=300):
        return {"supervised": arm(90, 0.84), "pretrain": arm(pretrain_seconds), "fine-tuned": arm(91, 0.838),
                "semi-supervised": arm(350, semi_accuracy)}

    text = few_labels.report({0: seed(0.871, pretrain_seconds=500)}, ["trainer.unlabeled_ratio=5"])
    assert "| semi-supervised | 0.8710 | +3.1 | 350 | <= 480 s | met |" in text
    assert "| pretrain | — |  | 500 | <= 480 s | NOT met |" in text  # a pretext run has no accuracy
    assert "| fine-tuned | 0.8380 | -0.2 |" in text
    assert "**met** (+3.1)" in text and "trainer.unlabeled_ratio=5" in text
    # Several seeds: the mean gain is judged, and the range is given.
    text = few_labels.report({0: seed(0.871), 1: seed(0.846)}, [])
    assert text.count("| supervised |") == 2 and "Seed 1:" in text
    assert "mean over 2 seeds): **NOT met** (+1.9; +0.6 to +3.1)" in text
    # A seed run without pretraining: its gain is the semi-supervised run's.
    text = few_labels.report({0: seed(0.846), 1: {"supervised": arm(90, 0.84), "semi-supervised": arm(350, 0.875)}}, [])
    assert text.count("| fine-tuned |") == 1 and "(+2.1; +0.6 to +3.5)" in text


def test_few_labels_seeds_are_read_or_refused_in_one_line():
    import few_labels

    assert few_labels.seed_list("0,1,2") == [0, 1, 2]
    for bad in ("0,x", "1,1", "-1", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            few_labels.seed_list(bad)
