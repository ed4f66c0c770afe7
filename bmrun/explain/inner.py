"""Integrated gradients at an inner layer's output: the encoded columns of a CSV model, the
token embeddings (or the bag of words) of a text model.

A model of raw columns or token ids cannot be differentiated with respect to its inputs:
strings and integer ids have no gradient. Its first differentiable tensor is an inner one: the
encoded feature vector after normalisation and one-hot encoding, or the output of the
embedding lookup. This module integrates gradients along a straight path from a baseline
value of that tensor to its actual value.

It does so by *substituting* the layer's output while the whole model runs on the real
inputs, rather than by cutting the model in two: the rest of the graph stays exactly as
trained, and what the layer computes besides its output is kept — the padding mask an
``Embedding(mask_zero=True)`` derives from the token ids still reaches the recurrent layers.
Completeness holds in that inner space: the attributions of an example sum to
f(x) - f(baseline), up to the integration error.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from bmrun.outputs import MULTICLASS, predicted_classes, target_outputs
import keras

POINT_ELEMENTS = 4_000_000  # floats of path points per graph call (16 MB): a bound on memory


def as_model_input(x: Any) -> Any:
    """Raw inputs as tensors (a dict of columns keeps its strings as strings)."""
    return tf.nest.map_structure(tf.convert_to_tensor, x)


@contextmanager
def substituted_output(layer, value: tf.Tensor):
    """While inside, every call of ``layer`` returns ``value`` (its mask is still computed).

    ``object.__setattr__`` bypasses Keras's attribute tracking: the override is a plain instance
    attribute that shadows the class's ``call`` and leaves no trace once removed.
    """
    object.__setattr__(layer, "call", lambda *args, **kwargs: tf.identity(value))
    try:
        yield
    finally:
        object.__delattr__(layer, "call")


def layer_output(model, layer, x: Any) -> np.ndarray:
    """What ``layer`` computes for the raw inputs ``x`` (float32)."""

    probe = keras.Model(model.inputs, layer.output)
    return np.asarray(probe(as_model_input(x), training=False), np.float32)


def outputs_with(model, layer, x: Any, value: np.ndarray) -> np.ndarray:
    """The model's outputs for ``x`` when ``layer`` outputs ``value`` instead."""
    with substituted_output(layer, tf.constant(value, tf.float32)):
        return np.asarray(model(as_model_input(x), training=False), np.float32)


def integrated_gradients_at(model, layer, x: Any, kind: str, *, baseline: Optional[np.ndarray] = None,
                            steps: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Attributions of ``layer``'s output for the predicted class (see the module docstring).

    Args:
        model: A Keras model taking the raw inputs ``x``.
        layer: One of its layers; its output must be floating point.
        x: Raw inputs (an array, or a dict of column arrays).
        kind: The task kind (which output is explained: see ``outputs.target_outputs``).
        baseline: The layer's output at the path's start (default zeros).
        steps: Trapezoidal integration steps.

    Returns:
        ``(attributions, value)``: both shaped like the layer's output for ``x``.
    """
    inputs = as_model_input(x)
    value = layer_output(model, layer, x)
    baseline = np.zeros_like(value) if baseline is None else np.broadcast_to(baseline, value.shape).astype(np.float32)
    outputs = model(inputs, training=False)
    classes = predicted_classes(outputs, kind) if kind == MULTICLASS else None

    @tf.function(autograph=False)  # plain Python control flow: nothing to convert
    def gradient_at(point, repeated_inputs, repeated_classes):
        # Traced with the substitution in place: the graph keeps it, and each chunk of path
        # points then runs as one graph call (eager calls re-ran preprocessing per step).
        with tf.GradientTape() as tape:
            tape.watch(point)
            with substituted_output(layer, point):
                # examples are independent: the gradient of the sum is each example's own gradient
                outputs = model(repeated_inputs, training=False)
                target = tf.reduce_sum(target_outputs(outputs, kind, repeated_classes))
        return tape.gradient(target, point)

    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.ones_like(alphas)
    weights[[0, -1]] = 0.5  # trapezoidal rule
    # Several path points per call (the examples repeated), as many as fit in POINT_ELEMENTS.
    per_call = int(np.clip(POINT_ELEMENTS // max(value.size, 1), 1, steps + 1))
    total = np.zeros_like(value)
    for start in range(0, steps + 1, per_call):
        chunk = alphas[start:start + per_call]
        points = np.concatenate([baseline + alpha * (value - baseline) for alpha in chunk])
        repeated = tf.nest.map_structure(lambda t: tf.concat([t] * len(chunk), axis=0), inputs)
        repeated_classes = None if classes is None else tf.concat([classes] * len(chunk), axis=0)
        gradient = gradient_at(tf.constant(points), repeated, repeated_classes)
        if gradient is None:
            raise ValueError(f"no gradient flows from the model's output to the layer {layer.name!r}")
        gradient = np.asarray(gradient, np.float32).reshape((len(chunk),) + value.shape)
        total += np.tensordot(weights[start:start + per_call], gradient, axes=1)
    return total / steps * (value - baseline), value


def completeness_error(model, layer, x: Any, kind: str, attributions: np.ndarray,
                       baseline: Optional[np.ndarray] = None) -> float:
    """Largest relative gap between an example's summed attributions and f(x) - f(baseline)."""
    value = layer_output(model, layer, x)
    baseline = np.zeros_like(value) if baseline is None else np.broadcast_to(baseline, value.shape)
    actual = np.asarray(model(as_model_input(x), training=False), np.float32)
    classes = predicted_classes(actual, kind) if kind == MULTICLASS else None
    start = outputs_with(model, layer, x, np.asarray(baseline, np.float32))
    gap = np.asarray(target_outputs(actual, kind, classes)) - np.asarray(target_outputs(start, kind, classes))
    sums = attributions.reshape(len(attributions), -1).sum(axis=1)
    return float(np.max(np.abs(sums - gap) / np.maximum(np.abs(gap), 1e-3)))  # near-zero gaps: absolute
