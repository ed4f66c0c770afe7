"""Two class folders are a binary task, like a two-class CSV target: one rule (docs/data.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bmrun.errors import ConfigError
from conftest import train_in_process, validated
from test_data_image_folder import write_bmp


def _folder(root: Path, classes=("cat", "dog"), count: int = 8) -> Path:
    """Small BMPs (written without TensorFlow), each class a different brightness."""
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(count):
            write_bmp(root / name / f"{i}.bmp", np.full((6, 6, 1), 40 + 80 * label + i, np.uint8))
    return root


def _task(overrides):
    from bmrun.data.catalog import describe

    return describe(validated(overrides).data)[0]


def test_two_class_folders_are_binary_like_a_two_class_csv(tmp_path):
    folder = _folder(tmp_path / "pets")
    table = tmp_path / "pets.csv"
    table.write_text("weight,kind\n" + "".join(f"{i},{'cat' if i % 2 else 'dog'}\n" for i in range(20)))
    image_task = _task(["data=image_folder", f"data.path={folder}"])
    csv_task = _task(["data=csv", f"data.path={table}", "data.target=kind", "model=mlp"])
    assert image_task.kind == csv_task.kind == "binary"
    assert image_task.class_names == ("cat", "dog") and image_task.num_outputs == 1
    forced = _task(["data=image_folder", f"data.path={folder}", "data.task=multiclass"])
    assert forced.kind == "multiclass" and forced.num_outputs == 2


def test_three_class_folders_are_multiclass_and_binary_is_refused(tmp_path):
    folder = _folder(tmp_path / "three", classes=("a", "b", "c"))
    assert _task(["data=image_folder", f"data.path={folder}"]).kind == "multiclass"
    with pytest.raises(ConfigError, match=r"data.task: binary needs two class folders.*has 3 \(a, b, c\)"):
        _task(["data=image_folder", f"data.path={folder}", "data.task=binary"])


def test_consistency_training_takes_two_class_folders_as_multiclass(tmp_path):
    folder = _folder(tmp_path / "pets")
    semi = ["data=image_folder", f"data.path={folder}", "trainer.semi_supervised=consistency",
            "data.label_fraction=0.5"]
    with pytest.raises(ConfigError, match="binary task"):
        validated(semi)
    assert validated([*semi, "data.task=multiclass"]).trainer.semi_supervised == "consistency"


def test_a_two_class_folder_trains_as_binary_and_reports_ranking_metrics(tmp_path):
    folder = _folder(tmp_path / "pets")
    metrics = train_in_process(tmp_path / "run", ["data=image_folder", f"data.path={folder}", "model=linear",
                                                  "trainer.max_epochs=1", "data.batch_size=4"])
    assert metrics["loss"] == "binary_cross_entropy"
    assert {"roc_auc", "pr_auc"} <= set(metrics["test"])


def test_an_older_two_class_folder_run_config_stays_multiclass():
    """Run dirs written before data.task existed hold a two-output model: their config loads multiclass."""
    from omegaconf import OmegaConf

    from bmrun.config.migrate import migrate

    old = OmegaConf.create({"data": {"name": "image_folder", "path": "/x"}})
    assert migrate(old).data.task == "multiclass"
    assert "task" not in old.data  # the caller's config is left as it was
    today = OmegaConf.create({"data": {"name": "image_folder", "path": "/x", "task": "auto"}})
    assert migrate(today).data.task == "auto"
