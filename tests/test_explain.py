"""bmrun-explain: attributions that satisfy their axioms, pictures on disk and in TensorBoard."""

from __future__ import annotations

import csv
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import copy_of_digits_run, train_in_process


SYNTHETIC = textwrap.dedent('''
    import numpy as np

    def only_feature_3(seed, n=600):
        """Six standard-normal features; the label is the sign of feature 3 alone."""
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 6)).astype("float32")
        y = (x[:, 3] > 0).astype("int64")
        return {"x_train": x[:500], "y_train": y[:500], "x_test": x[500:], "y_test": y[500:]}
''')


@pytest.fixture(scope="module")
def cnn_run(digits_run, tmp_path_factory) -> Path:
    """A copy of the session's digits CNN run: explain writes into the run dir."""
    return copy_of_digits_run(digits_run, tmp_path_factory, "explain_cnn")


@pytest.fixture
def user_code(tmp_path, monkeypatch) -> Path:
    (tmp_path / "explain_data.py").write_text(SYNTHETIC)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("explain_data", None)


def test_integrated_gradients_are_complete_and_drawn(cnn_run):
    from bmrun.cli.explain import explain

    result = explain(str(cnn_run), "integrated_gradients", n=4)
    assert result["examples"] == 4
    assert result["completeness_error"] < 0.01  # sum of attributions = f(x) - f(black image)
    out = cnn_run / "explain"
    assert sorted(p.name for p in (out / "integrated_gradients").glob("*.png")) == [f"00{i}.png" for i in range(4)]
    maps = np.load(out / "integrated_gradients.npy")
    assert maps.shape == (4, 8, 8, 1) and np.abs(maps).sum() > 0
    from PIL import Image

    picture = Image.open(out / "integrated_gradients.png")
    assert picture.size[0] >= 300 and picture.mode == "RGB"  # legible at TensorBoard's default size
    assert list((cnn_run / "tensorboard" / "explain").glob("events.out.tfevents.*"))
    one = Image.open(out / "integrated_gradients" / "000.png")
    assert min(one.size) >= 256  # the 8x8 digit, enlarged
    caption = one.text["Caption"]
    assert caption.startswith("test[0]\npredicted ") and ", p = 0." in caption and "integrated gradients" in caption
    assert one.text["Colormap"] == "bmrun_attribution"


def test_smoothgrad_and_gradcam_explain_a_cnn(cnn_run):
    from bmrun.cli.explain import explain

    explain(str(cnn_run), "smoothgrad", n=2)
    explain(str(cnn_run), "gradcam", n=2)
    for method in ("smoothgrad", "gradcam"):
        assert (cnn_run / "explain" / f"{method}.png").is_file()
    heat = np.load(cnn_run / "explain" / "gradcam.npy")
    assert heat.shape == (2, 8, 8) and 0.0 <= heat.min() and heat.max() <= 1.0
    from PIL import Image

    one = Image.open(cnn_run / "explain" / "gradcam" / "001.png")
    assert min(one.size) >= 256 and one.text["Colormap"] == "jet" and one.text["Caption"].endswith("Grad-CAM")


def test_each_overlay_is_drawn_in_the_colour_map_of_its_legend():
    """On a black image an overlay's pixels are its legend's colours (Grad-CAM at 45% opacity)."""
    from bmrun.explain import figures

    black = np.zeros((4, 5, 1), np.float32)
    heat = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    expected = 0.45 * figures.legend_cmap("gradcam")(heat)[..., :3]
    assert np.allclose(figures.heat_overlay(black, heat), expected, atol=1e-6)
    attribution = np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5, 1)
    strength = attribution[..., 0] / np.percentile(np.abs(attribution), 99.9)
    legend = figures.legend_cmap("integrated_gradients")((np.clip(strength, -1, 1) + 1) / 2)[..., :3]
    assert np.allclose(figures.signed_overlay(black, attribution), legend, atol=1e-2)


def test_per_image_pictures_are_enlarged_sharply_and_captioned():
    from bmrun.explain import figures

    tile = np.full((8, 8, 3), 0.25, np.float32)
    tile[2, 3] = (1.0, 0.0, 1.0)  # one magenta pixel: a colour neither the caption nor the legend has
    picture = figures.example_picture(tile, "a.png\npredicted cat, p = 0.93\nGrad-CAM", "gradcam")
    assert picture.shape[0] > 256 and picture.shape[1] >= 256
    magenta = np.argwhere((picture == (255, 0, 255)).all(axis=-1))
    # it became one sharp 32x32 square (nearest neighbour, factor 256 / 8), not a blur
    assert len(magenta) == 32 * 32 and (magenta.max(axis=0) - magenta.min(axis=0) == 31).all()


def test_the_completeness_error_says_what_it_is_and_what_is_good():
    from bmrun.explain.report import completeness_note

    good = completeness_note(0.003)
    assert good.startswith("completeness error 0.3% (summed attributions vs. the output's change from the baseline")
    assert "below 5% means the integration steps were enough" in good and "approximate" not in good
    assert completeness_note(0.2).endswith("above it, read the attributions as approximate")


def test_only_the_feature_that_drives_the_label_ranks_first(tmp_path, user_code):
    from bmrun.cli.explain import explain

    run_dir = tmp_path / "table"
    train_in_process(run_dir, ["model=mlp", "data=custom", "data.target=explain_data:only_feature_3",
                               "trainer.max_epochs=5", "optimizer.lr=0.01"])
    result = explain(str(run_dir))
    assert result["ranking"][0] == "feature_3"
    with open(run_dir / "explain" / "feature_importance.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    values = [float(r["importance"]) for r in rows]
    assert rows[0]["feature"] == "feature_3" and values == sorted(values, reverse=True)
    assert values[0] > 3 * values[1]
    assert (run_dir / "explain" / "feature_importance.png").is_file()


def test_gradcam_on_a_model_without_convolutions_says_why(tmp_path):
    from bmrun.cli.explain import explain
    from bmrun.explain.report import ExplainError

    mlp = tmp_path / "mlp"
    train_in_process(mlp, ["model=mlp", "data.limit=100", "trainer.max_epochs=1"])
    with pytest.raises(ExplainError, match="gradcam needs a convolutional model"):
        explain(str(mlp), "gradcam")


def test_the_console_script_writes_and_refuses_in_one_paragraph(cnn_run, tmp_path):
    import subprocess

    script = Path(sys.executable).parent / "bmrun-explain"

    ok = subprocess.run([str(script), str(cnn_run), "--method", "gradcam", "--n", "3"], capture_output=True,
                        text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "absl" not in ok.stderr and "oneDNN" not in ok.stderr  # quiet by default: no TensorFlow start-up noise
    assert (cnn_run / "explain" / "gradcam" / "002.png").is_file()
    missing = subprocess.run([str(script), str(tmp_path / "nope")], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "nope" in missing.stderr
