"""``explain_run``: attributions of a finished run's model, written into ``<run dir>/explain/``.

Images: one overlay per example (``explain/<method>/<i>.png``), the grid of all of them
(``explain/<method>.png``, also in TensorBoard under ``explain/``) and the raw attributions
(``explain/<method>.npy``). Tables (numeric arrays and ``data=csv`` columns):
``explain/feature_importance.csv`` (``feature,importance``, descending: mean |integrated
gradient| over the rows) and its bar chart. Forecasts: ``explain/lag_importance.csv``,
``explain/column_importance.csv`` and their chart ``explain/series_importance.png``. Fused
models (``model=multimodal``): ``explain/modality_importance.csv`` and
``explain/column_importance.csv`` by occlusion, and their chart. Text: ``explain/tokens.csv``, ``top_tokens.csv``,
``tokens.html`` and the top tokens in TensorBoard's Text tab. Audio: one saliency picture per clip
(``explain/saliency/<i>.png``) and the maps (``explain/saliency.npy``; see :mod:`bmrun.explain.audio`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from bmrun.data.catalog import IMAGE, TABLE, TABULAR, TEXT, TOKENS
from bmrun.errors import BmrunError
from bmrun.outputs import REGRESSION, class_probabilities_np, predicted_classes, predicted_classes_np, target_outputs
from bmrun.explain import METHODS, attributions, figures
from bmrun.run_dir import TENSORBOARD, atomic_write, atomic_write_bytes
from bmrun.specs import AUDIO, MULTIMODAL, SERIES, TOKEN_PAIRS

EXPLAIN = "explain"
TITLES = {"integrated_gradients": "integrated gradients", "smoothgrad": "SmoothGrad", "gradcam": "Grad-CAM"}
# Integrated gradients' attributions sum to f(x) - f(baseline) in the limit of many steps; the
# original paper (Sundararajan et al., 2017) takes a gap within 5% as enough steps.
COMPLETE_WITHIN = 0.05


class ExplainError(BmrunError):
    """The run's model or inputs cannot be explained this way."""

    title = "explain error"


def input_kind(model) -> str:
    """What the model reads: its own record for bmrun's families, else guessed from the shape."""
    kind = getattr(model, "input_kind", None)
    if kind:
        return kind
    if model.inputs[0].dtype in ("int32", "int64"):
        return TOKENS
    return IMAGE if len(model.input_shape) == 4 else TABULAR


def check_explainable(model, method: str) -> str:
    """The model's input kind, once ``method`` can explain it; else one paragraph saying why not."""
    if method not in METHODS:
        raise ExplainError(f"--method {method}: choose one of {', '.join(METHODS)}.")
    kind = input_kind(model)
    if kind == TOKEN_PAIRS:
        if method != "integrated_gradients":
            raise ExplainError(f"--method {method}: a text-pair run is explained by its cross-attention map, "
                               f"which takes no method; leave --method out.")
        return kind
    if kind in (TOKENS, TEXT):
        # bmrun.explain.text loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.explain.text import token_layer

        if token_layer(model) is None:
            raise ExplainError("this run's model reads token ids, and gradients do not flow through an integer "
                               "lookup; bmrun explains such a model at its token embeddings (an Embedding layer) "
                               "or its bag of words (a CategoryEncoding layer), and this model has neither. A "
                               "model=rnn, transformer, linear or mlp run on the same data can be explained.")
    elif kind == AUDIO and method != "integrated_gradients":
        raise ExplainError(f"--method {method} is for images; a speech model is explained by the gradient of its "
                           f"prediction on its log-mel spectrogram (leave --method out).")
    elif kind not in (IMAGE, TABULAR, TABLE, SERIES, MULTIMODAL, AUDIO):
        raise ExplainError(f"bmrun-explain explains images, audio, tables, text and forecasts; this model reads "
                           f"{kind} inputs.")
    if method == "gradcam" and (kind != IMAGE or attributions.last_conv_layer(model) is None):
        raise ExplainError("--method gradcam needs a convolutional model on images (it weighs the last convolution's "
                           "feature maps); use --method integrated_gradients or smoothgrad.")
    if method == "smoothgrad" and kind != IMAGE:
        raise ExplainError(f"--method smoothgrad adds pixel noise to images; this model reads {kind} inputs, which "
                           f"bmrun-explain attributes with integrated gradients (the default method).")
    return kind


