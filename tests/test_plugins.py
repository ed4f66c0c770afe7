"""Plugins: entry-point families and datasets, ``model=custom`` / ``data=custom`` targets, bad
plugins, and the user's own config folder.

The example plugin (examples/plugin: ``model=tinyres``, ``data=bars``) is made visible through a
temporary ``.dist-info`` (see ``conftest.example_plugin``), so nothing is built or downloaded.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import (compose, drop_site, fake_distribution, load_metrics, resume_in_process, run_cli, run_dirs,
                      train_in_process, use_site, validated)

from bmrun.errors import ConfigError, DataError

TINY = ["trainer.max_epochs=1", "logger.progress_bar=false", "logger.print_config=false"]
BARS = ["model=tinyres", "data=bars", "model.width=8", "data.num_train=120", "data.num_test=30"]
DETERMINISTIC = ["trainer.deterministic=true", "logger.tensorboard=false"]


@pytest.fixture(scope="module")
def plugin_run(example_plugin, tmp_path_factory):
    """A finished tinyres-on-bars run (1 epoch), trained in this process."""
    path = tmp_path_factory.mktemp("tinyres_run")
    metrics = train_in_process(path, BARS + ["trainer.max_epochs=1"])
    assert metrics["status"] == "completed" and metrics["model"] == "tinyres"
    return path


# ----------------------------------------------------------------------------- registry, config
def test_built_ins_come_through_the_same_entry_points_as_plugins(example_plugin):
    from bmrun import registry

    cnn, = registry.declared("model")["cnn"]
    assert (cnn.package, cnn.value) == ("bmrun", "bmrun.models.cnn:FAMILY")
    tinyres, = registry.declared("model")["tinyres"]
    assert tinyres.package == "bmrun-example-plugin" and not tinyres.builtin
    assert registry.declared("data")["bars"][0].value == "bmrun_example_plugin.bars:load"


def test_help_lists_plugins_without_importing_tensorflow_or_the_plugin(example_plugin, tmp_path):
    code = ("import sys; from bmrun.cli.help import print_help; print_help(); "
            "assert 'tensorflow' not in sys.modules and 'bmrun_example_plugin' not in sys.modules, 'imported'")
    out = subprocess.run([sys.executable, "-c", code], env=_env(example_plugin), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "tinyres" in out.stdout and "bars" in out.stdout and "bmrun-example-plugin" in out.stdout
    helped = run_cli(["--help"], tmp_path, env=example_plugin)
    assert helped.returncode == 0 and "tinyres" in helped.stdout and "cnn" in helped.stdout


def test_keyword_arguments_become_typed_config_keys(example_plugin):
    from bmrun.data.dataset import DataConfig
    from bmrun.models.family import ModelConfig

    config = validated(BARS + ["model.blocks=2", "data.size=10"])
    assert isinstance(config.model, ModelConfig) and isinstance(config.data, DataConfig)
    assert (config.model.width, config.model.blocks, config.data.size) == (8, 2, 10)
    defaults = validated(["model=tinyres", "data=bars"])
    assert defaults.model.width == 16 and defaults.data.num_train == 300
    # Only the common model keys are added: no dropout_rate the plugin would never read.
    assert not hasattr(defaults.model, "dropout_rate") and defaults.model.freeze == "none"
    # The composed config (with its plugin dataclass) pickles, as joblib's launcher needs.
    assert pickle.loads(pickle.dumps(compose(BARS))).model.width == 8


@pytest.mark.parametrize("override, key", [("model.width=abc", "model.width"), ("model.nope=1", "model.nope"),
                                           ("data.size=wide", "data.size")])
def test_bad_plugin_keys_are_refused_naming_the_key(example_plugin, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        compose(["model=tinyres", "data=bars", override])


def test_cli_refuses_a_bad_plugin_key_in_one_paragraph_and_prints_its_defaults(example_plugin, tmp_path):
    refused = run_cli(["model=tinyres", "model.nope=1"], tmp_path, env=example_plugin)
    assert refused.returncode != 0 and "model.nope" in refused.stderr and "Traceback" not in refused.stderr
    job = run_cli(["--cfg", "job", "model=tinyres", "data=bars"], tmp_path, env=example_plugin, check=True)
    assert "name: tinyres" in job.stdout and "width: 16" in job.stdout and "num_train: 300" in job.stdout


def test_a_plugin_that_cannot_read_the_data_is_refused_before_loading(example_plugin):
    with pytest.raises(ConfigError, match="model=tinyres cannot read data=diabetes"):
        validated(["model=tinyres", "data=diabetes"])


def test_missing_facts_are_inferred_and_stated(example_plugin):
    from bmrun.data import load_prepared
    from bmrun.data.catalog import describe

    config = validated(BARS)
    task, inputs = describe(config.data)
    assert (task.kind, task.num_classes, task.class_names) == ("multiclass", 3, ("horizontal", "vertical", "diagonal"))
    assert (inputs.kind, inputs.shape) == ("image", (12, 12, 1))
    notes = load_prepared(config.data, seed=0).notes
    assert "task multiclass inferred" in notes and "inputs image (12, 12, 1) inferred" in notes


# ----------------------------------------------------------------------------- training
def test_train_then_resume_exactly(example_plugin, tmp_path, caplog):
    # In-process: the plugin's CLI runs are the sweep below and the fresh-process tests.
    run = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="bmrun.console")  # what the console printed, as bmrun.log keeps it
    train_in_process(run, BARS + DETERMINISTIC + ["trainer.max_epochs=1", "logger.print_config=compact"])
    assert "inferred from the" in caplog.text  # the run's description states the notes
    resume_in_process(run, ["trainer.max_epochs=2"])
    straight = train_in_process(tmp_path / "straight", BARS + DETERMINISTIC + ["trainer.max_epochs=2"])
    metrics = load_metrics(run)
    assert metrics["status"] == "completed" and metrics["epochs"] == 2
    assert metrics["test"] == straight["test"]


def test_sweep_mixes_plugin_and_built_in_families_with_tensorboard_and_hparams(example_plugin, tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", "model=tinyres,mlp", "data=bars", "data.num_train=90", "trainer.max_epochs=1",
                    "logger.progress_bar=false", "logger.print_config=false", f"hydra.sweep.dir={sweep}"],
                   tmp_path, env=example_plugin)
    assert proc.returncode == 0, proc.stderr
    runs = run_dirs(sweep)
    assert sorted(load_metrics(r)["model"] for r in runs) == ["mlp", "tinyres"]
    for run in runs:
        assert load_metrics(run)["status"] == "completed"
        assert (run / "tensorboard" / "hparams").is_dir() and list((run / "tensorboard" / "train").iterdir())
        assert (run / "model" / "saved_model").is_dir()
    assert (sweep / "summary.csv").is_file()


def test_eval_and_predict_on_a_plugin_run(plugin_run, tmp_path):
    from bmrun.cli.eval import evaluate_run
    from bmrun.cli.predict import predict_files
    from bmrun.models.loading import load_run_model

    assert load_run_model(plugin_run, "test").name == "tinyres"  # safe mode
    result, _ = evaluate_run(str(plugin_run))
    assert result["test"]["accuracy"] == pytest.approx(load_metrics(plugin_run)["test"]["accuracy"])
    from bmrun_example_plugin.bars import load

    batch = tmp_path / "bars.npy"
    np.save(batch, load(0, num_train=2, num_test=1)["x_train"])
    records = predict_files(str(plugin_run), [str(batch)])
    assert len(records) == 2 and all(r["name"] in ("horizontal", "vertical", "diagonal") for r in records)


def test_init_from_and_freeze_with_a_plugin_model(plugin_run, tmp_path):
    from bmrun.data import load_prepared
    from bmrun.models import build_model
    from bmrun.models.transfer import freeze_backbone, init_from_run

    config = validated(BARS + ["data.num_train=60"])
    model = build_model(config.model, load_prepared(config.data, 0))
    report = init_from_run(model, str(plugin_run), config.data)
    assert {"stem", "res0_conv1", "res0_conv2", "head"} <= set(report.copied)
    freeze_backbone(model)
    assert sorted(v.path for v in model.trainable_variables) == ["head/bias", "head/kernel"]
    metrics = train_in_process(tmp_path, BARS + [f"model.init_from={plugin_run}", "model.freeze=backbone"] + TINY)
    assert metrics["status"] == "completed"
    # The run trained the head alone: its trainable parameters are the head's kernel and bias.
    assert metrics["num_params"] == sum(int(np.prod(v.shape)) for v in model.trainable_variables)


# ----------------------------------------------------------------------------- custom targets
USER_CODE = '''
import numpy as np


def build(inputs, task, units=4, width_out=None):
    import keras

    x = keras.Input(shape=tuple(inputs.shape))
    h = keras.layers.Dense(units, activation="relu")(keras.layers.Flatten()(x))
    return keras.Model(x, keras.layers.Dense(width_out or task.num_outputs, name="head")(h))


def load(seed, n=80, features=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return {"x_train": x, "y_train": (x[:, 0] > 0).astype(int), "x_test": x[:20], "y_test": (x[:20, 0] > 0).astype(int)}


def load_regression(seed, n=60):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = x @ np.array([1.5, -2.0, 0.5], "float32") + 0.25
    return {"x_train": x, "y_train": y, "x_test": x[:10], "y_test": y[:10]}


def not_a_model(inputs, task):
    return "a string"


def not_a_dict(seed):
    return [1, 2, 3]


def no_test_split(seed):
    return {"x_train": np.zeros((4, 2)), "y_train": np.zeros(4), "y_test": np.zeros(1)}


def raises(seed):
    raise RuntimeError("disk on fire")


CONSTANT = 3
'''


@pytest.fixture
def user_code(tmp_path, monkeypatch):
    (tmp_path / "mycode.py").write_text(USER_CODE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("mycode", None)
    yield tmp_path
    sys.modules.pop("mycode", None)


def test_custom_targets_train_from_the_working_directory(user_code):
    proc = run_cli(["model=custom", "model.target=mycode:build", "model.args={units:3}", "data=custom",
                    "data.target=mycode:load", "data.args={n:60}", "hydra.run.dir=run"] + TINY, user_code)
    assert proc.returncode == 0, proc.stderr
    metrics = load_metrics(user_code / "run")
    assert metrics["status"] == "completed" and metrics["model"] == "custom" and "accuracy" in metrics["test"]


def test_predict_on_a_custom_regression_run_gives_values(user_code):
    from bmrun.cli.predict import predict_files

    run = user_code / "run"
    metrics = train_in_process(run, ["model=custom", "model.target=mycode:build", "data=custom",
                                     "data.target=mycode:load_regression"] + TINY)
    assert metrics["status"] == "completed" and "r2" in metrics["test"]
    np.save(user_code / "rows.npy", np.zeros((2, 3), np.float32))
    records = predict_files(str(run), [str(user_code / "rows.npy")])
    assert [set(r) for r in records] == [{"input", "value"}] * 2


@pytest.mark.parametrize("target, match", [
    ("nowhere:build", r"'nowhere:build' cannot be imported \(ModuleNotFoundError"),
    ("mycode:nothing", "'mycode:nothing' cannot be imported .module mycode has no attribute nothing"),
    ("mycode:CONSTANT", "'mycode:CONSTANT' is not callable"),
    ("mycode", "is not of the form module:callable"),
])
def test_a_bad_model_target_is_one_paragraph_naming_it(user_code, target, match):
    with pytest.raises(ConfigError, match=match) as info:
        validated(["model=custom", f"model.target={target}"])
    assert info.value.key == "model.target"


def test_custom_model_args_must_fit_the_signature(user_code):
    with pytest.raises(ConfigError, match="model.args: mycode:build cannot be called"):
        validated(["model=custom", "model.target=mycode:build", "model.args={depth:2}"])


@pytest.mark.parametrize("overrides, match", [
    (["model.target=mycode:not_a_model"], "model.target=mycode:not_a_model returned a str, not a keras.Model"),
    (["model.target=mycode:build", "model.args={width_out:3}"],
     r"returns outputs of shape \(None, 3\), but this multiclass task needs \(None, 10\)"),
])
def test_a_model_that_does_not_fit_the_task_is_refused_before_training(user_code, tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        train_in_process(tmp_path / "run", ["model=custom", "data.limit=40"] + overrides + TINY)
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("target, match", [
    ("mycode:not_a_dict", "data.target=mycode:not_a_dict returned a list; it must return a dict"),
    ("mycode:no_test_split", "returned a dict without x_test"),
    ("mycode:raises", "data.target=mycode:raises raised RuntimeError: disk on fire"),
])
def test_a_bad_data_target_is_one_paragraph_naming_it(user_code, target, match):
    with pytest.raises(DataError, match=match):
        validated(["data=custom", f"data.target={target}", "model=linear"])


# ----------------------------------------------------------------------------- bad plugins
def _env(plugin_env: dict, *sites: Path) -> dict:
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, sites), plugin_env["PYTHONPATH"]])}


def test_a_plugin_whose_import_raises_is_one_paragraph_and_spares_the_others(example_plugin, tmp_path):
    site = fake_distribution(tmp_path / "site", "broken-plugin", {"bmrun.models": {"broken": "broken_mod:build"}},
                             {"broken_mod.py": "raise RuntimeError('boom')\n"})
    env = {"PYTHONPATH": _env(example_plugin, site)["PYTHONPATH"]}
    proc = run_cli(["model=broken"], tmp_path, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "broken-plugin" in proc.stderr and "RuntimeError: boom" in proc.stderr
    ok = run_cli(["--cfg", "job", "model=tinyres"], tmp_path, env=env)
    assert ok.returncode == 0 and "width: 16" in ok.stdout


def test_two_plugins_with_one_name_are_refused_naming_both(tmp_path):
    site = tmp_path / "site"
    for package in ("dup-a", "dup-b"):
        fake_distribution(site, package, {"bmrun.models": {"twin": "twin_mod:build"}},
                          {"twin_mod.py": "def build(inputs, task):\n    pass\n"})
    use_site(site)
    try:
        with pytest.raises(ConfigError, match="model=twin is declared by more than one package .dup-a and dup-b."):
            validated(["model=twin"])
    finally:
        drop_site(site)


def test_a_built_in_name_wins_over_a_plugin_and_says_so(tmp_path, caplog):
    from bmrun import registry

    site = fake_distribution(tmp_path / "site", "shadow-plugin", {"bmrun.models": {"mlp": "shadow_mod:build"}},
                             {"shadow_mod.py": "def build(inputs, task):\n    pass\n"})
    use_site(site)
    try:
        with caplog.at_level(logging.WARNING, logger="bmrun"):
            registry.reload()
            entry = registry.model("mlp")
        assert entry.builtin and entry.package == "bmrun"
        assert "shadow-plugin is ignored" in caplog.text
    finally:
        drop_site(site)


def test_a_run_of_a_plugin_that_is_gone_names_it(tmp_path):
    from bmrun.models.loading import open_run
    from bmrun.models.loading import load_run_model

    site = fake_distribution(tmp_path / "site", "ghost-plugin", {"bmrun.models": {"ghost": "ghost_mod:build"}},
                             {"ghost_mod.py": USER_CODE})
    use_site(site)
    try:
        metrics = train_in_process(tmp_path / "run", ["model=ghost", "data.limit=40"] + TINY)
        assert metrics["status"] == "completed"
        assert load_run_model(tmp_path / "run", "test").count_params() > 0
    finally:
        drop_site(site)
    with pytest.raises(ConfigError, match="trained with model=ghost, which cannot be loaded here"):
        load_run_model(tmp_path / "run", "test")
    with pytest.raises(ConfigError, match="model=ghost"):
        open_run(str(tmp_path / "run"), "test")


# ----------------------------------------------------------------------------- own configs
def test_own_config_folder_adds_presets_and_group_options(tmp_path):
    extra = tmp_path / "conf_extra"
    (extra / "experiment").mkdir(parents=True)
    (extra / "model").mkdir()
    (extra / "model" / "wide_mlp.yaml").write_text(
        "# A wide MLP of my own.\ndefaults:\n  - /schema/model/mlp@_here_\n  - _self_\nname: mlp\nhidden_dims: [48]\n")
    (extra / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: wide_mlp\n  - override /data: breast_cancer\n"
        "trainer:\n  max_epochs: 3\n")
    config = validated_in(extra, ["experiment=mine"])
    assert config.model.hidden_dims == [48] and config.data.name == "breast_cancer"
    assert config.trainer.max_epochs == 3 and config.model.dropout_rate == 0.1
    proc = run_cli(["--config-dir", "./conf_extra", "experiment=mine", "--cfg", "job"], tmp_path, check=True)
    assert "- 48" in proc.stdout and "name: breast_cancer" in proc.stdout


def validated_in(config_dir: Path, overrides: list[str]):
    from bmrun.config import compose as bmrun_compose
    from bmrun.config import validate

    return validate(bmrun_compose(overrides, config_dir=str(config_dir)))


def test_example_plugin_keeps_keras_out_of_its_imports():
    code = ("import sys; sys.path.insert(0, 'examples/plugin'); import bmrun_example_plugin.tinyres, "
            "bmrun_example_plugin.bars; assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
