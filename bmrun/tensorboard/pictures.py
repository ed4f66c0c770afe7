"""Pictures of a model's behaviour for TensorBoard's Images tab, drawn with matplotlib.

Every ``*_image`` function returns an ``[height, width, 3]`` uint8 RGB array, ready for
``tf.summary.image``; the confusion matrix also has a ``*_figure`` twin that returns the
matplotlib figure (its tick labels are the class names). TensorBoard shows an image at its own
size, so the pictures are drawn 600-1300 px wide at 100 dpi with text of 10 pt and more: about
14 px high, legible without zooming. Figure helpers (Agg backend, figure to array) live in
:mod:`bmrun.explain.figures`, the one home of bmrun's drawing; matplotlib is imported only when
a picture is drawn.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from bmrun.explain.figures import mask_overlay, pyplot, to_array

WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (110, 110, 110)
GREEN, RED, BLUE = (0, 120, 0), (200, 0, 0), (31, 119, 180)
DPI = 100
TEXT_PT, TITLE_PT = 10, 12
MAX_KEPT_FIGURES = 4  # confusion-matrix figures kept for redrawing (val and test of a run, and a few more)
_MATRIX_FIGURES: dict = {}


def _colour(rgb: tuple) -> tuple:
    return tuple(c / 255 for c in rgb)


def _display(image: np.ndarray) -> tuple[np.ndarray, Optional[str]]:
    """A raw image (values 0..255) as matplotlib shows it, and the colour map for greyscale."""
    image = np.clip(np.asarray(image, np.float64), 0, 255) / 255
    if image.ndim == 3 and image.shape[-1] == 1:
        return image[..., 0], "gray"
    return (image[..., :3], None) if image.ndim == 3 else (image, "gray")


def confusion_matrix_figure(matrix: np.ndarray, class_names: Sequence[str], title: str):
    """The matplotlib figure of :func:`confusion_matrix_image` (close it with ``plt.close``)."""
    plt = pyplot()
    matrix = np.asarray(matrix, np.float64)
    k = matrix.shape[0]
    names = [str(n) for n in class_names]
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    side = float(np.clip(4.5 + 0.45 * k, 6.5, 13.0))
    fig, ax = plt.subplots(figsize=(side + 1.2, side), dpi=DPI)
    shown = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    tick_pt = TEXT_PT if k <= 30 else 7  # more classes than that: ticks stay, at a smaller size
    ax.set_xticks(range(k), labels=names, rotation=45 if k > 2 else 0, ha="right" if k > 2 else "center",
                  rotation_mode="anchor", fontsize=tick_pt)
    ax.set_yticks(range(k), labels=names, fontsize=tick_pt)
    ax.set_xlabel("predicted", fontsize=TEXT_PT + 1)
    ax.set_ylabel("true", fontsize=TEXT_PT + 1)
    if k <= 30:  # a count per cell, in white on dark cells
        count_pt = TEXT_PT if k <= 15 else 8
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(round(matrix[i, j]))}", ha="center", va="center", fontsize=count_pt,
                        color="white" if shares[i, j] > 0.5 else "black")
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("share of the true class (row)", fontsize=TEXT_PT)
    bar.ax.tick_params(labelsize=TEXT_PT)
    ax.set_title(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return fig


def confusion_matrix_image(matrix: np.ndarray, class_names: Sequence[str], title: str) -> np.ndarray:
    """Confusion matrix (rows: true class, columns: predicted): class names as tick labels, the
    count in each cell, cells shaded by their share of the row (recall), so rare classes stay
    readable, and a colour bar for the shading.

    The figure of a set of class names is built and laid out once and then redrawn with each
    epoch's numbers: building and laying out is most of a fresh figure's cost.
    """
    key = (tuple(str(n) for n in class_names), np.shape(matrix))
    fig = _MATRIX_FIGURES.pop(key, None)
    if fig is None:
        fig = confusion_matrix_figure(matrix, class_names, title)
    else:
        _update_matrix(fig, np.asarray(matrix, np.float64), title)
    _MATRIX_FIGURES[key] = fig  # most recent last
    while len(_MATRIX_FIGURES) > MAX_KEPT_FIGURES:
        pyplot().close(_MATRIX_FIGURES.pop(next(iter(_MATRIX_FIGURES))))
    return to_array(fig, close=False)


def _update_matrix(fig, matrix: np.ndarray, title: str) -> None:
    ax = fig.axes[0]
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    ax.images[0].set_data(shares)
    k = matrix.shape[0]
    for index, text in enumerate(ax.texts):  # one per cell, row by row (none beyond 30 classes)
        i, j = divmod(index, k)
        text.set_text(f"{int(round(matrix[i, j]))}")
        text.set_color("white" if shares[i, j] > 0.5 else "black")
    ax.set_title(title, fontsize=TITLE_PT)


def image_grid(images: np.ndarray, captions: Sequence[Sequence[tuple[str, tuple]]], title: str,
               columns: int = 8) -> np.ndarray:
    """A grid of raw images, each with a few coloured caption lines under it.

    Args:
        images: ``[n, h, w, c]`` raw images (0..255).
        captions: Per image, ``(text, rgb)`` lines.
        title: Line above the grid.
        columns: Images per row.
    """
    plt = pyplot()
    n = len(images)
    columns = max(1, min(columns, n))
    rows = max(1, int(np.ceil(n / columns)))
    lines = max((len(c) for c in captions), default=0)
    tile_h = 1.3 + 0.22 * lines
    fig, axes = plt.subplots(rows, columns, figsize=(max(1.45 * columns, 6.5), tile_h * rows + 0.6), dpi=DPI,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, caption in zip(axes.ravel(), images, captions):
        picture, cmap = _display(image)
        ax.imshow(picture, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        for line, (text, colour) in enumerate(caption):
            ax.text(0.5, -0.04 - 0.17 * line, text, transform=ax.transAxes, ha="center", va="top",
                    fontsize=TEXT_PT, color=_colour(colour), clip_on=False)
    fig.suptitle(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return to_array(fig)


def saliency_image(images: np.ndarray, maps: np.ndarray, captions: Sequence[str], title: str) -> np.ndarray:
    """Each image above its saliency map (each map scaled to its own maximum), with a colour bar.

    Args:
        images: ``[n, h, w, c]`` raw images.
        maps: ``[n, h, w]`` non-negative saliency.
        captions: One line per image (e.g. its predicted class).
        title: Line above the pictures.
    """
    plt = pyplot()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(max(1.45 * n + 1.0, 6.5), 3.7), dpi=DPI, squeeze=False)
    peaks = np.maximum(np.asarray(maps, np.float64).reshape(n, -1).max(axis=1), 1e-12)
    heat = None
    for index in range(n):
        picture, cmap = _display(images[index])
        axes[0, index].imshow(picture, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        axes[0, index].set_title(captions[index], fontsize=TEXT_PT)
        heat = axes[1, index].imshow(maps[index] / peaks[index], cmap="hot", vmin=0, vmax=1, interpolation="nearest")
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=TITLE_PT)
    fig.tight_layout()
    if heat is not None:
        bar = fig.colorbar(heat, ax=list(axes[1]), fraction=0.03, pad=0.01)
        bar.set_label("share of the map's peak", fontsize=TEXT_PT - 1)
        bar.ax.tick_params(labelsize=TEXT_PT - 1)
    return to_array(fig)


def scatter_image(true: np.ndarray, predicted: np.ndarray, title: str, size: int = 600,
                  limits: Optional[tuple[float, float]] = None) -> np.ndarray:
    """Predicted against true values, with the ``y = x`` line a perfect model would sit on.

    Args:
        true, predicted: 1-D arrays of equal length.
        title: Line above the plot.
        size: Side of the square picture in pixels.
        limits: Axis range (both axes); default: the data's range plus 5%.
    """
    plt = pyplot()
    true = np.asarray(true, np.float64).ravel()
    predicted = np.asarray(predicted, np.float64).ravel()
    finite = np.isfinite(true) & np.isfinite(predicted)
    true, predicted = true[finite], predicted[finite]
    if limits is None:
        both = np.concatenate([true, predicted]) if len(true) else np.array([0.0, 1.0])
        lo, hi = float(both.min()), float(both.max())
        span = hi - lo or 1.0  # all values equal: still a visible range
        limits = (lo - 0.05 * span, hi + 0.05 * span)
    fig, ax = plt.subplots(figsize=(size / DPI, size / DPI), dpi=DPI)
    ax.plot(limits, limits, color=_colour(GREY), linewidth=1, label="y = x")
    ax.scatter(true, predicted, s=12, color=_colour(BLUE), alpha=0.7)
    ax.set_xlim(limits)
    ax.set_ylim(limits)
    ax.set_aspect("equal")
    ax.set_xlabel("true", fontsize=TEXT_PT + 1)
    ax.set_ylabel("predicted", fontsize=TEXT_PT + 1)
    ax.tick_params(labelsize=TEXT_PT)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=TEXT_PT, loc="upper left")
    ax.set_title(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return to_array(fig)


def forecast_image(truth: np.ndarray, forecast: np.ndarray, targets: Sequence[str], horizon: int,
                   title: str, max_points: int = 400) -> np.ndarray:
    """Forecasts against the truth on one time axis, one panel per target (at most three).

    Origin ``i``'s step ``h`` forecasts time ``i + h``, so the one-step and the last-step
    forecasts of consecutive origins are drawn as two lines under the observed series: the gap
    between them shows how much accuracy the longer horizon costs.

    Args:
        truth, forecast: ``[origins, horizon * targets]``, index ``h * targets + t`` is step
            ``h + 1`` of target ``t`` (consecutive origins).
        targets: The target columns' names.
        horizon: Steps ahead of each forecast.
        title: Line above the panels.
        max_points: Origins drawn (the last ones), so a long test block stays readable.
    """
    plt = pyplot()
    truth, forecast = np.asarray(truth, np.float64), np.asarray(forecast, np.float64)
    truth, forecast = truth[-max_points:], forecast[-max_points:]
    count, shown = len(targets), min(len(targets), 3)
    fig, axes = plt.subplots(shown, 1, figsize=(11, 2.6 * shown + 0.6), dpi=DPI, squeeze=False)
    origins = np.arange(len(truth))
    for t, ax in enumerate(axes[:, 0]):
        # the observed series: every origin's first step, then the last origin's later steps
        observed = np.concatenate([truth[:, t], truth[-1, count + t::count]])
        ax.plot(np.arange(1, len(observed) + 1), observed, color=_colour(BLACK), linewidth=1.2, label="truth")
        ax.plot(origins + 1, forecast[:, t], color=_colour(BLUE), linewidth=1, label="forecast, 1 step ahead")
        if horizon > 1:
            last = (horizon - 1) * count + t
            ax.plot(origins + horizon, forecast[:, last], color=_colour(RED), linewidth=1, alpha=0.8,
                    label=f"forecast, {horizon} steps ahead")
        ax.set_ylabel(str(targets[t]), fontsize=TEXT_PT + 1)
        ax.tick_params(labelsize=TEXT_PT)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=TEXT_PT, loc="upper left")
    axes[-1, 0].set_xlabel("time step (test block)", fontsize=TEXT_PT + 1)
    fig.suptitle(title if shown == count else f"{title} · first {shown} of {count} targets", fontsize=TITLE_PT)
    fig.tight_layout()
    return to_array(fig)


def segmentation_image(images: np.ndarray, truths: np.ndarray, predictions: np.ndarray, captions: Sequence[str],
                       title: str) -> np.ndarray:
    """One row per image: the image | its true mask tinted over it | the predicted mask tinted over it.

    Args:
        images: Raw images ``[n, height, width, channels]`` (0..255).
        truths, predictions: Class-index masks ``[n, height, width]``.
        captions: One line per row (e.g. the image's Dice), shown over the prediction.
        title: Line above the pictures.
    """

    plt = pyplot()
    n = len(images)
    height, width = np.asarray(images).shape[1:3]
    side = float(np.clip(2.2 * max(width / height, 0.5), 1.6, 4.0))
    fig, axes = plt.subplots(n, 3, figsize=(3 * side + 0.4, 2.2 * n + 0.7), dpi=DPI, squeeze=False)
    for row in range(n):
        picture, cmap = _display(images[row])
        axes[row, 0].imshow(picture, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        axes[row, 1].imshow(mask_overlay(images[row], truths[row]), interpolation="nearest")
        axes[row, 2].imshow(mask_overlay(images[row], predictions[row]), interpolation="nearest")
        axes[row, 2].set_title(captions[row], fontsize=TEXT_PT)
    for column, name in enumerate(("image", "truth", "prediction")):
        axes[0, column].set_title(name if column < 2 else f"{name} · {captions[0]}", fontsize=TEXT_PT)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return to_array(fig)
