"""``bmrun-explain <run dir> [--method M] [--n N] [inputs...]``: why the run's model predicts what it does.

Without inputs it explains the first ``--n`` examples of the run's own test split (images, WAV
clips; tables: every test row, for the global importance; forecasts: the last test windows, by lag
and column). Writes ``<run dir>/explain/`` (see
:mod:`bmrun.explain.report`) and the same pictures to TensorBoard.
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
from bmrun.specs import AUDIO, MULTIMODAL, SERIES

MAX_WINDOWS = 1024  # forecasts: the last test windows explained (integrated gradients on each)


def _test_split(run):
    # bmrun.config brings omegaconf: only when this runs, keeps --help light
    from bmrun.config import validate

    config = validate(run.cfg)
    return load_prepared(config.data, config.seed)


def explain(run_dir: str, method: str = "integrated_gradients", n: int = 16,
            inputs: Sequence[str] = (), texts: Sequence[str] = ()) -> dict:
    """Explain ``n`` test examples (or ``inputs``, ``texts``) of the run at ``run_dir``; returns a summary."""
    # TensorFlow side (bmrun.models.loading): kept out of --help and config composition
    from bmrun.models.loading import open_run

    require_finished_run(run_dir, "bmrun-explain")  # a typo fails before TensorFlow loads
    run = open_run(run_dir, "bmrun-explain")  # imports TensorFlow without its start-up noise
    # bmrun.explain.report loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.explain.report import EXPLAIN, check_explainable, log_to_tensorboard

    kind = check_explainable(run.model, method)
    if texts and kind != TEXT:
        raise DataError("--text is for models trained on a text column (data=csv data.text=...).")
    out = run.run_dir / EXPLAIN
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
        "(forecasts), token attributions (text) or spectrogram saliency (audio) of a finished run's model, "
        "written to <run dir>/explain/ and TensorBoard.", "--method gradcam --n 8")
    parser.add_argument("--method", default="integrated_gradients", choices=METHODS,
                        help="how each input's share of the prediction is measured (default: integrated_gradients)")
    parser.add_argument("--n", type=int, default=16, help="test examples to explain (images, clips; default 16)")
    parser.add_argument("inputs", nargs="*", help="instead of the test split: image files, .wav clips or .npy "
                        "arrays; for data=csv runs, CSV files with the training columns")
    parser.add_argument("--text", action="append", default=[], metavar="TEXT",
                        help="a text to explain (runs trained with data.text=...); repeatable")
    args = parser.parse_args(argv)
    result = explain(args.run_dir, args.method, max(args.n, 1), args.inputs, args.text)
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