def explain_images(model, x: np.ndarray, task_kind: str, method: str, labels: Sequence[str],
                   names: Sequence[str], out: Path) -> dict[str, Any]:
    """Overlays of ``method``'s attributions for images ``x`` (raw pixel values)."""
    outputs = np.asarray(model(x.astype(np.float32), training=False))
    result: dict[str, Any] = {"method": method, "examples": len(x)}
    if method == "gradcam":
        maps = attributions.gradcam(model, x, task_kind)
        tiles = [figures.heat_overlay(image, heat) for image, heat in zip(x, maps)]
    else:
        if method == "integrated_gradients":
            maps = attributions.integrated_gradients(model, x, task_kind)
            baseline = np.asarray(model(np.zeros_like(x, np.float32), training=False))
            classes = predicted_classes(outputs, task_kind) if task_kind == "multiclass" else None
            gap = (target_outputs(outputs, task_kind) - target_outputs(baseline, task_kind, classes)).numpy()
            sums = maps.reshape(len(x), -1).sum(axis=1)
            result["completeness_error"] = float(np.max(np.abs(sums - gap) / np.maximum(np.abs(gap), 1e-6)))
        else:
            maps = attributions.smoothgrad(model, x, task_kind, value_range=255.0)
        tiles = [figures.signed_overlay(image, attribution) for image, attribution in zip(x, maps)]
    captions = [f"{label}: {name}" for label, name in zip(labels, names)]
    legend = "colour: Grad-CAM weight" if method == "gradcam" else "green: for, red: against"
    picture = figures.grid(tiles, captions, f"{TITLES[method]} ({legend})", method=method)
    colormap = figures.legend_cmap(method).name
    for i, (tile, caption) in enumerate(zip(tiles, example_captions(outputs, task_kind, method, labels, names))):
        figures.save_png(figures.example_picture(tile, caption, method), out / method / f"{i:03d}.png",
                         {"Caption": caption, "Method": method, "Colormap": colormap})
    figures.save_png(picture, out / f"{method}.png")
    write_npy(out / f"{method}.npy", maps)
    result.update(picture=str(out / f"{method}.png"), picture_array=picture)
    return result


def write_npy(path: Path, maps: np.ndarray) -> None:
    """The raw attributions or heatmaps as a float32 ``.npy`` (atomic write)."""
    buffer = io.BytesIO()
    np.save(buffer, maps.astype(np.float32))
    atomic_write_bytes(path, buffer.getvalue())


def example_captions(outputs: np.ndarray, task_kind: str, method: str, labels: Sequence[str],
                     names: Sequence[str]) -> list[str]:
    """Each per-image picture's caption: the input, the predicted class and its probability
    (the value, for regression) and the method, one per line."""
    if task_kind == REGRESSION:
        predicted = [f"predicted {name}" for name in names]
    else:
        probabilities = class_probabilities_np(outputs, task_kind)
        chosen = probabilities[np.arange(len(outputs)), predicted_classes_np(outputs, task_kind)]
        predicted = [f"predicted {name}, p = {p:.2f}" for name, p in zip(names, chosen)]
    return [f"{label}\n{line}\n{TITLES[method]}" for label, line in zip(labels, predicted)]


def completeness_note(error: float) -> str:
    """How to read integrated gradients' completeness error, as ``bmrun-explain`` prints it."""
    note = (f"completeness error {error:.1%} (summed attributions vs. the output's change from the baseline, "
            f"the largest gap over the examples; below {COMPLETE_WITHIN:.0%} means the integration steps were enough)")
    return note if error < COMPLETE_WITHIN else note + ": above it, read the attributions as approximate"


