"""Pictures of attributions, drawn with matplotlib (Agg: no display needed) as RGB arrays.

Attribution overlays follow keras.io's integrated-gradients example: positive attributions in
green and negative ones in red, each clipped at a high percentile (99.9th) so a few extreme
pixels do not wash the rest out, drawn over the greyscale input. Grad-CAM's heatmap uses
:data:`HEAT_CMAP`. Every picture's colour bar is drawn from the colour map of its overlay
(:func:`legend_cmap`), so the legend cannot drift from the pixels. Text is sized for
TensorBoard's default image display (about 10 px high at 100%).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

HEAT_CMAP = "jet"  # Grad-CAM's heatmap: the overlay and its colour bar both read this name
SIGNED_CMAP = "bmrun_attribution"  # red (against) through black (none) to green (for)
MIN_SIDE = 256  # per-image pictures: small images are enlarged (nearest neighbour) to at least this

def pyplot():
    # matplotlib: only when drawing, never at --help or config composition
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only: never look for a display
    # matplotlib: only when drawing, never at --help or config composition
    import matplotlib.pyplot as plt

    return plt


def to_array(fig, close: bool = True) -> np.ndarray:
    """The figure rendered as an RGB uint8 array; closed unless it is kept to be redrawn."""
    fig.canvas.draw()
    picture = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    if close:
        pyplot().close(fig)
    return picture


def _grey(image: np.ndarray) -> np.ndarray:
    """An image (H, W, C) of raw pixel values as a [0, 1] greyscale map."""
    grey = np.asarray(image, np.float32).mean(axis=-1)
    low, high = float(grey.min()), float(grey.max())
    return (grey - low) / (high - low) if high > low else np.zeros_like(grey)


def signed_overlay(image: np.ndarray, attribution: np.ndarray, percentile: float = 99.9) -> np.ndarray:
    """RGB (H, W, 3) in [0, 1]: the image in grey, positive attributions green, negative red."""
    per_pixel = np.asarray(attribution, np.float32).sum(axis=-1)
    scale = np.percentile(np.abs(per_pixel), percentile) or 1.0
    strength = np.clip(per_pixel / scale, -1.0, 1.0)
    base = 0.6 * _grey(image)[..., None] * np.ones(3, np.float32)
    positive, negative = np.clip(strength, 0, 1), np.clip(-strength, 0, 1)
    overlay = base * (1 - np.maximum(positive, negative))[..., None]
    overlay[..., 1] += positive
    overlay[..., 0] += negative
    return np.clip(overlay, 0.0, 1.0)


def heat_overlay(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3): the image in grey under a [0, 1] heatmap (Grad-CAM)."""
    colours = legend_cmap("gradcam")(np.clip(heat, 0, 1))[..., :3]
    return np.clip(0.55 * _grey(image)[..., None] + 0.45 * colours, 0.0, 1.0)


def legend_cmap(method: str):
    """The colour map of ``method``'s overlay: :data:`HEAT_CMAP` for Grad-CAM; for signed
    attributions the colours :func:`signed_overlay` adds (exactly its pixels on a black image)."""
    # matplotlib: only when drawing, never at --help or config composition
    import matplotlib
    from matplotlib.colors import LinearSegmentedColormap

    if method == "gradcam":
        return matplotlib.colormaps[HEAT_CMAP]
    return LinearSegmentedColormap.from_list(SIGNED_CMAP, [(1.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0)])


def _legend(fig, rect: Sequence[float], method: str) -> None:
    """A horizontal colour bar in ``rect`` (figure fractions) from the overlay's own colour map."""
    # matplotlib: only when drawing
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    gradcam = method == "gradcam"
    low = 0.0 if gradcam else -1.0
    bar = fig.colorbar(ScalarMappable(Normalize(low, 1.0), legend_cmap(method)), cax=fig.add_axes(rect),
                       orientation="horizontal")
    bar.set_ticks([0.0, 1.0] if gradcam else [-1.0, 0.0, 1.0],
                  labels=["low", "high"] if gradcam else ["against", "none", "for"])
    bar.ax.tick_params(labelsize=9)
    bar.set_label("Grad-CAM weight" if gradcam else "attribution", fontsize=9)


