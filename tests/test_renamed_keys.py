"""Family keys renamed to the naming guide keep their old names working, with a one-line note."""

from __future__ import annotations

import logging

from omegaconf import OmegaConf

from conftest import validated


def test_old_names_on_the_command_line_set_the_new_keys(caplog):
    with caplog.at_level(logging.WARNING, logger="bmrun"):
        config = validated(["model.dense_dims=[16]"])
    assert config.model.hidden_dims == [16]
    assert "model.dense_dims is now called model.hidden_dims" in caplog.text
    assert validated(["model=transformer", "data=digits", "model.mlp_dim=32"]).model.intermediate_dim == 32


def test_an_old_run_config_with_old_names_loads_under_the_new_ones():
    from bmrun.config import compose, validate

    cfg = OmegaConf.create(OmegaConf.to_yaml(compose(["data=digits"])))  # as config.yaml loads
    cfg.model.pop("hidden_dims")
    cfg.model["dense_dims"] = [24]
    assert validate(cfg).model.hidden_dims == [24]


def test_a_model_saved_with_an_old_key_name_rebuilds():
    from bmrun.models.base import BasicModel

    model = BasicModel.from_config({"family": "cnn", "input_shape": [8, 8, 1], "input_kind": "image",
                                    "num_outputs": 3, "dense_dims": [12], "padding": "same"})
    assert model.arguments["hidden_dims"] == [12] and "dense_dims" not in model.get_config()


def test_the_beam_size_is_a_test_key_and_the_trainer_name_still_works(caplog):
    from bmrun.errors import ConfigError

    assert validated([]).test.beam_size == 1
    assert validated(["test.beam_size=4"]).test.beam_size == 4
    with caplog.at_level(logging.WARNING, logger="bmrun"):
        assert validated(["trainer.beam_size=3"]).test.beam_size == 3
    assert "trainer.beam_size is now called test.beam_size" in caplog.text
    try:
        validated(["test.beam_size=0"])
    except ConfigError as error:
        assert str(error).startswith("test.beam_size: must be >= 1")
    else:
        raise AssertionError("test.beam_size=0 was accepted")


def test_an_old_run_dir_with_trainer_beam_size_loads_and_resumes_under_test(tmp_path):
    """A config.yaml written before the test group: no test group, trainer.beam_size."""
    from bmrun.config import compose, validate
    from bmrun.config.resume import config_for_resume

    cfg = OmegaConf.create(OmegaConf.to_yaml(compose(["data=digits"])))
    cfg.pop("test")
    cfg.trainer["beam_size"] = 2
    assert validate(cfg).test.beam_size == 2
    (tmp_path / "checkpoints").mkdir()
    OmegaConf.save(cfg, tmp_path / "config.yaml")
    resumed, changes = config_for_resume(tmp_path, ["test.beam_size=5"])
    assert validate(resumed).test.beam_size == 5 and changes == {"test.beam_size": [2, 5]}


def test_the_reference_and_help_list_the_test_group(capsys):
    from bmrun.cli.keys import print_keys
    from bmrun.cli.reference import groups_markdown

    page = "\n".join(groups_markdown())
    assert "## `test`" in page and "test.beam_size" in page
    print_keys("test", "default")
    assert "test.beam_size" in capsys.readouterr().out
