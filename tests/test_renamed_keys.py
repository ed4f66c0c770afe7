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
