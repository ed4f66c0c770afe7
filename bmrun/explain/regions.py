"""Grad-CAM of a segmentation model for one class over one region of the image.

A segmentation model has a logit per class at every pixel, so the one number Grad-CAM follows is
built from a region: the class's logits summed over the region's pixels (Vinogradova et al.
2020, "Towards interpretable semantic segmentation via gradient-weighted class activation
mapping"). The feature maps weighed are those of the coarsest convolution (a U-Net's
bottleneck, a CNN backbone's last stage): at full resolution, right before the 1x1 head, the
pooled gradient is the head's weights whatever the region, and the map would only repeat the
predicted mask.

The region is ``x0,y0,x1,y1`` in pixels, as a crop box: columns ``x0 .. x1-1`` and rows
``y0 .. y1-1`` (default: the whole image). The class is a name or an index (default, per image:
the foreground class predicted on most of the region's pixels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from bmrun.explain import figures
from bmrun.explain.attributions import cam_maps
from bmrun.explain.report import ExplainError, write_npy

Box = tuple[int, int, int, int]


def parse_region(text: Optional[str], height: int, width: int) -> Box:
    """``x0,y0,x1,y1`` checked against the image's size; None is the whole image."""
    if not text:
        return 0, 0, width, height
    parts = text.replace(" ", "").split(",")
    try:
        x0, y0, x1, y1 = (int(p) for p in parts)
    except ValueError:
        raise ExplainError(f"--region {text}: give four whole pixel numbers x0,y0,x1,y1 (a crop box: columns "
                           f"x0..x1-1, rows y0..y1-1), e.g. --region 0,0,{width},{height} for the whole "
                           f"{width}x{height} image.") from None
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ExplainError(f"--region {text}: the box must lie inside the {width}x{height} image with x0 < x1 and "
                           f"y0 < y1 (0 <= x0 < x1 <= {width}, 0 <= y0 < y1 <= {height}).")
    return x0, y0, x1, y1


def resolve_class(text: Optional[str], names: Sequence[str]) -> Optional[int]:
    """The class index of a name or an index among ``names``; None when not given."""
    if text is None or text == "":
        return None
    if text in names:
        return list(names).index(text)
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
        return int(text)
    raise ExplainError(f"--class {text}: not a class of this run; give a name or an index 0..{len(names) - 1} "
                       f"({', '.join(names)}).")


def region_classes(outputs: np.ndarray, box: Box) -> np.ndarray:
    """Per image, the foreground class predicted on most of the region's pixels (where the region
    is all background, the foreground class with the highest logit on most of its pixels)."""
    x0, y0, x1, y1 = box
    logits = np.asarray(outputs)[:, y0:y1, x0:x1, :]
    k = logits.shape[-1]
    chosen = []
    for image in logits:
        predicted = np.bincount(image.argmax(-1).reshape(-1), minlength=k)[1:]
        if predicted.sum() == 0:  # no foreground predicted: the runner-up among foreground classes
            predicted = np.bincount(image[..., 1:].argmax(-1).reshape(-1), minlength=k - 1)
        chosen.append(1 + int(predicted.argmax()))
    return np.asarray(chosen, np.int32)


def coarsest_conv(model):
    """The last of the convolutions with the fewest output pixels, the output head left out."""
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
             and layer.output is not model.outputs[0]]
    if not convs:
        raise ExplainError("--method gradcam needs a convolution before the model's head; this model has none.")
    area = min(int(c.output.shape[1]) * int(c.output.shape[2]) for c in convs)
    return [c for c in convs if int(c.output.shape[1]) * int(c.output.shape[2]) == area][-1]


def region_gradcam(model, x: np.ndarray, classes: np.ndarray, box: Box) -> np.ndarray:
    """Heatmaps ``[batch, H, W]`` in [0, 1] for each image's class summed over ``box``."""
    conv = coarsest_conv(model)
    probe = keras.Model(model.inputs, [conv.output, model.outputs[0]])
    x0, y0, x1, y1 = box
    with tf.GradientTape() as tape:
        features, outputs = probe(tf.constant(np.asarray(x, np.float32)), training=False)
        picked = tf.gather(outputs[:, y0:y1, x0:x1, :], tf.constant(classes, tf.int32), axis=3, batch_dims=1)
        # images are independent: the gradient of the sum is each image's own gradient
        score = tf.reduce_sum(picked)
    return cam_maps(features, tape.gradient(score, features), x.shape[1:3])


def _outlined(tile: np.ndarray, box: Box) -> np.ndarray:
    """The tile with the region's border drawn in white (only when the region is not the image)."""
    x0, y0, x1, y1 = box
    if (x0, y0, x1, y1) == (0, 0, tile.shape[1], tile.shape[0]):
        return tile
    tile = tile.copy()
    tile[y0:y1, [x0, x1 - 1]] = 1.0
    tile[[y0, y1 - 1], x0:x1] = 1.0
    return tile


def explain_regions(model, x: np.ndarray, labels: Sequence[str], names: Sequence[str], region: Optional[str],
                    class_text: Optional[str], out: Path) -> dict[str, Any]:
    """Grad-CAM of each image of ``x`` for a class over a region; the pictures as ``explain_images``'.

    Writes ``explain/gradcam/NNN.png`` (one captioned picture per image, the region outlined),
    ``explain/gradcam.png`` (their grid) and ``explain/gradcam.npy`` (the heatmaps).
    """
    x = np.asarray(x, np.float32)
    box = parse_region(region, x.shape[1], x.shape[2])
    outputs = np.asarray(model(x, training=False))
    names = list(names) if names and len(names) == outputs.shape[-1] else [f"class_{i}" for i in
                                                                             range(outputs.shape[-1])]
    chosen = resolve_class(class_text, names)
    classes = np.full(len(x), chosen, np.int32) if chosen is not None else region_classes(outputs, box)
    maps = region_gradcam(model, x, classes, box)
    x0, y0, x1, y1 = box
    predicted = outputs[:, y0:y1, x0:x1, :].argmax(-1)
    area = (x1 - x0) * (y1 - y0)
    tiles = [_outlined(figures.heat_overlay(image, heat), box) for image, heat in zip(x, maps)]
    where = "the whole image" if area == x.shape[1] * x.shape[2] else f"region {x0},{y0},{x1},{y1}"
    captions = [f"{label}\n{names[c]} over {where}: {np.mean(p == c):.0%} predicted\nGrad-CAM"
                for label, c, p in zip(labels, classes, predicted)]
    colormap = figures.legend_cmap("gradcam").name
    for i, (tile, caption) in enumerate(zip(tiles, captions)):
        figures.save_png(figures.example_picture(tile, caption, "gradcam"), out / "gradcam" / f"{i:03d}.png",
                         {"Caption": caption, "Method": "gradcam", "Colormap": colormap})
    picture = figures.grid(tiles, [f"{label}: {names[c]}" for label, c in zip(labels, classes)],
                           f"Grad-CAM of a class over {where} (colour: Grad-CAM weight)", method="gradcam")
    figures.save_png(picture, out / "gradcam.png")
    write_npy(out / "gradcam.npy", maps)
    return {"method": "gradcam", "examples": len(x), "region": f"{x0},{y0},{x1},{y1}",
            "classes": ", ".join(sorted({names[c] for c in classes})), "layer": coarsest_conv(model).name,
            "picture": str(out / "gradcam.png"), "picture_array": picture}
