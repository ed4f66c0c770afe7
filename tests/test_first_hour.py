"""What a newcomer meets in the first hour: refused commands that touch nothing, typo messages that
suggest the right key, ``GROUP=OPTION --help``, output that survives a pipe, a useful bmrun.log."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from conftest import run_cli, validated

TINY = ["data.limit=64", "trainer.max_epochs=1", "logger.progress_bar=false"]


def _digest(run_dir: Path) -> dict[str, str]:
    """Every file of a run dir and its content hash."""
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("finished")
    run_dir = root / "run"
    run_cli([f"hydra.run.dir={run_dir}", *TINY], root, check=True)
    return run_dir


@pytest.mark.parametrize("args, needle", [
    (["optimizer.lr=0.1"], "optimizer.lr (0.003 -> 0.1)"),
    (["seed=3"], "seed (0 -> 3)"),
    (["optimizer.lrr=0.1"], "optimizer.lrr"),
    (["model=cnnn"], "model (cnn -> cnnn)"),
    ([], "already finished 1 epochs"),
    (["trainer.max_epochs=3", "lock"], "is being trained by process"),
])
def test_a_refused_resume_leaves_every_file_of_the_run_byte_identical(finished_run, tmp_path, args, needle):
    lock = finished_run / ".lock"
    if "lock" in args:
        args = [a for a in args if a != "lock"]
        lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    before = _digest(finished_run)
    try:
        proc = run_cli([f"resume={finished_run}", *args], tmp_path)
    finally:
        lock.unlink(missing_ok=True)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    before.pop(".lock", None)
    assert _digest(finished_run) == before
    assert json.loads((finished_run / "metrics.json").read_text())["status"] == "completed"


@pytest.mark.parametrize("args", [["optimizer.lrr=0.01"], ["model=cnnn"], ["optimizer.lr=-1"],
                                  ["data=digits", "data.path=/x"]])
def test_a_config_error_before_training_creates_no_run_dir(tmp_path, args):
    proc = run_cli(args, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*"))


@pytest.mark.parametrize("args, message", [
    (["optimizer.lrr=0.01"], "optimizer.lrr: unknown key; did you mean optimizer.lr? List the keys with "
                             "bmrun optimizer=adam --help."),
    (["model=cnnn"], "model=cnnn: no such option; did you mean model=cnn?"),
    (["model=rnn", "model.celll=gru"], "did you mean model.cell?"),
    (["trainer.max_epoch=3"], "did you mean trainer.max_epochs? List the keys with bmrun trainer=default --help."),
    (["data=csvv"], "did you mean data=csv?"),
])
def test_typos_get_one_line_with_the_closest_key_or_option(args, message):
    from bmrun.cli.preflight import check_command
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        check_command(args)
    assert message in str(info.value)
    assert "HYDRA_FULL_ERROR" not in str(info.value) and "\n" not in str(info.value)


def test_a_typo_in_any_value_of_a_sweep_is_caught_before_the_sweep_starts():
    from bmrun.cli.preflight import check_command
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean model=rnn"):
        check_command(["-m", "model=cnn,rnnn"])
    with pytest.raises(ConfigError, match="did you mean optimizer.lr"):
        check_command(["--multirun", "optimizer.lrr=1e-3,1e-2"])
    check_command(["-m", "model=cnn,rnn", "optimizer.lr=1e-3,1e-2"])  # a good sweep passes


@pytest.mark.parametrize("name", ["digits", "diabetes", "breast_cancer"])
def test_a_data_path_the_dataset_would_ignore_is_refused(name):
    from bmrun.cli.preflight import check_command
    from bmrun.errors import ConfigError

    model = ["model=mlp"] if name != "digits" else []
    with pytest.raises(ConfigError, match=f"data={name} reads no file"):
        check_command([f"data={name}", "data.path=/x", *model])


def test_output_survives_a_pipe_and_the_run_leaves_its_log_and_provenance(tmp_path):
    """Off a terminal and without COLUMNS: whole lines, whole paths; bmrun.log holds what was printed."""
    import subprocess
    import sys

    run_dir = tmp_path / ("a-rather-long-folder-name-" * 3) / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "HYDRA_FULL_ERROR")}
    proc = subprocess.run([sys.executable, "-m", "bmrun", f"hydra.run.dir={run_dir}", *TINY,
                           "data.batch_size=16", "optimizer.lr=0.01"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    stdout_lines, stderr_lines = proc.stdout.splitlines(), proc.stderr.splitlines()
    assert any(line.startswith("epoch 1/1") and "val loss" in line and "best" in line for line in stderr_lines)
    assert f"run dir   {run_dir}" in stdout_lines  # the path whole, on one line
    for command in (f"bmrun-report {run_dir.parent}", f"tensorboard --logdir {run_dir}", f"bmrun-predict {run_dir}",
                    f"bmrun resume={run_dir}"):
        assert command in proc.stdout
    # The config print is compact: chosen options and the changed keys only.
    assert any("optimizer  name=adam lr=0.01" in line for line in stderr_lines), proc.stderr
    assert "beta_1" not in proc.stderr
    log = (run_dir / "bmrun.log").read_text()
    assert "epoch 1/1" in log and "bmrun results: completed" in log and "test" in log
    environment = json.loads((run_dir / "metrics.json").read_text())["environment"]
    assert environment["tensorflow"] and environment["keras"] and environment["python"] and environment["host"]
    assert "git" in environment


def test_a_failed_run_ends_with_its_run_dir_and_logs_the_error(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli([f"hydra.run.dir={run_dir}", "data=mnist", "data.path=/no/such/mnist.npz", *TINY], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert f"run dir   {run_dir}" in proc.stderr and f"{run_dir}/bmrun.log" in proc.stderr
    assert "/no/such/mnist.npz" in (run_dir / "bmrun.log").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "failed"


def test_git_commit_is_recorded_inside_a_repository(tmp_path):
    import subprocess

    from bmrun.provenance import environment

    assert environment(tmp_path)["git"] is None
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run(["git", "add", "a.txt"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a"], cwd=tmp_path, check=True)
    git = environment(tmp_path)["git"]
    assert len(git["commit"]) == 40 and git["dirty"] is False


@pytest.mark.parametrize("args, needles", [
    (["model=rnn", "--help"], ["model=rnn: Recurrent network", "model.cell", "lstm", "model.hidden_dim     int"]),
    (["data=csv", "--help"], ["data.target", "The column to predict.", "data.path"]),
    (["optimizer=sgd", "-h"], ["optimizer.momentum", "0.9"]),
])
def test_group_option_help_lists_its_keys_with_type_default_and_help(capsys, monkeypatch, args, needles):
    import sys

    from bmrun.cli import main

    monkeypatch.setattr(sys, "argv", ["bmrun", *args])
    main()
    shown = capsys.readouterr().out
    for needle in needles:
        assert needle in shown, shown


def test_group_option_help_keeps_tensorflow_and_hydra_out(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.argv=['bmrun','model=transformer','--help']; from bmrun.cli import main; main(); "
            "assert 'tensorflow' not in sys.modules and 'hydra' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, capture_output=True)


def test_help_summaries_are_whole_sentences():
    from bmrun.cli.help import groups

    for group, options in groups().items():
        for option, summary in options.items():
            if summary.startswith("plugin:"):
                continue
            assert summary.rstrip().endswith((".", ")", "1.0")), f"{group}={option}: {summary!r}"


def test_every_console_script_option_has_help(monkeypatch):
    import argparse

    from bmrun.cli import explain, predict, report

    class Built(Exception):
        pass

    def capture(self, *args, **kwargs):
        raise Built(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    for script in (explain, predict, report):
        with pytest.raises(Built) as info:
            script.main([])
        parser = info.value.args[0]
        for action in parser._actions:
            assert action.help, f"{parser.prog}: {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_carry_groups_options_and_keys(shell):
    from bmrun.cli.completion import script

    text = script(shell)
    for word in ("model=cnn", "data=fashion_mnist", "optimizer.lr=", "trainer.max_epochs=", "seed="):
        assert word in text


def test_bash_completion_answers_fast_and_completes_after_the_equals_sign(tmp_path):
    import shutil
    import subprocess
    import time

    from bmrun.cli.completion import script

    if shutil.which("bash") is None:
        pytest.skip("no bash")
    (tmp_path / "c.bash").write_text(script("bash"))
    probe = ('source ./c.bash; for line in "bmrun model=cn" "bmrun optimizer.l"; do COMP_LINE="$line"; '
             'COMP_POINT=${#line}; _bmrun; echo "${COMPREPLY[*]}"; done')
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    assert proc.stdout.splitlines() == ["cnn", "optimizer.lr="]
    assert elapsed < 0.3  # two answers, bash's own start included: no Python runs on TAB


def test_results_table_names_the_tested_epoch_and_shows_binary_ranking_metrics(capsys):
    from bmrun.console import print_results

    metrics = {"status": "completed", "epochs": 5, "best_epoch": 3, "tested_weights": "best", "duration_s": 1.0,
               "train": {"loss": 0.2, "accuracy": 0.9}, "val": {"loss": 0.3, "accuracy": 0.8, "roc_auc": 0.91},
               "test": {"loss": 0.3, "accuracy": 0.85, "roc_auc": 0.93, "pr_auc": 0.88}}
    print_results(metrics, "run")
    shown = capsys.readouterr().out
    assert "test (epoch 3 weights)" in shown and "roc_auc" in shown and "pr_auc" in shown and "0.9300" in shown


def test_logger_print_config_chooses_compact_full_or_none(capsys):
    from bmrun import console

    config = validated(["optimizer.lr=0.01", "logger.print_config=full"])
    assert config.logger.print_config == "full"
    assert validated(["logger.print_config=false"]).logger.print_config == "false"
    assert validated(["logger.print_config=true"]).logger.print_config == "compact"  # the older boolean
    console.print_config(config, title="t", full=True)
    full = capsys.readouterr().err
    console.print_config(config, title="t", full=False)
    compact = capsys.readouterr().err
    assert "beta_1" in full and "beta_1" not in compact and "lr=0.01" in compact


def test_a_value_hydra_cannot_parse_says_how_to_quote_it():
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^data.target: 'Preis \(\$\)' is not a plain value.*quote it"):
        validated(["data=csv", "data.path=/x.csv", "data.target=Preis ($)"])
