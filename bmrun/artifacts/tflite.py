"""TensorFlow Lite copies of the trained model (``logger.tflite``) and what compression costs.

Each requested kind becomes ``model/model_<kind>.tflite``:

- ``float32``: a plain conversion, the reference for the others;
- ``int8``: dynamic-range quantisation (int8 weights, float activations), about 4x smaller;
- ``float16``: float16 weights, about 2x smaller.

Every file is then run by ``tf.lite.Interpreter`` over the test split, so metrics.json shows,
next to its size, the accuracy (or mse) the compressed model really reaches. A conversion that
fails (recurrent layers are the usual suspects) is recorded as an ``error`` and never fails the
run: the Keras model and the SavedModel are already written when this runs.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from bmrun.data.catalog import REGRESSION, TaskSpec
from bmrun.outputs import metrics_of_outputs
from bmrun.run_dir import atomic_write_bytes
from bmrun.runtime.tfimport import quiet_native_logs

log = logging.getLogger("bmrun")

KINDS = ("float32", "int8", "float16")
# Batch of the fixed-shape fallback: one example per call, as on-device inference runs.
FIXED_BATCH = 1
_EVAL_CHUNK = 256
_MAX_ERROR_CHARS = 300


def tflite_file(kind: str) -> str:
    return f"model_{kind}.tflite"


def export_tflite(model, model_dir: Path, kinds, x_test: np.ndarray, y_test: np.ndarray,
                  task: TaskSpec) -> dict[str, dict[str, Any]]:
    """Convert ``model`` to each TFLite kind and measure every file on the test split.

    Args:
        model: The trained Keras model (the weights that were just exported).
        model_dir: The run's ``model/`` folder; it must already hold ``saved_model/``.
        kinds: Subset of :data:`KINDS`.
        x_test, y_test: The test split, raw inputs as the model takes them.
        task: Decides the metric: test accuracy, or test mse for regression.

    Returns:
        ``{"tflite_<kind>": {"file", "bytes", "batch", "select_tf_ops", "test_accuracy" or
        "test_mse"}}``, or ``{"error": ...}`` for a kind that could not be converted or run.
    """
    # TensorFlow: only when this runs, never at --help or config composition
    import tensorflow as tf

    model_dir = Path(model_dir)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bmrun-tflite-") as scratch:
        for kind in kinds:
            try:
                content, how = _convert(tf, model, model_dir / "saved_model", Path(scratch) / "fixed_batch", kind)
            except Exception as error:  # the converter raises many types; a missing copy must not fail the run
                results[f"tflite_{kind}"] = {"error": f"conversion failed: {_short(error)}"}
                log.warning("TFLite %s: %s", kind, results[f"tflite_{kind}"]["error"])
                continue
            results[f"tflite_{kind}"] = _write_and_measure(content, how, model_dir, kind, x_test, y_test, task)
    return results


def _write_and_measure(content: bytes, how: dict[str, Any], model_dir: Path, kind: str, x_test: np.ndarray,
                       y_test: np.ndarray, task: TaskSpec) -> dict[str, Any]:
    """Write one converted model and return its metrics.json entry (size, test metric)."""
    path = model_dir / tflite_file(kind)
    atomic_write_bytes(path, content)
    entry: dict[str, Any] = {"file": path.name, "bytes": len(content), **how}
    try:
        entry.update(evaluate_tflite(path, x_test, y_test, task))
    except Exception as error:  # e.g. select TF ops need the Flex delegate this interpreter lacks
        entry["error"] = f"evaluation failed: {_short(error)}"
        log.warning("TFLite %s: %s", kind, entry["error"])
    return entry


def _convert(tf, model, saved_model_dir: Path, fixed_dir: Path, kind: str) -> tuple[bytes, dict[str, Any]]:
    """Try the conversions in order of preference and return the first that works.

    A dynamic batch axis keeps the file usable for any batch size; recurrent layers only lower
    to TFLite's builtin ops with a static shape, hence the fixed-batch attempt (tried first for
    them to skip a conversion known to fail); select TF ops are the last resort, as they need
    the Flex delegate at run time.
    """
    def from_fixed_batch():
        if not fixed_dir.exists():  # written once, shared by every kind
            _write_fixed_batch_archive(tf, model, fixed_dir)
        return tf.lite.TFLiteConverter.from_saved_model(str(fixed_dir))

    def from_dynamic_batch():
        return tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))

    attempts: list[tuple[Callable, dict[str, Any]]] = [
        (from_dynamic_batch, {"batch": None, "select_tf_ops": False}),
        (from_fixed_batch, {"batch": FIXED_BATCH, "select_tf_ops": False}),
    ]
    if _has_recurrent_layers(model):
        attempts.reverse()
    attempts.append((from_fixed_batch, {"batch": FIXED_BATCH, "select_tf_ops": True}))
    errors = []
    for make_converter, how in attempts:
        # MLIR prints pages of diagnostics for a failed attempt: caught inside, they stay hidden.
        with quiet_native_logs():
            try:
                converter = make_converter()
                _configure(tf, converter, kind, select_tf_ops=how["select_tf_ops"])
                return converter.convert(), how
            except Exception as error:  # try the next way; the last error is reported
                errors.append(error)
    raise errors[-1]


def _configure(tf, converter, kind: str, *, select_tf_ops: bool) -> None:
    if kind in ("int8", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # alone: dynamic-range int8 weights
    if kind == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if select_tf_ops:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        converter._experimental_lower_tensor_list_ops = False  # keep RNN tensor lists as TF ops


def _write_fixed_batch_archive(tf, model, directory: Path) -> None:
    """A SavedModel whose input has a static batch axis of :data:`FIXED_BATCH`."""
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    spec = tf.TensorSpec([FIXED_BATCH, *model.input_shape[1:]], model.inputs[0].dtype)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", functools.partial(model.__call__, training=False), input_signature=[spec])
    archive.write_out(str(directory), verbose=False)


def _has_recurrent_layers(model) -> bool:
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    return any(isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
               for layer in model._flatten_layers(include_self=False))


def tflite_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """Run the TFLite model at ``path`` over ``x`` (raw inputs) and return its outputs.

    A dynamic-batch file takes chunks of any size; a fixed-batch one gets padded chunks.
    """
    with quiet_native_logs():  # the interpreter announces its XNNPACK delegate on stderr
        interpreter = _interpreter_class()(model_path=str(path))
        detail = interpreter.get_input_details()[0]
        output_index = interpreter.get_output_details()[0]["index"]
        fixed: Optional[int] = None if int(detail["shape_signature"][0]) == -1 else int(detail["shape"][0])
        chunk = fixed or _EVAL_CHUNK
        allocated: Optional[int] = None
        outputs = []
        for start in range(0, len(x), chunk):
            part = np.asarray(x[start:start + chunk]).astype(detail["dtype"])
            n = len(part)
            if fixed is not None and n < fixed:
                part = np.concatenate([part, np.zeros((fixed - n, *part.shape[1:]), part.dtype)])
            if allocated != len(part):
                if fixed is None:
                    interpreter.resize_tensor_input(detail["index"], list(part.shape))
                interpreter.allocate_tensors()
                allocated = len(part)
            interpreter.set_tensor(detail["index"], part)
            interpreter.invoke()
            outputs.append(np.array(interpreter.get_tensor(output_index))[:n])
    return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)


def _interpreter_class():
    """LiteRT's interpreter when installed; else TensorFlow's, deprecated in its favour."""
    try:
        # LiteRT (optional): only when a .tflite model is run
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        # TensorFlow: only when this runs, never at --help or config composition
        import tensorflow as tf

        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
        return tf.lite.Interpreter
    return Interpreter


def evaluate_tflite(path: Path, x: np.ndarray, y: np.ndarray, task: TaskSpec) -> dict[str, float]:
    """Test accuracy (classification) or test mse (regression) of a TFLite file."""
    outputs = tflite_outputs(path, x)
    metrics = metrics_of_outputs(y, outputs, task.kind, task.num_classes)
    return {"test_mse": metrics["mse"]} if task.kind == REGRESSION else {"test_accuracy": metrics["accuracy"]}


def _short(error: Exception) -> str:
    """The informative line of an error: converter errors are pages of MLIR locations."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    picked = [line.rsplit("error:", 1)[1].strip() for line in lines if "error:" in line]
    text = picked[-1] if picked else (lines[0] if lines else type(error).__name__)
    text = text.split("\\n")[0]
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS - 3] + "..."