def grid(images: Sequence[np.ndarray], captions: Sequence[str], title: str, columns: int = 4,
         method: str | None = None) -> np.ndarray:
    """Tiles (each RGB in [0, 1], or greyscale) in a grid with a caption under each, and the
    colour bar of ``method``'s overlay when given."""
    plt = pyplot()
    rows = max(1, int(np.ceil(len(images) / columns)))
    legend_in = 0.9 if method else 0.0  # inches under the tiles: the bar, its ticks and its label
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows + 0.4 + legend_in), dpi=80,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, caption in zip(axes.ravel(), images, captions):
        ax.imshow(image, cmap="gray" if np.ndim(image) == 2 else None, interpolation="nearest")
        ax.set_title(caption, fontsize=10)
    fig.suptitle(title, fontsize=12)
    height = fig.get_figheight()
    fig.tight_layout(rect=(0.0, legend_in / height, 1.0, 1.0))
    if method:
        _legend(fig, (0.25, 0.5 / height, 0.5, 0.12 / height), method)
    return to_array(fig)


def example_picture(tile: np.ndarray, caption: str, method: str, dpi: int = 100) -> np.ndarray:
    """One overlay at a legible size: enlarged by a whole factor (nearest neighbour, so each
    input pixel stays a sharp square) until its shorter side is at least :data:`MIN_SIDE`,
    under its caption lines and over the colour bar of ``method``."""
    plt = pyplot()
    tile = np.asarray(tile, np.float32)
    if tile.ndim == 2:
        tile = np.repeat(tile[..., None], 3, axis=-1)
    factor = max(1, -(-MIN_SIDE // min(tile.shape[:2])))  # ceiling division
    big = np.repeat(np.repeat(tile, factor, axis=0), factor, axis=1)
    lines = caption.count("\n") + 1
    pad, top, bottom = 16, 18 * lines + 12, 84
    width, height = max(big.shape[1], 280) + 2 * pad, big.shape[0] + top + bottom
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    # figimage puts pixels 1:1 (no resampling): the enlargement above is all the picture gets
    fig.figimage(np.clip(big, 0.0, 1.0), xo=(width - big.shape[1]) // 2, yo=bottom, origin="upper")
    fig.text(0.5, 1.0 - 6 / height, caption, ha="center", va="top", fontsize=10, linespacing=1.3)
    inset = 3 * pad  # room for the end labels under the bar
    _legend(fig, (inset / width, 50 / height, 1.0 - 2 * inset / width, 12 / height), method)
    return to_array(fig)


def importance_bars(names: Sequence[str], values: Sequence[float], title: str, top: int = 20,
                    xlabel: str = "mean |integrated gradient|") -> np.ndarray:
    """Horizontal bars of the ``top`` largest importances, largest at the top."""
    plt = pyplot()
    names, values = list(names)[:top][::-1], list(values)[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2), dpi=80)
    ax.barh(range(len(names)), values, color="#4c72b0")
    ax.set_yticks(range(len(names)), labels=names, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return to_array(fig)


def save_png(picture: np.ndarray, path, text: dict[str, str] | None = None) -> None:
    """Write an RGB uint8/float array as PNG (through the run dir's atomic writes), with
    ``text`` as the file's PNG text fields (caption, method, colour map: what image viewers
    and scripts can read without looking at the pixels)."""
    # Pillow and the run-dir writer: only when a PNG is written
    import io
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo
    from bmrun.run_dir import atomic_write_bytes

    array = picture if picture.dtype == np.uint8 else (np.clip(picture, 0, 1) * 255).astype(np.uint8)
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)  # iTXt: UTF-8, for class names in any script
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", pnginfo=info)
    atomic_write_bytes(path, buffer.getvalue())


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str, xlabel: str, ylabel: str) -> np.ndarray:
    """One line per named series of ``(x, y)`` points (``bmrun-runs diff --plot``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for label, points in series.items():
        if points:
            ax.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=3, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return to_array(fig)


def parallel_coordinates(axes: Mapping[str, Sequence], colour: Sequence[float], colour_label: str,
                         title: str) -> np.ndarray:
    """One polyline per trial across the axes (values scaled to [0, 1]; text values as their
    sorted categories), coloured by ``colour`` (the objective)."""
    plt = pyplot()
    names = list(axes)
    columns, ticks = [], []
    for name in names:
        values = list(axes[name])
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            array = np.asarray(values, np.float64)
            low, high = float(np.nanmin(array)), float(np.nanmax(array))
            columns.append((array - low) / (high - low) if high > low else np.full_like(array, 0.5))
            ticks.append([(0.0, f"{low:.3g}"), (1.0, f"{high:.3g}")])
        else:
            categories = sorted({str(v) for v in values})
            step = 1.0 / max(len(categories) - 1, 1)
            columns.append(np.asarray([categories.index(str(v)) * step for v in values]))
            ticks.append([(i * step, c) for i, c in enumerate(categories)])
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names)), 4.5), dpi=100)
    data = np.stack(columns, axis=1) if columns else np.zeros((len(colour), 0))
    cmap = plt.get_cmap("viridis")
    shade = np.asarray(colour, np.float64)
    low, high = float(np.nanmin(shade)), float(np.nanmax(shade))
    order = np.argsort(shade)  # the best lines on top
    levels = (shade[order] - low) / (high - low) if high > low else np.full(len(order), 0.5)
    # one collection for every line: a thousand separate plot() calls took seconds
    from matplotlib.collections import LineCollection

    lines = [np.column_stack([np.arange(len(names)), data[index]]) for index in order]
    ax.add_collection(LineCollection(lines, colors=cmap(levels), alpha=0.5, linewidths=1))
    ax.set_xlim(-0.05, max(len(names) - 1, 0) + 0.3)
    ax.set_ylim(-0.05, 1.05)
    for position, marks in enumerate(ticks):
        ax.axvline(position, color="black", linewidth=0.8)
        for y, text in marks:
            ax.text(position + 0.02, y, text, fontsize=8, va="center")
    ax.set_xticks(range(len(names)), labels=names, fontsize=9)
    ax.set_yticks([])
    ax.set_title(title, fontsize=11)
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(low, high))
    fig.colorbar(mappable, ax=ax, label=colour_label)
    fig.tight_layout()
    return to_array(fig)


def series_importance(lags: Sequence[str], lag_values: Sequence[float], columns: Sequence[str],
                      column_values: Sequence[float], title: str) -> np.ndarray:
    """A forecast's importance by lag (bars in time order, the origin ``t`` on the right) and by
    column (horizontal bars, largest at the top), side by side."""
    plt = pyplot()
    fig, (by_lag, by_column) = plt.subplots(1, 2, figsize=(12, max(3.5, 0.35 * len(columns) + 1.5)), dpi=80,
                                            gridspec_kw={"width_ratios": [3, 2]})
    order = list(range(len(lags)))[::-1]  # oldest lag on the left, as time runs
    by_lag.bar(range(len(lags)), [lag_values[i] for i in order], color="#4c72b0")
    step = max(1, len(lags) // 12)  # at most a dozen tick labels
    by_lag.set_xticks(range(0, len(lags), step), labels=[lags[order[i]] for i in range(0, len(lags), step)],
                      fontsize=9, rotation=45)
    by_lag.set_xlabel("lag (t: the forecast's origin)", fontsize=10)
    by_lag.set_ylabel("mean |integrated gradient|", fontsize=10)
    by_lag.set_title("by lag (summed over the columns)", fontsize=11)
    ranked = sorted(range(len(columns)), key=lambda i: column_values[i])
    by_column.barh(range(len(columns)), [column_values[i] for i in ranked], color="#dd8452")
    by_column.set_yticks(range(len(columns)), labels=[columns[i] for i in ranked], fontsize=10)
    by_column.set_xlabel("mean |integrated gradient|", fontsize=10)
    by_column.set_title("by column (summed over the lags)", fontsize=11)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return to_array(fig)


# Segmentation masks: foreground colours (class 1, 2, ...; then they repeat), distinct on grey scans.
MASK_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                         [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]],
                        np.float32)
MASK_ALPHA = 0.45


def mask_overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """An RGB uint8 picture: ``image`` (0..255, 1 or 3 channels) with each foreground class of ``mask`` tinted.

    The one tinting of masks: ``bmrun-predict``'s overlays and TensorBoard's truth | prediction
    pictures use it, so a class has the same colour in both.
    """
    pixels = np.asarray(image, np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    rgb = np.broadcast_to(pixels[..., :1], mask.shape + (3,)).copy() if pixels.shape[-1] == 1 \
        else pixels[..., :3].copy()
    foreground = mask > 0
    colours = MASK_COLOURS[(mask[foreground].astype(np.int64) - 1) % len(MASK_COLOURS)]
    rgb[foreground] = (1 - MASK_ALPHA) * rgb[foreground] + MASK_ALPHA * colours
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def frontier(points: Sequence[tuple[float, float, str]], bounds: Sequence[float], title: str) -> np.ndarray:
    """Accuracy against fairness gap, one labelled point per run, joined in order of gap; each
    bound a dashed vertical line (``bmrun-report`` on a sweep of ``fairness.max_gap``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ordered = sorted(points)
    ax.plot([p[0] for p in ordered], [p[1] for p in ordered], marker="o", color="tab:blue")
    for gap, accuracy, label in ordered:
        ax.annotate(label, (gap, accuracy), textcoords="offset points", xytext=(4, 4), fontsize=7)
    for bound in sorted(set(bounds)):
        ax.axvline(bound, color="grey", linestyle="--", linewidth=0.8)
    ax.set(title=title, xlabel="test demographic-parity gap (lower is fairer)", ylabel="test accuracy")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return to_array(fig)
