"""bmrun-runs over a few hundred generated run dirs (real files, no training): table, filters,
index, unreadable runs, diff, and bmrun-report --importance."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from bench_runs import write_runs  # noqa: E402
from bmrun.cli import runs as cli  # noqa: E402
from bmrun.tracking import index, query  # noqa: E402

COUNT = 300


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("track") / "outputs"
    write_runs(root, COUNT)
    return root


def run_json(capsys, *argv) -> list[dict]:
    cli.main(["--json", *argv])
    return json.loads(capsys.readouterr().out)


def test_every_run_is_listed_with_its_metrics_and_config(outputs, capsys):
    records = run_json(capsys, str(outputs))
    assert len(records) == COUNT
    completed = [r for r in records if r["status"] == "completed"]
    assert len(completed) == COUNT - COUNT // 50  # write_runs fails one run in 50
    first = completed[0]
    assert first["config"]["model.name"] in ("cnn", "mlp")
    assert first["metrics"]["test.accuracy"] == pytest.approx(first["objective"] - 0.01)
    dates = [r["date"] for r in records]
    assert dates == sorted(dates, reverse=True)  # newest first by default


def test_where_sort_top_select_exactly_the_matching_runs(outputs, capsys):
    records = run_json(capsys, str(outputs), "--where", "model.name=cnn and test.accuracy>0.9",
                       "--sort", "test.accuracy", "--top", "5")
    everything = run_json(capsys, str(outputs))
    expected = sorted((r for r in everything if r["config"]["model.name"] == "cnn"
                       and (r["metrics"].get("test.accuracy") or 0) > 0.9),
                      key=lambda r: -r["metrics"]["test.accuracy"])[:5]
    assert [r["run"] for r in records] == [r["run"] for r in expected]


def test_where_language_or_not_parentheses_and_strings():
    runs = index.load_runs([], use_index=False)
    assert runs == []
    make = lambda name, acc: index.Run(path=name, status="completed", metrics={"test.accuracy": acc},  # noqa: E731
                                       delta={"model.name": name, "optimizer.lr": 0.01})
    runs = [make("cnn", 0.95), make("mlp", 0.80), make("rnn", 0.91)]
    pick = lambda text: [r.path for r in runs if query.where(text, runs)(r)]  # noqa: E731
    assert pick("model.name='cnn' or test/accuracy < 0.85") == ["cnn", "mlp"]
    assert pick("not (model.name=cnn or model.name=\"mlp\")") == ["rnn"]
    assert pick("optimizer.lr=0.01 and model.name!=mlp") == ["cnn", "rnn"]
    with pytest.raises(query.QueryError, match="did you mean model.name"):
        query.where("modle.name=cnn", runs)
    with pytest.raises(query.QueryError, match="ends too early"):
        query.where("model.name=", runs)


def test_where_typo_is_one_line_naming_the_closest_key(outputs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([str(outputs), "--where", "test.acuracy>0.9"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "'test.acuracy'" in err and "test.accuracy" in err and "Traceback" not in err


def test_status_since_and_differing_keys(outputs, capsys):
    failed = run_json(capsys, str(outputs), "--status", "failed")
    assert len(failed) == COUNT // 50 and all(r["status"] == "failed" for r in failed)
    recent = run_json(capsys, str(outputs), "--since", "1h")  # one run every ten minutes
    assert 5 <= len(recent) <= 7
    cli.main([str(outputs), "--csv", "--top", "20"])
    header = next(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert {"model.name", "optimizer.lr", "data.batch_size"} <= set(header)
    assert "optimizer.beta_1" not in header  # the same in every run: left out unless --all-keys
    cli.main([str(outputs), "--csv", "--top", "20", "--all-keys"])
    assert "optimizer.beta_1" in next(csv.reader(io.StringIO(capsys.readouterr().out)))


def test_index_is_reused_and_follows_changes(outputs, capsys, monkeypatch):
    run_json(capsys, str(outputs))
    assert (outputs / index.INDEX).is_file()
    reads = []
    real = index.read_record
    monkeypatch.setattr(index, "read_record", lambda path: reads.append(path) or real(path))
    run_json(capsys, str(outputs))
    assert reads == []  # warm: nothing read again
    target = sorted(p.parent for p in outputs.rglob("metrics.json"))[0]
    metrics = json.loads((target / "metrics.json").read_text())
    metrics["test"]["accuracy"] = 0.123456
    (target / "metrics.json").write_text(json.dumps(metrics))
    records = run_json(capsys, str(outputs))
    assert reads == [target]
    assert next(r for r in records if r["run"] == str(target))["metrics"]["test.accuracy"] == 0.123456


def test_truncated_files_are_listed_as_unreadable_and_the_rest_shown(tmp_path, capsys):
    root = tmp_path / "outputs"
    paths = write_runs(root, 6)
    text = (paths[1] / "metrics.json").read_text()
    (paths[1] / "metrics.json").write_text(text[: len(text) // 2])
    (paths[2] / "config.yaml").write_text("model: {name: [cnn\n")
    records = run_json(capsys, str(root))
    assert len(records) == 6
    bad = {r["run"]: r for r in records if r["status"] == "unreadable"}
    assert set(bad) == {str(paths[1]), str(paths[2])}
    assert "metrics.json" in bad[str(paths[1])]["error"] and "config.yaml" in bad[str(paths[2])]["error"]
    cli.main([str(root)])  # the rich table says so too
    assert "unreadable" in capsys.readouterr().out


def test_two_processes_writing_the_index_leave_a_valid_file(tmp_path):
    import subprocess

    root = tmp_path / "outputs"
    write_runs(root, 120)
    code = "import sys; from bmrun.cli.runs import main; main([sys.argv[1], '--json'])"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root)], stdout=subprocess.DEVNULL, env=env)
             for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(json.loads((root / index.INDEX).read_text())["runs"]) == 120
    assert not [p for p in root.iterdir() if ".tmp" in p.name]


def test_diff_shows_config_metrics_and_history(outputs, capsys, tmp_path):
    a, b = sorted(p.parent for p in outputs.rglob("metrics.json"))[:2]
    cli.main(["diff", str(a), str(b), "--plot", str(tmp_path / "d.png")])
    out = capsys.readouterr().out
    assert "optimizer.lr" in out and "val.accuracy by epoch" in out
    assert "optimizer.beta_1" not in out
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit):
        cli.main(["diff", str(a), str(tmp_path)])
    assert "not a bmrun run dir" in capsys.readouterr().err


def test_importance_ranks_the_key_that_drives_the_objective_first(tmp_path, capsys):
    pytest.importorskip("optuna")
    pytest.importorskip("sklearn")
    from bmrun.cli import report

    sweep = tmp_path / "sweep"
    write_runs(sweep, 120, sweep=True)  # the objective depends on lr, a little on dropout
    report.main([str(sweep), "--importance"])
    out = capsys.readouterr().out
    first_row = next(line for line in out.splitlines() if line.startswith("│"))
    assert "optimizer.lr" in first_row
    assert (sweep / "parallel_coordinates.png").read_bytes()[:4] == b"\x89PNG"


def test_scikit_learns_mdi_is_optunas_mdi_and_optuna_is_not_imported_when_it_adds_nothing(tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("sklearn")
    import subprocess

    from bmrun.sweep import importance

    sweep = tmp_path / "sweep"
    write_runs(sweep, 60, sweep=True)
    runs = importance._usable(index.load_runs([sweep]))
    keys = ["optimizer.lr", "model.dropout_rate", "model.name", "data.batch_size"]
    import optuna

    study = importance.study_of(runs, keys, runs[0].objective_key)
    evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
    expected = optuna.importance.get_param_importances(study, evaluator=evaluator)
    got = importance.mdi_importance(runs, keys)
    assert got == pytest.approx(dict(expected), abs=1e-9)
    if importance._optuna_adds_nothing():  # optuna 2.x beside scikit-learn >= 1.4: the fast path
        code = (f"import sys; from bmrun.sweep.importance import rank; from bmrun.tracking.index import load_runs; "
                f"r = rank(load_runs([{str(sweep)!r}])); print(list(r.by_evaluator), 'optuna' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.split() == ["['MDI']", "False"]


def test_the_study_uses_optuna_3s_distributions_where_they_exist(monkeypatch):
    """Optuna >= 3 (the importance extra) warns on every Uniform distribution: the new classes are used."""
    import types

    from bmrun.sweep import importance

    made = []

    def kind(name):
        def build(*args, **kwargs):
            made.append((name, args, kwargs))
            return types.SimpleNamespace(kind=name)
        return build

    modern = types.ModuleType("optuna.distributions")
    modern.FloatDistribution, modern.IntDistribution = kind("float"), kind("int")
    modern.CategoricalDistribution = kind("categorical")
    monkeypatch.setitem(sys.modules, "optuna", types.ModuleType("optuna"))
    monkeypatch.setitem(sys.modules, "optuna.distributions", modern)
    importance._distribution([1e-4, 1e-2, 3e-3])
    importance._distribution([0.0, 0.5])
    importance._distribution([32, 64])
    importance._distribution(["cnn", "mlp"])
    assert made == [("float", (1e-4, 1e-2), {"log": True}), ("float", (0.0, 0.5), {"log": False}),
                    ("int", (32, 64), {}), ("categorical", (["cnn", "mlp"],), {})]


def test_ranking_beside_the_picture_gives_the_sequential_result_and_its_errors(tmp_path):
    """--importance ranks in a forked child while matplotlib loads: same numbers, same errors."""
    pytest.importorskip("sklearn")
    from bmrun.cli.report import ranked_beside
    from bmrun.sweep import importance

    sweep = tmp_path / "sweep"
    write_runs(sweep, 40, sweep=True)
    runs = index.load_runs([sweep])
    prepared = []
    forked = ranked_beside(importance.rank, runs, prepare=lambda: prepared.append(os.getpid()))
    assert prepared == [os.getpid()]  # prepare() ran here, in the parent
    alone = importance.rank(runs)
    assert forked.keys == alone.keys and forked.by_evaluator == alone.by_evaluator
    with pytest.raises(importance.ImportanceError, match="at least 2 completed runs"):
        ranked_beside(importance.rank, runs[:1], prepare=lambda: None)

    def missing(_runs):
        raise ImportError("No module named 'optuna'", name="optuna")

    with pytest.raises(ImportError) as raised:
        ranked_beside(missing, runs, prepare=lambda: None)
    assert raised.value.name == "optuna"


def test_the_ranking_runs_in_a_child_process_where_nothing_is_threaded(tmp_path):
    """The fork path itself (pytest-xdist's workers run threads, so it is checked in a fresh process)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the ranking is forked on Linux only")
    import subprocess

    code = ("import os; from bmrun.cli.report import ranked_beside; "
            "print(os.getpid(), ranked_beside(lambda runs: os.getpid(), [], prepare=lambda: None))")
    parent, ranked_in = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout.split()
    assert parent != ranked_in
