"""Pictures of log-mel spectrograms: test clips with their labels or transcripts (TensorBoard),
and one clip under its saliency (``bmrun-explain``).

A spectrogram is the model's own view of a clip (the output of its
:class:`~bmrun.models.audio.LogMel` front end, ``(frames, n_mels)``), drawn with time to the
right and low frequencies at the bottom, as audio tools draw them. Drawn with matplotlib through
:mod:`bmrun.explain.figures`; every function returns an RGB uint8 array.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from bmrun.explain.figures import pyplot, to_array

DPI, TEXT_PT, TITLE_PT = 100, 10, 12
RIGHT, WRONG = "#007800", "#c80000"  # caption colours: the prediction matches the truth, or not
SPECTROGRAM_CMAP, SALIENCY_CMAP = "magma", "hot"


def spectrogram_grid(spectrograms: np.ndarray, truths: Sequence[str], predictions: Sequence[str], title: str,
                     columns: int = 3) -> np.ndarray:
    """Clips side by side, each captioned with its truth and its prediction (green when they match).

    Args:
        spectrograms: ``[n, frames, n_mels]`` log-mel spectrograms.
        truths, predictions: One text per clip (class names or transcripts).
        title: Line above the grid.
        columns: Clips per row.
    """
    plt = pyplot()
    n = len(spectrograms)
    columns = max(1, min(columns, n))
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(max(3.6 * columns, 6.5), 2.9 * rows + 0.6), dpi=DPI,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, spectrogram, truth, guess in zip(axes.ravel(), spectrograms, truths, predictions):
        ax.axis("on")
        _show(ax, spectrogram, SPECTROGRAM_CMAP)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.0, -0.06, f"true: {_short(truth)}", transform=ax.transAxes, ha="left", va="top",
                fontsize=TEXT_PT)
        ax.text(0.0, -0.22, f"pred: {_short(guess)}", transform=ax.transAxes, ha="left", va="top", fontsize=TEXT_PT,
                color=RIGHT if guess == truth else WRONG)
    fig.suptitle(title, fontsize=TITLE_PT)
    fig.tight_layout()
    return to_array(fig)


def saliency_picture(spectrogram: np.ndarray, saliency: np.ndarray, caption: str, title: str) -> np.ndarray:
    """A clip's spectrogram above its saliency map, and the saliency summed per frame and per band.

    Args:
        spectrogram: ``[frames, n_mels]`` log-mel spectrogram.
        saliency: ``[frames, n_mels]`` non-negative saliency (drawn as a share of its peak).
        caption: What the model predicts for the clip (a line under the title).
        title: The picture's first line.
    """
    plt = pyplot()
    saliency = np.asarray(saliency, np.float64)
    share = saliency / max(float(saliency.max()), 1e-12)
    fig = plt.figure(figsize=(9.0, 7.2), dpi=DPI)
    grid = fig.add_gridspec(3, 3, width_ratios=(5, 1, 0.15), height_ratios=(2, 2, 1))
    top, middle, bottom = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[2, 0])
    side, legend = fig.add_subplot(grid[1, 1]), fig.add_subplot(grid[1, 2])
    _show(top, spectrogram, SPECTROGRAM_CMAP)
    top.set_title("log-mel spectrogram (standardised)", fontsize=TEXT_PT)
    heat = _show(middle, share, SALIENCY_CMAP, vmin=0.0, vmax=1.0)
    middle.set_title("saliency |d score / d spectrogram|, share of its peak", fontsize=TEXT_PT)
    bar = fig.colorbar(heat, cax=legend)
    bar.ax.tick_params(labelsize=TEXT_PT - 1)
    per_frame, per_band = saliency.sum(axis=1), saliency.sum(axis=0)
    bottom.plot(np.arange(len(per_frame)), per_frame / max(float(per_frame.max()), 1e-12), color=WRONG)
    bottom.set_xlim(-0.5, len(per_frame) - 0.5)
    bottom.set_ylim(0.0, 1.05)  # shares of the peak frame: from zero, so a flat profile reads as flat
    bottom.set_xlabel("frame (time)", fontsize=TEXT_PT)
    bottom.set_ylabel("per frame", fontsize=TEXT_PT)
    side.plot(per_band / max(float(per_band.max()), 1e-12), np.arange(len(per_band)), color=WRONG)
    side.set_ylim(-0.5, len(per_band) - 0.5)
    side.set_xlim(0.0, 1.05)
    side.set_xlabel("per band", fontsize=TEXT_PT)
    side.set_yticks([])
    for ax in (top, middle):
        ax.set_ylabel("mel band", fontsize=TEXT_PT)
        ax.tick_params(labelsize=TEXT_PT - 1)
    bottom.tick_params(labelsize=TEXT_PT - 1)
    side.tick_params(labelsize=TEXT_PT - 1)
    fig.suptitle(f"{title}\n{caption}", fontsize=TITLE_PT)
    fig.tight_layout()
    return to_array(fig)


def _show(ax, values: np.ndarray, cmap: str, **limits):
    """``[frames, bands]`` drawn with time to the right and the lowest band at the bottom."""
    return ax.imshow(np.asarray(values, np.float64).T, origin="lower", aspect="auto", cmap=cmap,
                     interpolation="nearest", **limits)


def _short(text: str, width: int = 40) -> str:
    """A caption that fits under its tile (long transcripts end in an ellipsis)."""
    return text if len(text) <= width else text[:width - 1] + "…"
