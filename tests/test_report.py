"""``bmrun-report`` and the summary rows: synthetic run dirs, no training, no TensorFlow."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bmrun.cli.report import main
from bmrun.sweep.report import markdown, varying_overrides
from bmrun.sweep.summary import collect, csv_text, default_sort_key, sort_rows
from bmrun.tracking.index import find_run_dirs


def _run(path: Path, status: str = "completed", val_acc=None, test_acc=None, overrides=(), **extra) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    metrics = {"status": status, "overrides": list(overrides), "model": "cnn", "data": "digits", **extra}
    if val_acc is not None:
        metrics.update(val={"loss": 1.0 - val_acc, "accuracy": val_acc}, test={"loss": 0.5, "accuracy": test_acc},
                       train={"loss": 0.4, "accuracy": 0.9, "samples_per_s": 1234.0}, epochs=2, duration_s=3.5,
                       objective={"key": "val/accuracy", "value": val_acc})
    (path / "metrics.json").write_text(json.dumps(metrics))
    return path


@pytest.fixture
def runs(tmp_path) -> Path:
    """A folder with a sweep (every kind of job outcome) and an unrelated single run."""
    sweep = tmp_path / "multirun" / "2026-01-01" / "12-00-00"
    _run(sweep / "0", val_acc=0.80, test_acc=0.78, overrides=["optimizer.lr=0.001", "data.limit=200"])
    _run(sweep / "1", val_acc=0.90, test_acc=0.88, overrides=["optimizer.lr=0.01", "data.limit=200"])
    _run(sweep / "2", status="failed", error="ConfigError: model.dropout_rate: must be in [0, 1), got 1.5",
         overrides=["optimizer.lr=0.1", "data.limit=200"])
    _run(sweep / "3", status="running", overrides=["optimizer.lr=0.2", "data.limit=200"])
    corrupt = sweep / "4"
    corrupt.mkdir()
    (corrupt / "metrics.json").write_text('{"status": "compl')  # killed mid-write by a non-atomic writer
    killed = sweep / "5" / ".hydra"
    killed.mkdir(parents=True)
    (killed / "overrides.yaml").write_text("- optimizer.lr=0.5\n- data.limit=200\n")
    _run(sweep / "10", val_acc=0.85, test_acc=0.84, overrides=["optimizer.lr=0.02", "data.limit=200"])
    # A non-finite objective is stored as text by write_metrics: it must rank last, not crash.
    _run(sweep / "11", status="diverged", val_acc=float("nan"), test_acc=float("nan"),
         overrides=["optimizer.lr=9", "data.limit=200"])
    metrics_11 = json.loads((sweep / "11" / "metrics.json").read_text().replace("NaN", '"nan"'))
    (sweep / "11" / "metrics.json").write_text(json.dumps(metrics_11))
    # Not runs: hidden folders and folders inside a run dir.
    _run(sweep / ".submitit" / "123", val_acc=0.99, test_acc=0.99)
    _run(sweep / "1" / "tensorboard" / "stray", val_acc=0.99, test_acc=0.99)
    _run(tmp_path / "2026-01-02" / "09-00-00", val_acc=0.70, test_acc=0.69, overrides=["seed=3"])
    return tmp_path


def test_finds_every_run_dir_in_natural_order_and_skips_hidden_and_nested(runs):
    jobs = [p.relative_to(runs).as_posix() for p in find_run_dirs(runs)]
    assert jobs == ["2026-01-02/09-00-00"] + [f"multirun/2026-01-01/12-00-00/{n}" for n in (0, 1, 2, 3, 4, 5, 10, 11)]


def test_rows_survive_running_failed_corrupt_and_missing_metrics(runs):
    rows = {row["job"].rsplit("/", 1)[-1]: row for row in collect(runs)}
    assert rows["1"]["status"] == "completed" and rows["1"]["val/accuracy"] == 0.90
    assert rows["1"]["samples_per_s"] == 1234.0 and "train/samples_per_s" not in rows["1"]
    assert rows["2"]["status"] == "failed" and "dropout_rate" in rows["2"]["error"]
    assert rows["3"]["status"] == "running"
    assert rows["4"]["status"] == "corrupt" and "unreadable metrics.json" in rows["4"]["error"]
    assert rows["5"]["status"] == "missing" and rows["5"]["overrides"] == "optimizer.lr=0.5 data.limit=200"
    assert rows["11"]["status"] == "diverged" and rows["11"]["objective_value"] != rows["11"]["objective_value"]


def test_sorts_best_objective_first_and_unfinished_runs_last(runs):
    rows = collect(runs)
    assert default_sort_key(rows) == "val/accuracy"
    order = [row["job"].rsplit("/", 1)[-1] for row in sort_rows(rows, "val/accuracy")]
    assert order[:4] == ["1", "10", "0", "09-00-00"]
    assert set(order[4:]) == {"2", "3", "4", "5", "11"}
    assert [row["job"].rsplit("/", 1)[-1] for row in sort_rows(rows, "val/accuracy", reverse=True)][:4] == \
        ["09-00-00", "0", "10", "1"]
    # Losses rank lowest first (direction from objective_direction); throughput highest first.
    assert sort_rows(rows, "val/loss")[0]["job"].endswith("/1")


def test_csv_has_one_row_per_run_and_every_metric(runs):
    rows = collect(runs)
    parsed = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert len(parsed) == len(rows) == 9
    assert {"job", "status", "overrides", "test/accuracy", "val/accuracy", "train/loss", "epochs", "duration_s",
            "samples_per_s", "error"} <= set(parsed[0])
    best = next(r for r in parsed if r["job"].endswith("/1"))
    assert float(best["test/accuracy"]) == 0.88 and best["overrides"] == "optimizer.lr=0.01 data.limit=200"


def test_markdown_and_varying_overrides(runs):
    sweep = runs / "multirun"
    rows = sort_rows(collect(sweep), "val/accuracy")
    assert varying_overrides(rows)[rows[0]["job"]] == "optimizer.lr=0.01"  # data.limit=200 is on every job
    text = markdown(rows, rows[:2], "val/accuracy")
    lines = text.splitlines()
    assert lines[0].startswith("| job | status | overrides |") and "val/accuracy" in lines[0]
    assert lines[2].startswith("| 2026-01-01/12-00-00/1 | completed | optimizer.lr=0.01 |") and len(lines) == 4


def test_cli_formats_sort_and_top(runs, capsys, monkeypatch):
    from bmrun import console

    monkeypatch.setattr(console.out, "width", 200)
    main([str(runs), "--format", "csv", "--sort", "test/accuracy", "--top", "2"])
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [float(r["test/accuracy"]) for r in parsed] == [0.88, 0.84]
    main([str(runs / "multirun"), "--top", "3"])
    out = capsys.readouterr().out
    flat = " ".join(out.split())  # the title may wrap (long temporary paths)
    assert "best val/accuracy first" in flat and "top 3" in flat
    assert out.index("optimizer.lr=0.01") < out.index("optimizer.lr=0.02") < out.index("optimizer.lr=0.001")
    main([str(runs / "2026-01-02" / "09-00-00"), "--format", "markdown"])  # a single run dir works too
    assert "| 09-00-00 | completed |" in capsys.readouterr().out


@pytest.mark.parametrize("args, code, message", [
    (["--sort", "val/acc"], 2, "no run has that column"),
    (["--top", "0"], 2, "--top must be >= 1"),
])
def test_cli_rejects_bad_arguments(runs, capsys, args, code, message):
    with pytest.raises(SystemExit) as exit_info:
        main([str(runs), *args])
    assert exit_info.value.code == code
    assert message in capsys.readouterr().err


def test_cli_on_missing_or_empty_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nope")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path)])
    assert exit_info.value.code == 1 and "no runs under" in capsys.readouterr().err


def test_console_script_is_fast_and_never_imports_tensorflow(runs):
    code = ("import sys; from bmrun.cli.report import main; main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules, 'report imported TensorFlow'")
    proc = subprocess.run([sys.executable, "-c", code, str(runs), "--top", "1"], capture_output=True, text=True,
                          timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "optimizer.lr=0.01" in proc.stdout


def test_a_drop_modality_sweep_shows_what_each_modality_brings(tmp_path, capsys):
    from bmrun.sweep.ablation import contributions

    sweep = tmp_path / "ablation"
    common = ["model=multimodal", "data=csv"]
    for job, (dropped, val_acc, test_acc) in enumerate([("none", 0.95, 0.94), ("image", 0.60, 0.58),
                                                        ("text", 0.96, 0.95), ("table", 0.50, 0.49)]):
        _run(sweep / str(job), val_acc=val_acc, test_acc=test_acc,
             overrides=common + [f"data.drop_modality={dropped}"])
    _run(sweep / "4", status="failed", overrides=common + ["data.drop_modality=table"])
    found = {(c.modality, c.metric): round(c.value, 6) for c in contributions(collect(sweep))}
    assert found == {("image", "val/accuracy"): 0.35, ("image", "test/accuracy"): 0.36,
                     ("text", "val/accuracy"): -0.01, ("text", "test/accuracy"): -0.01,
                     ("table", "val/accuracy"): 0.45, ("table", "test/accuracy"): 0.45}
    main([str(sweep), "--format", "markdown"])
    out = capsys.readouterr().out
    assert "| image | val/accuracy | 0.9500 | 0.6000 | +0.3500 |" in out
    main([str(sweep)])
    assert "what each modality brings" in capsys.readouterr().out


def test_no_contributions_without_an_ablation_and_losses_count_the_other_way(runs, tmp_path):
    from bmrun.sweep.ablation import Contribution, contributions

    assert contributions(collect(runs)) == []
    assert Contribution("text", "", "val/loss", with_all=0.2, without=0.5).value == pytest.approx(0.3)
