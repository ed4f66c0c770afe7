"""Pictures of a model's behaviour, drawn with NumPy and Pillow (no plotting library).

Every function returns an ``[height, width, 3]`` uint8 RGB array, ready for
``tf.summary.image``. Text uses Pillow's default font, so nothing depends on fonts installed
on the machine.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (150, 150, 150)
GREEN, RED, BLUE = (0, 120, 0), (200, 0, 0), (31, 119, 180)
PAD = 6


@lru_cache(maxsize=None)
def font(size: int = 11) -> ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` pixels (its fixed bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def text_size(text: str, size: int = 11) -> tuple[int, int]:
    left, top, right, bottom = font(size).getbbox(text)
    return int(right - left), int(bottom - top)


def fit_text(text: str, width: int, size: int = 11) -> str:
    """``text`` shortened with an ellipsis until it fits in ``width`` pixels."""
    if text_size(text, size)[0] <= width:
        return text
    while len(text) > 1 and text_size(text + "…", size)[0] > width:
        text = text[:-1]
    return text + "…"


def _title_height() -> int:
    """Height of the title band; fixed, so a picture's size does not depend on its title's letters."""
    return text_size("Agy", 12)[1] + 3 * PAD


def blues(values: np.ndarray) -> np.ndarray:
    """Sequential colour map from near-white (0) to dark blue (1): ``[...] -> [..., 3]`` uint8."""
    low, high = np.array([247, 251, 255], np.float64), np.array([8, 48, 107], np.float64)
    v = np.clip(np.asarray(values, np.float64), 0.0, 1.0)[..., None]
    return np.round(low + (high - low) * v).astype(np.uint8)


def hot(values: np.ndarray) -> np.ndarray:
    """Black -> red -> yellow -> white colour map for saliency: ``[...] -> [..., 3]`` uint8."""
    v = np.clip(np.asarray(values, np.float64), 0.0, 1.0)
    rgb = np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def to_rgb(image: np.ndarray, scale: int = 1) -> np.ndarray:
    """A raw image (``[h, w]`` or ``[h, w, c]``, values 0..255) as uint8 RGB, upscaled ``scale``x."""
    image = np.asarray(image, np.float64)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def upscale_factor(height: int, width: int, target: int = 56) -> int:
    """Integer (nearest-neighbour) zoom that makes small images at least ``target`` pixels wide."""
    return max(1, int(np.ceil(target / max(min(height, width), 1))))


def _canvas(width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    canvas = Image.new("RGB", (int(width), int(height)), WHITE)
    return canvas, ImageDraw.Draw(canvas)


def _vertical_text(text: str, size: int = 11) -> Image.Image:
    width, height = text_size(text, size)
    label = Image.new("RGB", (width + 2, height + 4), WHITE)
    ImageDraw.Draw(label).text((1, -font(size).getbbox(text)[1] + 1), text, fill=BLACK, font=font(size))
    return label.rotate(90, expand=True)


def confusion_matrix_image(matrix: np.ndarray, class_names: Sequence[str], title: str) -> np.ndarray:
    """Confusion matrix (rows: true class, columns: predicted), cells shaded by row share.

    Shading by the share of the row (recall) keeps rare classes readable; the printed number
    is the count.
    """
    matrix = np.asarray(matrix, np.float64)
    k = matrix.shape[0]
    names = [str(n) for n in class_names]
    cell = int(np.clip(440 // max(k, 1), 24, 64))
    row_label_w = max(text_size(n)[0] for n in names) + 2 * PAD
    col_label_h = max(text_size(n)[0] for n in names) + 2 * PAD
    title_h = _title_height()
    left, top = row_label_w + 18, title_h + 16
    width = max(left + k * cell + PAD, text_size(title, 12)[0] + 2 * PAD)
    canvas, draw = _canvas(width, top + k * cell + col_label_h + 16)
    draw.text((PAD, PAD), title, fill=BLACK, font=font(12))
    draw.text((left + (k * cell - text_size("predicted")[0]) // 2, title_h), "predicted", fill=GREY, font=font())
    canvas.paste(_vertical_text("true"), (2, top + (k * cell - text_size("true")[0]) // 2))
    totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    shares = matrix / totals
    colours = blues(shares)
    for i in range(k):
        for j in range(k):
            x0, y0 = left + j * cell, top + i * cell
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=tuple(int(c) for c in colours[i, j]),
                           outline=(225, 225, 225))
            count = f"{int(round(matrix[i, j]))}"
            tw, th = text_size(count, 10)
            draw.text((x0 + (cell - tw) // 2, y0 + (cell - th) // 2 - 1), count,
                      fill=WHITE if shares[i, j] > 0.5 else BLACK, font=font(10))
        tw, th = text_size(names[i])
        draw.text((left - tw - PAD, top + i * cell + (cell - th) // 2 - 1), names[i], fill=BLACK, font=font())
    for j, name in enumerate(names):
        label = _vertical_text(name)
        canvas.paste(label, (left + j * cell + (cell - label.width) // 2, top + k * cell + PAD))
    return np.asarray(canvas)


def image_grid(images: np.ndarray, captions: Sequence[Sequence[tuple[str, tuple]]], title: str,
               columns: int = 8) -> np.ndarray:
    """A grid of raw images, each with a few coloured caption lines under it.

    Args:
        images: ``[n, h, w, c]`` raw images (0..255).
        captions: Per image, ``(text, rgb)`` lines.
        title: Line above the grid.
        columns: Images per row.
    """
    n = len(images)
    h, w = images.shape[1:3]
    scale = upscale_factor(h, w)
    tile_w = max(w * scale, 64)
    line_h = text_size("Ag")[1] + 3
    lines = max((len(c) for c in captions), default=0)
    tile_h = h * scale + lines * line_h + PAD
    columns = max(1, min(columns, n))
    rows = max(1, int(np.ceil(n / columns)))
    title_h = _title_height()
    width = max(columns * (tile_w + PAD) + PAD, text_size(title, 12)[0] + 2 * PAD)
    canvas, draw = _canvas(width, title_h + rows * (tile_h + PAD))
    draw.text((PAD, PAD), title, fill=BLACK, font=font(12))
    for index in range(n):
        r, c = divmod(index, columns)
        x0, y0 = PAD + c * (tile_w + PAD), title_h + r * (tile_h + PAD)
        canvas.paste(Image.fromarray(to_rgb(images[index], scale)), (x0 + (tile_w - w * scale) // 2, y0))
        for line, (text, colour) in enumerate(captions[index]):
            draw.text((x0, y0 + h * scale + 2 + line * line_h), fit_text(text, tile_w), fill=colour, font=font())
    return np.asarray(canvas)


def saliency_image(images: np.ndarray, maps: np.ndarray, captions: Sequence[str], title: str) -> np.ndarray:
    """Each image above its saliency map (``hot`` colours, each map scaled to its own maximum).

    Args:
        images: ``[n, h, w, c]`` raw images.
        maps: ``[n, h, w]`` non-negative saliency.
        captions: One line per image (e.g. its predicted class).
        title: Line above the pictures.
    """
    n = len(images)
    h, w = images.shape[1:3]
    scale = upscale_factor(h, w)
    tile_w = max(w * scale, 56)
    line_h = text_size("Ag")[1] + 4
    title_h = _title_height()
    width = max(n * (tile_w + PAD) + PAD, text_size(title, 12)[0] + 2 * PAD)
    canvas, draw = _canvas(width, title_h + line_h + 2 * h * scale + 3 * PAD)
    draw.text((PAD, PAD), title, fill=BLACK, font=font(12))
    peaks = np.maximum(maps.reshape(n, -1).max(axis=1), 1e-12)
    for index in range(n):
        x0 = PAD + index * (tile_w + PAD)
        offset = x0 + (tile_w - w * scale) // 2
        draw.text((x0, title_h), fit_text(captions[index], tile_w), fill=BLACK, font=font())
        y0 = title_h + line_h
        canvas.paste(Image.fromarray(to_rgb(images[index], scale)), (offset, y0))
        heat = hot(maps[index] / peaks[index])
        heat = np.repeat(np.repeat(heat, scale, axis=0), scale, axis=1)
        canvas.paste(Image.fromarray(heat), (offset, y0 + h * scale + PAD))
    return np.asarray(canvas)


def _tick(value: float) -> str:
    return f"{value:.3g}"


def scatter_image(true: np.ndarray, predicted: np.ndarray, title: str, size: int = 360,
                  limits: Optional[tuple[float, float]] = None) -> np.ndarray:
    """Predicted against true values, with the ``y = x`` line a perfect model would sit on.

    Args:
        true, predicted: 1-D arrays of equal length.
        title: Line above the plot.
        size: Side of the square plot area in pixels.
        limits: Axis range (both axes); default: the data's range plus 5%.
    """
    true = np.asarray(true, np.float64).ravel()
    predicted = np.asarray(predicted, np.float64).ravel()
    finite = np.isfinite(true) & np.isfinite(predicted)
    true, predicted = true[finite], predicted[finite]
    if limits is None:
        both = np.concatenate([true, predicted]) if len(true) else np.array([0.0, 1.0])
        lo, hi = float(both.min()), float(both.max())
        span = hi - lo or 1.0
        limits = (lo - 0.05 * span, hi + 0.05 * span)
    lo, hi = limits
    label_w = max(text_size(_tick(v))[0] for v in (lo, hi, (lo + hi) / 2)) + 2 * PAD
    left, title_h = label_w + 18, _title_height()
    bottom = 2 * text_size("Ag")[1] + 3 * PAD
    canvas, draw = _canvas(max(left + size + 2 * PAD, text_size(title, 12)[0] + 2 * PAD), title_h + size + bottom)
    draw.text((PAD, PAD), title, fill=BLACK, font=font(12))

    def px(value: np.ndarray) -> np.ndarray:
        return (np.asarray(value) - lo) / (hi - lo) * (size - 1)

    x0, y0 = left, title_h
    draw.rectangle([x0, y0, x0 + size - 1, y0 + size - 1], outline=GREY)
    draw.line([x0, y0 + size - 1, x0 + size - 1, y0], fill=GREY)  # y = x
    for value, align in ((lo, 0.0), ((lo + hi) / 2, 0.5), (hi, 1.0)):
        p = float(px(value))
        label = _tick(value)
        tw, th = text_size(label)
        # End labels align inwards so the two axes' labels never collide in the corner.
        draw.text((x0 + p - tw * align, y0 + size + 2), label, fill=BLACK, font=font())
        draw.text((x0 - tw - 4, y0 + size - 1 - p - th / 2), label, fill=BLACK, font=font())
    draw.text((x0 + (size - text_size("true")[0]) // 2, y0 + size + text_size("Ag")[1] + 2 * PAD), "true",
              fill=GREY, font=font())
    canvas.paste(_vertical_text("predicted"), (2, y0 + (size - text_size("predicted")[0]) // 2))
    for t, p in zip(px(true), px(predicted)):
        cx, cy = x0 + t, y0 + size - 1 - p
        draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], fill=BLUE)
    return np.asarray(canvas)