def explain_table(model, x: np.ndarray, task_kind: str, feature_names: Optional[Sequence[str]],
                  out: Path) -> dict[str, Any]:
    """Global importance of each column: mean |integrated gradient| over the rows of ``x``."""
    maps = attributions.integrated_gradients(model, x.astype(np.float32), task_kind,
                                             baseline=x.mean(axis=0, keepdims=True))
    names = list(feature_names) if feature_names else [f"feature_{i}" for i in range(maps.shape[1])]
    return write_importance(names, maps, out)


def explain_csv_table(model, x: dict, task_kind: str, out: Path) -> dict[str, Any]:
    """Global importance of each original column of a ``data=csv`` model (raw rows ``x``)."""
    # bmrun.explain.columns loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.columns import column_attributions

    names, maps, error = column_attributions(model, x, task_kind)
    return {**write_importance(names, maps, out), "completeness_error": error}


def explain_series(model, x: np.ndarray, columns: dict, out: Path) -> dict[str, Any]:
    """A forecast model's importance of each lag and each column over the windows ``x``
    (see :mod:`bmrun.explain.series`)."""
    # TensorFlow attributions: only for forecast runs
    from bmrun.explain.series import lag_and_column_importance, lag_names, series_attributions

    maps, error = series_attributions(model, x)
    per_lag, per_column = lag_and_column_importance(maps)
    lags = lag_names(maps.shape[1])
    targets = list(columns["targets"])
    names = targets + list(columns["covariates"])
    roles = ["target"] * len(targets) + ["covariate"] * (len(names) - len(targets))
    lag_rows = [["lag", "importance"]] + [[lag, f"{v:.6g}"] for lag, v in zip(lags, per_lag)]
    order = np.argsort(-per_column, kind="stable")
    column_rows = [["column", "role", "importance"]] + [[names[i], roles[i], f"{per_column[i]:.6g}"] for i in order]
    for name, rows in (("lag_importance.csv", lag_rows), ("column_importance.csv", column_rows)):
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        atomic_write(out / name, text.getvalue())
    picture = figures.series_importance(lags, per_lag.tolist(), names, per_column.tolist(),
                                        f"importance over {len(maps)} test windows (integrated gradients)")
    figures.save_png(picture, out / "series_importance.png")
    return {"method": "integrated_gradients", "windows": len(maps), "completeness_error": error,
            "ranking": [names[i] for i in order],
            "lags": [lags[i] for i in np.argsort(-per_lag, kind="stable")],
            "picture": str(out / "series_importance.png"), "picture_array": picture}


def explain_modalities(model, x: dict, y: np.ndarray, task_kind: str, num_classes, out: Path) -> dict[str, Any]:
    """A fused model's importance of each modality and column by occlusion (see
    :mod:`bmrun.explain.modalities`): ``modality_importance.csv``, ``column_importance.csv`` and
    their chart ``modality_importance.png``."""
    # TensorFlow occlusion: only for fused runs
    from bmrun.explain.modalities import occlusion

    found = occlusion(model, x, y, task_kind, num_classes)
    metric, full = found["metric"], found["score"]
    drop = "rise" if metric == "rmse" else "drop"
    for name, header, rows in (("modality_importance.csv", ["modality", f"{metric}_without", f"{metric}_{drop}"],
                                [[m, f"{s:.6g}", f"{v:.6g}"] for m, s, v in found["modalities"]]),
                               ("column_importance.csv", ["column", "modality", f"{metric}_without", f"{metric}_{drop}"],
                                [[c, m, f"{s:.6g}", f"{v:.6g}"] for c, m, s, v in found["columns"]])):
        text = io.StringIO()
        csv.writer(text).writerows([header] + rows)
        atomic_write(out / name, text.getvalue())
    names = [f"[{m}]" for m, _, _ in found["modalities"]] + [f"{c} ({m})" for c, m, _, _ in found["columns"]]
    values = [v for _, _, v in found["modalities"]] + [v for _, _, _, v in found["columns"]]
    picture = figures.importance_bars(names, values, f"without it, on {found['rows']} test rows ({metric} "
                                      f"{full:.4f} with everything)", top=30, xlabel=f"{metric} {drop}")
    figures.save_png(picture, out / "modality_importance.png")
    return {"method": "occlusion", "rows": found["rows"], metric: full,
            "modalities": ", ".join(f"{m} {v:+.4f}" for m, _, v in found["modalities"]),
            "ranking": [c for c, _, _, _ in found["columns"]],
            "picture": str(out / "modality_importance.png"), "picture_array": picture}


