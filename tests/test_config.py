"""Config composition and validation: groups, schemas, ranges, compatibility (no TensorFlow)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bmrun.config.schema import TrainConfig
from bmrun.models.cnn import CnnConfig
from bmrun.errors import ConfigError, DataError
from bmrun.cli.help import groups
from conftest import REPO, compose, validated

GROUPS = ("data", "model", "loss", "optimizer", "device", "trainer", "logger", "augment", "pretrain", "experiment",
          "debug", "hparams_search")


def test_default_config_composes_and_validates():
    config = validated()
    assert isinstance(config, TrainConfig)
    assert isinstance(config.model, CnnConfig)
    assert config.data.name == "digits" and config.model.name == "cnn"
    assert config.model.filters is None and config.model.hidden_dims == [64]  # None: [32] for images


def test_every_group_exists_and_every_option_composes():
    found = groups()
    for group in GROUPS:
        assert group in found, group
    default = compose()
    for group in ("data", "model", "loss", "optimizer", "device", "trainer", "logger", "augment", "pretrain"):
        for option in found[group]:
            cfg = compose([f"{group}={option}"])
            if "name" in cfg[group]:  # the option's file was the one composed
                assert cfg[group].name == option, (group, option)
            if option != default[group].get("name", "default" if group == "trainer" else "tensorboard"):
                assert cfg[group] != default[group], (group, option)  # choosing it changes the group


@pytest.mark.parametrize("option", sorted(groups()["experiment"]) + sorted(groups()["debug"]))
def test_presets_compose(option, tmp_path):
    group = "experiment" if option in groups()["experiment"] else "debug"
    extra = []
    if compose([f"{group}={option}"]).data.name == "image_folder":  # validation reads its folder's classes
        from test_data_image_folder import make_folder

        extra = [f"data.path={make_folder(tmp_path / 'images', per_class=2, test_per_class=1)}"]
    if group == "experiment":  # the header gives the command
        assert f"experiment={option}" in (REPO / "conf" / "experiment" / f"{option}.yaml").read_text()
    try:
        validated([f"{group}={option}", *extra])
    except DataError as error:  # a preset over a table the user fetches first (its header says how)
        assert compose([f"{group}={option}"]).data.name == "csv" and "no such file (data.path)" in str(error)


def test_unknown_key_is_rejected_by_schema():
    with pytest.raises(ConfigError, match="optimizer.lrr"):
        compose(["optimizer.lrr=0.1"])


def test_wrong_type_is_rejected_by_schema():
    with pytest.raises(ConfigError, match="optimizer.lr"):
        compose(["optimizer.lr=abc"])


def test_unknown_option_is_rejected():
    with pytest.raises(ConfigError, match="nope"):
        compose(["model=nope"])


@pytest.mark.parametrize("override, key", [
    ("trainer.max_epochs=-1", "trainer.max_epochs"),
    ("trainer.checkpoint_every_n_epochs=0", "trainer.checkpoint_every_n_epochs"),
    ("optimizer.lr=-0.1", "optimizer.lr"),
    ("data.batch_size=0", "data.batch_size"),
    ("model.dropout_rate=1.0", "model.dropout_rate"),
    ("data.val_fraction=1.0", "data.val_fraction"),
    ("device.precision=float64", "device.precision"),
    ("optimizer.schedule=step", "optimizer.schedule"),
])
def test_out_of_range_values_name_their_key(override, key):
    with pytest.raises(ConfigError) as info:
        validated([override])
    assert info.value.key == key


def test_incompatible_loss_is_refused_before_training():
    with pytest.raises(ConfigError, match="loss=mse does not fit"):
        validated(["loss=mse"])


def test_cnn_pooling_too_deep_for_small_images():
    with pytest.raises(ConfigError, match="pooling blocks"):
        validated(["model.filters=[8,8,8,8]"])


def test_config_path_does_not_import_tensorflow():
    code = ("import sys; sys.path.insert(0, 'tests'); from conftest import validated; "
            "validated(['model=mlp', 'data=fashion_mnist']); import bmrun.cli.app, bmrun.cli; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_tensorflow_imports_without_scikit_learn_which_still_imports_after():
    # Keras pulls in scikit-learn for wrappers bmrun never uses: ~0.7 s per start-up. The import
    # runs with the collector paused and ends with what it imported frozen, the collector back on.
    code = ("import sys; from bmrun.runtime.tfimport import import_tensorflow; import_tensorflow(); "
            "import keras; assert 'sklearn' not in sys.modules, 'imported'; "
            "import gc; assert gc.isenabled() and gc.get_freeze_count() > 100_000, 'not frozen'; "
            "from sklearn.datasets import load_digits; assert load_digits().data.shape == (1797, 64)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_debug_fast_shrinks_the_run():
    config = validated(["debug=fast"])
    assert config.trainer.max_epochs == 1 and config.data.limit == 256


@pytest.mark.parametrize("group", ["model", "data"])
def test_group_options_take_every_default_from_their_dataclass(group):
    """The dataclass is the one home of defaults: YAML files set only their schema and name, and
    the composed option still shows every key with its default (what `bmrun --cfg job` prints)."""
    import dataclasses

    import yaml

    from bmrun import registry

    for path in sorted((REPO / "conf" / group).glob("*.yaml")):
        text = path.read_text()
        assert text.startswith("# "), path  # the header bmrun --help shows
        content = yaml.safe_load(text)
        if text.startswith("# @package _global_"):  # a dataset carrying its recommended budget
            assert set(content) - {"defaults", group} <= {"optimizer", "trainer"}, path.name
            content = content[group]
        # A default that depends on the data (``${if_transcripts:...,A,B}``: speech to text or not) is
        # the one kind a YAML file may carry; composed without that data it must be the dataclass's.
        keys = {key for key, value in content.items() if not str(value).startswith("${if_")} - {"defaults"}
        assert keys == {"name"}, f"{path.name} repeats defaults: {keys - {'name'}}"
        entry = registry.entry(group, path.stem)
        composed = compose([f"{group}={path.stem}"])[group]
        for field in dataclasses.fields(entry.config):
            if field.name == "name":
                continue
            default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
            assert composed[field.name] == default, (path.stem, field.name)


def test_mlp_default_dropout_is_the_one_users_ran():
    assert compose(["model=mlp"]).model.dropout_rate == 0.1
    assert validated(["data=breast_cancer", "model=linear"]).data.batch_size == 32


def test_help_reads_the_defaults_list_as_yaml():
    from bmrun.cli.help import _defaults

    chosen = _defaults(REPO / "conf" / "train.yaml")
    assert chosen["data"] == "digits" and chosen["model"] == "cnn" and chosen["augment"] == "none"
    assert "hydra/job_logging" not in chosen and "experiment" not in chosen  # override, optional null


def test_family_checks_live_with_their_family():
    from bmrun.models import cnn, transformer

    assert cnn.FAMILY.checks is cnn.checks and transformer.FAMILY.checks is transformer.checks
    with pytest.raises(ConfigError, match="model.patch_size: 3 does not divide the 8x8"):
        validated(["model=transformer", "model.patch_size=3"])


def test_small_datasets_carry_their_budget_and_explicit_settings_win():
    plain = validated(["model=linear", "data=diabetes"])
    assert (plain.optimizer.lr, plain.optimizer.schedule, plain.trainer.max_epochs) == (0.05, "cosine", 30)
    explicit = validated(["model=linear", "data=diabetes", "optimizer.lr=0.2", "trainer.max_epochs=3"])
    assert (explicit.optimizer.lr, explicit.trainer.max_epochs) == (0.2, 3)
    preset = validated(["experiment=fashion_cnn_fast"])
    assert preset.data.name == "fashion_mnist" and preset.optimizer.lr == compose(
        ["experiment=fashion_cnn_fast"]).optimizer.lr
    assert validated(["debug=fast", "data=breast_cancer", "model=mlp"]).trainer.max_epochs == 1
    assert validated(["data=fashion_mnist"]).optimizer.lr == 1e-3  # large sets keep the group defaults

