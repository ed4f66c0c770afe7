"""Dense heads on image backbones that pool: model=cnn's maps with skips, the transformer's patch tokens."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import load_metrics, train_in_process
from segmentation_data import make_scans


def _model(family: str, shape=(18, 22, 1), **arguments):
    from bmrun.models.base import BasicModel

    return BasicModel(family, input_shape=shape, input_kind="image", num_outputs=3, task_kind="segmentation",
                      input_mean=0.0, input_variance=1.0, **arguments)


def test_the_cnn_head_upsamples_its_maps_through_the_skips_to_the_image_size():
    model = _model("cnn", filters=[4, 8], padding="same", hidden_dims=[16])
    names = [layer.name for layer in model.layers]
    assert model.output.shape[1:] == (18, 22, 3)
    assert {"head_skip_0", "head_skip_1"} <= set(names)  # act_1's skip (9x11), then act_0's (18x22)
    assert "flatten" not in names and "dense_0" not in names  # no pooled vector is built


def test_logits_of_a_smaller_map_are_resized_to_the_image():
    model = _model("cnn", filters=[4], padding="valid", hidden_dims=[16])  # 16x20 after a valid 3x3
    assert model.output.shape[1:] == (18, 22, 3) and model.get_layer("head_resize") is not None


def test_the_transformer_head_lays_patch_tokens_on_their_grid():
    model = _model("transformer", shape=(16, 24, 1), patch_size=4, num_layers=1, hidden_dim=8,
                   intermediate_dim=8, num_heads=2, pooling="cls")
    grid = model.get_layer("token_grid").output
    assert tuple(grid.shape[1:3]) == (4, 6)  # the class token dropped, 24 patches as 4x6
    assert model.output.shape[1:] == (16, 24, 3)


def test_a_unet_keeps_its_one_by_one_head():
    model = _model("unet", filters=4, depth=2)
    assert not any(layer.name.startswith("head_") for layer in model.layers)


@pytest.mark.slow
@pytest.mark.parametrize("family", [["model=cnn", "model.filters=[4,8]", "model.padding=same"],
                                    ["model=transformer", "model.patch_size=2", "model.num_layers=1",
                                     "model.hidden_dim=8", "model.intermediate_dim=8", "model.num_heads=2"]])
def test_cnn_and_transformer_train_a_segmentation_run(tmp_path, family):
    from bmrun.data import masks

    masks.forget()
    root = make_scans(tmp_path, count=12, size=(16, 16))
    run = tmp_path / "run"
    train_in_process(run, ["data=image_folder", f"data.path={root / 'scans'}", f"data.masks={root / 'masks'}",
                           *family, "trainer.max_epochs=1", "logger.tensorboard=false"])
    test = load_metrics(run)["test"]
    assert 0.0 <= test["mean_iou"] <= 1.0 and "pixel_accuracy" in test
