"""``bmrun-predict <run dir> <files...>``: what a finished run's model says about new inputs.

Inputs are image files (PNG, JPEG, GIF, BMP), converted to the model's height x width x channels
with raw pixel values 0..255 as the model expects (it normalises inside), or ``.npy`` arrays
holding one example or a batch in the model's input shape. For each example it prints the
predicted class (and its name when the dataset names its classes) with its probability
(softmax, or sigmoid for binary tasks), or the predicted value for regression.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from bmrun import console
from bmrun.cli.guard import console_script, finished_run_parser
from bmrun.errors import ConfigError, DataError
from bmrun.outputs import prediction_records
from bmrun.run_dir import require_finished_run
from bmrun.data.wav import fit_length, read_wav
from bmrun.data.catalog import describe
from bmrun.cli.predict_rows import explain_rows, print_explanations, raw_column_batch
from bmrun.cli.predict_masks import write_masks
from bmrun.cli import forecast, recommend

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def read_inputs(paths: Sequence[str], example_shape: tuple[int, ...], dtype: str) -> tuple[np.ndarray, list[str]]:
    """Stack every example of ``paths`` into one batch for the model.

    Returns:
        The batch and one label per example (``file`` or ``file[i]`` for rows of a batch).

    Raises:
        DataError: A file is missing, unreadable, or its shape does not fit the model.
    """
    batches, labels = [], []
    for name in paths:
        path = Path(name).expanduser()
        if not path.is_file():
            raise DataError(f"{name}: no such file.")
        suffix = path.suffix.lower()
        if suffix == ".npy":
            batch = _read_npy(path, example_shape)
        elif suffix in IMAGE_SUFFIXES:
            batch = _read_image(path, example_shape)
        else:
            raise DataError(f"{name}: unknown kind of input; give image files ({', '.join(IMAGE_SUFFIXES)}) "
                            f"or .npy arrays.")
        batches.append(batch.astype(dtype))
        labels += [name] if len(batch) == 1 else [f"{name}[{i}]" for i in range(len(batch))]
    return np.concatenate(batches), labels


def read_clips(paths: Sequence[str], sample_rate: int, samples: int) -> tuple[np.ndarray, list[str]]:
    """WAV clips as the model's waveform batch: mono, resampled, padded or cut to ``samples``.

    Raises:
        DataError: A file that is not a WAV clip (``.npy`` waveforms are read as arrays).
    """

    waves, labels = [], []
    for name in paths:
        path = Path(name).expanduser()
        if path.suffix.lower() == ".npy":
            batch = _read_npy(path, (samples,)).astype(np.float32)
            waves += list(batch)
            labels += [name] if len(batch) == 1 else [f"{name}[{i}]" for i in range(len(batch))]
            continue
        if path.suffix.lower() != ".wav":
            raise DataError(f"{name}: this run's model reads audio clips; give .wav files (or .npy waveforms of "
                            f"{samples} samples at {sample_rate} Hz).")
        waves.append(fit_length(read_wav(path, sample_rate), samples))
        labels.append(name)
    return np.stack(waves).astype(np.float32), labels


def _read_npy(path: Path, example_shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)  # pickles could run code: never
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npy array ({error}).") from None
    if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
        raise DataError(f"{path}: holds {array.dtype} values; the model takes numbers.")
    shape = tuple(array.shape)
    if shape == example_shape:
        return array[None]
    if shape[1:] == example_shape and shape[0] > 0:
        return array
    # Grayscale images are often saved without their channel axis.
    if example_shape[-1:] == (1,) and len(example_shape) == 3:
        if shape == example_shape[:-1]:
            return array[None, ..., None]
        if shape[1:] == example_shape[:-1] and shape[0] > 0:
            return array[..., None]
    wanted = "x".join(map(str, example_shape))
    raise DataError(f"{path}: array of shape {shape} does not fit the model, which takes examples of shape "
                    f"{wanted} (one example) or N x {wanted} (a batch).")


def _read_image(path: Path, example_shape: tuple[int, ...]) -> np.ndarray:
    """Decode, match the channels (grayscale/RGB), resize; values stay 0..255."""
    if len(example_shape) != 3:
        raise DataError(f"{path}: the model does not read images (its examples have shape "
                        f"{'x'.join(map(str, example_shape))}); give .npy arrays.")
    # TensorFlow: only when this runs, never at --help or config composition
    import tensorflow as tf

    height, width, channels = example_shape
    try:
        image = tf.io.decode_image(path.read_bytes(), expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as error:
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:\w+\]", "", error.message.splitlines()[0])  # TF's op noise
        raise DataError(f"{path}: not a readable image ({reason}).") from None
    if image.shape[-1] in (2, 4):  # grayscale + alpha, RGBA: drop the alpha channel
        image = image[..., :-1]
    if channels == 1 and image.shape[-1] == 3:
        image = tf.image.rgb_to_grayscale(image)
    elif channels == 3 and image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    elif image.shape[-1] != channels:
        raise DataError(f"{path}: has {image.shape[-1]} channels; the model takes {channels}.")
    image = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
    return np.clip(image.numpy(), 0.0, 255.0)[None]


def _class_names(cfg) -> Optional[tuple[str, ...]]:
    """The names of the classes the run was trained on (after its data.classes filter)."""
    # bmrun.config brings omegaconf: only when this runs, keeps --help light
    from bmrun.config import validate

    try:
        return describe(validate(cfg).data)[0].class_names
    except (ConfigError, DataError):  # another bmrun version's config.yaml, or its data moved: no names
        return None


def print_predictions(records: Sequence[dict[str, Any]]) -> None:
    # rich's tables: only when printing results, not for --help
    from rich.table import Table

    table = Table(title="bmrun predict", title_justify="left")
    columns = [c for c in ("input", "class", "name", "probability", "value", "transcript", "output", "unknown tokens")
               if any(c in r for r in records)]
    for column in columns:
        table.add_column(column, justify="left" if column in ("input", "name", "transcript", "output", "unknown tokens") else "right",
                         overflow="fold")  # a long path wraps rather than losing its file name
    for record in records:
        table.add_row(*[console.fmt(record.get(column, "")) for column in columns])
    console.out.print(table)


def predict_files(run_dir: str, paths: Sequence[str], texts: Sequence[str] = (),
                  explain: bool = False, beam_width: int = 1) -> list[dict[str, Any]]:
    """Predict every example in ``paths`` (and every ``texts`` string) with the model of ``run_dir``.

    A model of raw columns (``data=csv``) reads the rows of CSV files (and ``texts`` for a text
    model; see :mod:`bmrun.cli.predict_rows`); the others read image files and ``.npy`` arrays.
    With ``explain`` (table models only), each record gains ``attributions`` by column, also
    written to ``<run dir>/explain/predictions.csv``. A speech-to-text run's records hold each
    clip's ``transcript``: greedy CTC decoding, or a beam search of ``beam_width`` > 1.

    Raises:
        BmrunError: Bad run dir, missing or ill-shaped input.
    """
    # TensorFlow side (bmrun.models.loading): kept out of --help and config composition
    from bmrun.models.loading import open_run

    require_finished_run(run_dir, "bmrun-predict")
    missing = [name for name in paths if not Path(name).expanduser().is_file()]
    if missing:  # before loading TensorFlow and the model: a typo should fail fast
        raise DataError(f"{', '.join(missing)}: no such file{'s' if len(missing) > 1 else ''}.")
    run = open_run(run_dir, "bmrun-predict")
    columns = getattr(run.model, "columns", None) or {}
    if explain and (not columns or "text" in columns or "audio" in columns or "modalities" in columns):
        raise ConfigError("--explain", "bmrun-predict attributes the rows of a data=csv table model to its "
                          "columns; this run's model reads other inputs. For images and text use bmrun-explain "
                          f"{run_dir} <files> (or --text for a text column).")
    if run.task_kind == "seq2seq":  # text pairs: each source decoded to its output text
        # text-pair runs only (TensorFlow decoding): never at --help
        from bmrun.cli.predict_pairs import translate

        if paths:
            raise DataError("this run writes text from text: give the sources with --text or --file, not files.")
        return translate(run, texts, beam_width)
    if "audio" in columns:  # WAV clips, read as the training clips were (bmrun.data.wav)
        if texts:
            raise DataError("--text is for models trained on a text column (data=csv data.text=...).")
        batch, labels = read_clips(paths, columns["audio"]["sample_rate"], run.example_shape[0])
    elif getattr(run.model, "columns", None):
        batch, labels = raw_column_batch(run.model.columns, paths, texts)
    elif texts:
        raise DataError("--text is for models trained on a text column (data=csv data.text=...).")
    else:
        batch, labels = read_inputs(paths, run.example_shape, run.model.inputs[0].dtype)
    outputs = np.asarray(run.model.predict(batch, verbose=0, batch_size=256))
    names = (getattr(run.model, "columns", None) or {}).get("class_names") or _class_names(run.cfg)
    if run.task_kind == "segmentation":  # a mask per image: files, not a table of classes

        return write_masks(outputs, batch, labels, names, Path(run_dir) / "predictions")
    if run.task_kind == "ctc":  # speech to text: the transcript of each clip
        # bmrun.tasks.ctc loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.tasks.ctc import decode

        return [{"input": label, "transcript": text} for label, text in zip(labels, decode(outputs, names, beam_width))]
    records = [{"input": label, **record} for label, record in
               zip(labels, prediction_records(outputs, run.task_kind, names))]
    if explain:
        explain_rows(run, batch, records)
    return records


@console_script
def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point of ``bmrun-predict``."""
    parser = finished_run_parser(
        "bmrun-predict", "Predict classes (with probabilities) or values for image files or .npy arrays with a "
        "finished run's model; for a recommender run, score (user, item) rows or list a user's top items.",
        "seven.png batch.npy")
    parser.add_argument("--json", action="store_true", help="one JSON object per example instead of a table")
    parser.add_argument("inputs", nargs="*", help="image files (PNG, JPEG, GIF, BMP) or .npy arrays (WAV clips for "
                        "data=audio_folder runs); for "
                        "data=csv runs, CSV files with the training columns (the target may be left out); for a "
                        "recommender run, one CSV of (user, item) rows")
    parser.add_argument("--text", action="append", default=[], metavar="TEXT",
                        help="a text to classify (runs trained with data.text=...) or to translate (text-pair "
                        "runs, data.target_text=...); repeatable")
    parser.add_argument("--file", action="append", default=[], metavar="LINES",
                        help="a UTF-8 file of texts, one per line, read as --text each; repeatable")
    parser.add_argument("--explain", action="store_true",
                        help="data=csv table runs: each row's attributions by column (integrated gradients), "
                        "printed and written to <run dir>/explain/predictions.csv")
    parser.add_argument("--beam-width", type=int, default=1, metavar="N",
                        help="speech-to-text and text-pair runs: decode with a beam search of N (1: greedy)")
    parser.add_argument("--user", help="recommender runs: the top items for this user id")
    parser.add_argument("--top", type=int, default=10, help="recommender runs: how many items --user lists")
    parser.add_argument("--cold-start", action="store_true",
                        help="recommender runs: an unseen --user gets the bias-only ranking instead of an error")
    parser.add_argument("--forecast", action="store_true",
                        help="forecast runs (data=timeseries): the horizon after the training file's last row, "
                        "written to forecast.csv")
    parser.add_argument("--from", dest="source", metavar="CSV",
                        help="--forecast: forecast after the last row of this file instead (the same columns)")
    parser.add_argument("--out", default="forecast.csv", help="--forecast: where to write (default forecast.csv)")
    args = parser.parse_args(argv)
    if args.forecast or args.source:
        forecast.main(args)
        return

    if recommend.is_recommender_args(args):
        recommend.main(args, parser)
        return
    if args.file:
        # only with --file: the text-pair helpers stay out of --help
        from bmrun.cli.predict_pairs import read_lines

        args.text += read_lines(args.file)
    if not args.inputs and not args.text:
        parser.error("give input files (or --text / --file for a text model)")
    if args.beam_width < 1:
        parser.error("--beam-width is at least 1")
    records = predict_files(args.run_dir, args.inputs, args.text, explain=args.explain, beam_width=args.beam_width)
    if args.json:
        for record in records:
            print(json.dumps(record))
        return
    if records and "mask" in records[0]:
        console.out.print("\n".join(f"{r['input']}: {r['mask']} (overlay {r['overlay']})" for r in records))
        console.out.print(f"pixels per class: {Path(records[0]['mask']).parent / 'areas.csv'}")
        return
    print_predictions(records)
    if args.explain:
        print_explanations(records)
        console.out.print(f"attributions of every row: {Path(args.run_dir) / 'explain' / 'predictions.csv'}")


if __name__ == "__main__":
    main()