def write_importance(names: Sequence[str], maps: np.ndarray, out: Path) -> dict[str, Any]:
    """``feature_importance.csv`` (descending mean |attribution|) and its bar chart."""
    importance = np.abs(maps).mean(axis=0)
    order = np.argsort(-importance, kind="stable")
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["feature", "importance"])
    for i in order:
        writer.writerow([names[i], f"{importance[i]:.6g}"])
    atomic_write(out / "feature_importance.csv", text.getvalue())
    picture = figures.importance_bars([names[i] for i in order], importance[order].tolist(),
                                      f"feature importance over {len(maps)} rows")
    figures.save_png(picture, out / "feature_importance.png")
    return {"method": "integrated_gradients", "rows": len(maps), "ranking": [names[i] for i in order],
            "picture": str(out / "feature_importance.png"), "picture_array": picture}


def log_to_tensorboard(run_dir: Path, tag: str, picture: np.ndarray) -> None:
    """The same picture in TensorBoard's Images tab (``tensorboard/explain``)."""
    # TensorFlow: only when this runs, never at --help or config composition
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(Path(run_dir) / TENSORBOARD / EXPLAIN))
    with writer.as_default(step=0):
        tf.summary.image(tag, picture[None].astype(np.uint8) if picture.dtype == np.uint8 else picture[None], step=0)
    writer.close()


def explain_text(model, x: Any, task_kind: str, names, captions: Sequence[str], out: Path,
                 run_dir: Path) -> dict[str, Any]:
    """Token attributions of the examples ``x``: ``tokens.csv``, ``top_tokens.csv``,
    ``tokens.html`` and the top tokens in TensorBoard's Text tab."""
    # bmrun.explain loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain import text

    ids, maps, error = text.token_attributions(model, x, task_kind)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["example", "position", "token", "attribution"])
    for example, (row_ids, row) in enumerate(zip(ids, maps)):
        for position, (token, value) in enumerate(zip(row_ids.tolist(), row.tolist())):
            if token != text.PAD:
                writer.writerow([example, position, names(token), f"{value:.6g}"])
    atomic_write(out / "tokens.csv", rows.getvalue())
    tops = text.top_tokens(ids, maps, names)
    listing = io.StringIO()
    writer = csv.writer(listing)
    writer.writerow(["example", "prediction", "direction", "rank", "token", "attribution"])
    for top, caption in zip(tops, captions):
        for direction in ("for", "against"):
            for rank, (word, value) in enumerate(top[direction], start=1):
                writer.writerow([top["example"], caption, direction, rank, word, f"{value:.6g}"])
    atomic_write(out / "top_tokens.csv", listing.getvalue())
    atomic_write(out / "tokens.html", text.render_html(ids, maps, names, captions))
    _log_text(run_dir, [text.markdown_summary(top, caption) for top, caption in zip(tops, captions)])
    return {"method": "integrated_gradients", "explained": text.token_layer(model).name, "examples": len(ids),
            "completeness_error": error, "tokens": str(out / "tokens.csv"), "html": str(out / "tokens.html"),
            "top": [[word for word, _ in top["for"]] for top in tops]}


def _log_text(run_dir: Path, summaries: Sequence[str]) -> None:
    # TensorFlow: only when this runs, never at --help or config composition
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(Path(run_dir) / TENSORBOARD / EXPLAIN))
    with writer.as_default(step=0):
        tf.summary.text("top_tokens", tf.constant(list(summaries)), step=0)
    writer.close()
