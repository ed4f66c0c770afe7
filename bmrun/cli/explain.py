"""``bmrun-explain <run dir> [--method M] [--n N] [inputs...]``: why the run's model predicts what it does.

Without inputs it explains the first ``--n`` examples of the run's own test split (images, WAV
clips; tables: every test row, for the global importance; forecasts: the last test windows, by lag
and column; text pairs: the cross-attention map of the first test source, or of the one
``--text``). Writes ``<run dir>/explain/`` (see :mod:`bmrun.explain.report` and
:mod:`bmrun.explain.attention`) and the same pictures to TensorBoard.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from bmrun import console
from bmrun.cli.guard import console_script, finished_run_parser
from bmrun.cli.predict import _class_names, read_clips, read_inputs
from bmrun.data.catalog import IMAGE, TABLE, TEXT, TOKENS
from bmrun.errors import DataError
from bmrun.explain import METHODS
from bmrun.run_dir import require_finished_run
from bmrun.data import load_prepared
from bmrun.cli.predict_rows import raw_column_batch
from bmrun.data.arrays import take
from bmrun.specs import AUDIO, MULTIMODAL, SEGMENTATION, SERIES, TOKEN_PAIRS

MAX_WINDOWS = 1024  # forecasts: the last test windows explained (integrated gradients on each)


def _test_split(run):
    # bmrun.config brings omegaconf: only when this runs, keeps --help light
    from bmrun.config import validate

    config = validate(run.cfg)
    return load_prepared(config.data, config.seed)


def explain(run_dir: str, method: Optional[str] = None, n: int = 16, inputs: Sequence[str] = (),
            texts: Sequence[str] = (), region: Optional[str] = None, class_name: Optional[str] = None) -> dict:
    """Explain ``n`` test examples (or ``inputs``, ``texts``) of the run at ``run_dir``; returns a summary.

    Args:
        method: One of :data:`bmrun.explain.METHODS`; default Grad-CAM for segmentation runs,
            integrated gradients otherwise.
        region: Segmentation runs: the box ``x0,y0,x1,y1`` whose pixels' logits Grad-CAM follows
            (default: the whole image).
        class_name: Segmentation runs: the class followed, a name or an index (default: each
            image's most frequent predicted foreground class in the region).
    """
    # TensorFlow side (bmrun.models.loading): kept out of --help and config composition
    from bmrun.models.loading import open_run

    require_finished_run(run_dir, "bmrun-explain")  # a typo fails before TensorFlow loads
    run = open_run(run_dir, "bmrun-explain")  # imports TensorFlow without its start-up noise
    # bmrun.explain.report loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.report import EXPLAIN, check_explainable, log_to_tensorboard

    segmentation = run.task_kind == SEGMENTATION
    method = method or ("gradcam" if segmentation else "integrated_gradients")
    if (region or class_name is not None) and not segmentation:
        raise DataError("--region and --class choose the pixels and class of a segmentation run's mask; this run "
                        f"predicts {run.task_kind} outputs.")
    if segmentation and method != "gradcam":
        raise DataError(f"--method {method}: a segmentation run is explained with --method gradcam (the default), "
                        "for a class over a region (--class, --region).")
    kind = check_explainable(run.model, method)
    out = run.run_dir / EXPLAIN
    if kind == TOKEN_PAIRS:
        result = _explain_pair(run, inputs, texts, out)
        log_to_tensorboard(run.run_dir, "cross_attention", result.pop("picture_array"))
        return result
    if texts and kind != TEXT:
        raise DataError("--text is for models trained on a text column (data=csv data.text=...).")
    if segmentation:
        result = _explain_region(run, n, inputs, region, class_name, out)
        log_to_tensorboard(run.run_dir, method, result.pop("picture_array"))
        return result
    if kind == IMAGE:
        result = _explain_images(run, method, n, inputs, out)
        log_to_tensorboard(run.run_dir, method, result.pop("picture_array"))
        return result
    if kind in (TOKENS, TEXT):
        return _explain_text(run, n, inputs, texts, out)
    if kind == AUDIO:
        result = _explain_clips(run, n, inputs, out)
        log_to_tensorboard(run.run_dir, "saliency", result.pop("picture_array"))
        return result
    if kind == MULTIMODAL:
        result = _explain_modalities(run, inputs, out)
        log_to_tensorboard(run.run_dir, "modality_importance", result.pop("picture_array"))
        return result
    if kind == SERIES:
        result = _explain_series(run, inputs, out)
        log_to_tensorboard(run.run_dir, "series_importance", result.pop("picture_array"))
        return result
    # bmrun.explain.report loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.report import explain_csv_table, explain_table

    if kind == TABLE:
        x = _raw_rows(run, inputs) if inputs else _test_split(run).test.x
        result = explain_csv_table(run.model, x, run.task_kind, out)
    else:
        data = _test_split(run)
        x = np.asarray(data.test.x if not inputs else read_inputs(inputs, run.example_shape, "float32")[0])
        result = explain_table(run.model, x, run.task_kind, getattr(data, "feature_names", None), out)
    log_to_tensorboard(run.run_dir, "feature_importance", result.pop("picture_array"))
    return result


def _explain_modalities(run, inputs: Sequence[str], out) -> dict:
    """Occlusion needs the labels: the run's test rows (CSV inputs are refused)."""
    # bmrun.explain.report loads TensorFlow: only when this runs, never at --help
    from bmrun.explain.report import ExplainError, explain_modalities

    if inputs:
        raise ExplainError("a fused model (model=multimodal) is explained by the drop of its test score when a "
                           "modality or column is left out, which needs the labels: run bmrun-explain without "
                           "inputs to use the run's test rows.")
    data = _test_split(run)
    return explain_modalities(run.model, data.test.x, np.asarray(data.test.y), run.task_kind,
                              data.task.num_classes, out)


def _explain_series(run, inputs: Sequence[str], out) -> dict:
    """Every test window (at most :data:`MAX_WINDOWS`), or the windows in ``.npy`` inputs."""
    # bmrun.explain.report loads TensorFlow: only when this runs, never at --help
    from bmrun.explain.report import explain_series

    if inputs:
        x = read_inputs(inputs, run.example_shape, "float32")[0]
    else:
        x = np.asarray(_test_split(run).test.x)[-MAX_WINDOWS:]
    return explain_series(run.model, np.asarray(x, np.float32), run.model.columns["series"], out)


def _explain_pair(run, inputs: Sequence[str], texts: Sequence[str], out) -> dict:
    """The cross-attention map of one source: the one ``--text``, else the first test source."""
    # TensorFlow side (bmrun.explain.attention, decoding): only when this runs, never at --help
    from bmrun.data.tokens import encode
    from bmrun.explain.attention import explain_pair
    from bmrun.explain.report import ExplainError
    from bmrun.tasks.decoding import decode_ids
    from bmrun.tasks.vocabulary import ids_to_texts, split_tokens

    if inputs or len(texts) > 1:
        raise ExplainError("a text-pair run is explained by the cross-attention map of one source: give it as "
                           "one --text \"...\", or nothing for the run's first test source.")
    columns = run.model.columns
    if texts:
        source = texts[0]
        unknown = sorted({t for t in split_tokens(source, columns["tokens"]) if t not in set(columns["vocabulary"])})
        if not source.strip() or unknown:
            why = "is empty" if not source.strip() else f"has tokens the run's vocabulary does not know " \
                                                         f"({' '.join(repr(t) for t in unknown)})"
            raise ExplainError(f"--text {source!r} {why}: the map would show where the model looked for "
                               f"<unk>; explain a text of the training split's tokens.")
        ids = encode([source], columns["vocabulary"], columns["tokens"], int(run.model.example_shape[0]) - 1,
                     start=False)[0][0]
    else:
        test = _test_split(run).test
        source, ids = test.texts["source"][0], np.asarray(test.x["source"][0])
    output_ids = decode_ids(run.model, ids[None])[0]
    output = ids_to_texts(output_ids[None], columns["vocabulary"], columns["tokens"])[0]
    return explain_pair(run.model, ids, output_ids, source, output, out)


def _raw_rows(run, paths: Sequence[str], texts: Sequence[str] = ()):
    return raw_column_batch(run.model.columns, paths, texts)[0]


def _predicted_names(run, outputs: np.ndarray) -> list[str]:
    """What the model predicts for each example, as a caption: the class name or the value."""
    # TensorFlow side (bmrun.outputs): kept out of --help and config composition
    from bmrun.outputs import predicted_classes_np

    if run.task_kind == "regression":
        return [f"{v:.3g}" for v in outputs[:, 0]]
    names = (getattr(run.model, "columns", None) or {}).get("class_names") or _class_names(run.cfg)
    classes = predicted_classes_np(outputs, run.task_kind)
    return [names[c] if names and c < len(names) else str(c) for c in classes]


def _explain_images(run, method: str, n: int, inputs: Sequence[str], out) -> dict:
    # bmrun.explain.report loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.report import explain_images

    if inputs:
        x, labels = read_inputs(inputs, run.example_shape, "float32")
    else:
        test = _test_split(run).test
        x, labels = test.x[:n].astype(np.float32), [f"test[{i}]" for i in range(min(n, len(test)))]
    outputs = np.asarray(run.model(x, training=False))
    return explain_images(run.model, x, run.task_kind, method, labels, _predicted_names(run, outputs), out)


def _explain_region(run, n: int, inputs: Sequence[str], region: Optional[str], class_name: Optional[str],
                    out) -> dict:
    # bmrun.explain.regions loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.regions import explain_regions

    if inputs:
        x, labels = read_inputs(inputs, run.example_shape, "float32")
    else:
        test = _test_split(run).test
        x, labels = test.x[:n].astype(np.float32), [f"test[{i}]" for i in range(min(n, len(test)))]
    return explain_regions(run.model, x, labels, _class_names(run.cfg) or [], region, class_name, out)


def _explain_clips(run, n: int, inputs: Sequence[str], out) -> dict:
    """WAV clips (or the first ``n`` test clips): their spectrograms' saliency."""
    # bmrun.explain.audio loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.audio import explain_clips

    if inputs:
        waves, labels = read_clips(inputs, run.model.columns["audio"]["sample_rate"], run.example_shape[0])
    else:
        test = _test_split(run).test
        count = min(n, len(test))
        waves, labels = np.asarray(take(test.x, slice(0, count)), np.float32), [f"test[{i}]" for i in range(count)]
    names = run.model.columns.get("class_names") or _class_names(run.cfg)
    return explain_clips(run.model, waves, run.task_kind, labels, names, out)


def _explain_text(run, n: int, inputs: Sequence[str], texts: Sequence[str], out) -> dict:
    # bmrun.explain.inner loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.inner import as_model_input
    from bmrun.explain.report import explain_text
    from bmrun.explain.text import token_names

    if inputs or texts:
        if getattr(run.model, "columns", None):
            x, labels = raw_column_batch(run.model.columns, inputs, texts)
        else:
            x, labels = read_inputs(inputs, run.example_shape, "int32")
    else:
        test = _test_split(run).test
        count = min(n, len(test))
        x, labels = take(test.x, slice(0, count)), [f"test[{i}]" for i in range(count)]
    outputs = np.asarray(run.model(as_model_input(x), training=False))
    captions = [f"{label}: {name}" for label, name in zip(labels, _predicted_names(run, outputs))]
    return explain_text(run.model, x, run.task_kind, token_names(run.model, run.cfg), captions, out, run.run_dir)


@console_script
def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point of ``bmrun-explain``."""
    parser = finished_run_parser(
        "bmrun-explain", "Attribution maps (images), feature importance (tables), lag and column importance "
        "(forecasts), token attributions (text), the cross-attention map of one source (text pairs) "
        "or spectrogram saliency (audio) of a finished run's model, "
        "written to <run dir>/explain/ and TensorBoard.", "--method gradcam --n 8")
    parser.add_argument("--method", default=None, choices=METHODS,
                        help="how each input's share of the prediction is measured (default: integrated_gradients; "
                        "gradcam for segmentation runs)")
    parser.add_argument("--region", default=None, metavar="X0,Y0,X1,Y1",
                        help="segmentation runs: the pixel box (a crop box) whose summed class logit Grad-CAM "
                        "follows (default: the whole image)")
    parser.add_argument("--class", dest="class_name", default=None, metavar="NAME|INDEX",
                        help="segmentation runs: the class followed (default: each image's most frequent predicted "
                        "foreground class in the region)")
    parser.add_argument("--n", type=int, default=16, help="test examples to explain (images, clips; default 16)")
    parser.add_argument("inputs", nargs="*", help="instead of the test split: image files, .wav clips or .npy arrays; for "
                        "data=csv runs, CSV files with the training columns")
    parser.add_argument("--text", action="append", default=[], metavar="TEXT",
                        help="a text to explain (runs trained with data.text=...; repeatable), or the one source "
                        "whose cross-attention map a text-pair run draws")
    args = parser.parse_args(argv)
    result = explain(args.run_dir, args.method, max(args.n, 1), args.inputs, args.text, args.region,
                     args.class_name)
    # bmrun.explain.report loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.report import completeness_note

    for key, value in result.items():
        if key == "completeness_error" and value is not None:
            console.out.print(completeness_note(value))
        elif key not in ("ranking", "top", "lags"):
            console.out.print(f"{key}: {value}")
    if "ranking" in result:
        console.out.print("most important: " + ", ".join(result["ranking"][:10]))
    if "lags" in result:
        console.out.print("most important lags: " + ", ".join(result["lags"][:10]))
    for i, words in enumerate(result.get("top", [])[:5]):
        console.out.print(f"example {i}, top tokens for its prediction: {', '.join(words) or 'none'}")


if __name__ == "__main__":
    main()
