"""Attribution methods over a model's *raw* inputs (the model normalises inside).

Every method explains one scalar per example: the logit of the class it predicts (multiclass),
its single logit (binary), or its value (regression) — :func:`target_outputs`.

- Integrated gradients (Sundararajan et al. 2017): the path integral of gradients from a
  baseline (black image / zero features) to the input, by the trapezoidal rule. Completeness:
  the attributions sum to f(x) - f(baseline), up to the integration error (tested to 1%).
- SmoothGrad (Smilkov et al. 2017): gradients averaged over noisy copies of the input
  (noise = 15% of the input's range by default).
- Grad-CAM (Selvaraju et al. 2017): the last convolution's feature maps weighted by the
  pooled gradient of the target, ReLU'd and upsampled to the image.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from bmrun import outputs as outputs_mod
from bmrun.outputs import MULTICLASS, target_outputs
import keras


def _gradients(model, x: tf.Tensor, kind: str, classes: tf.Tensor) -> tf.Tensor:
    with tf.GradientTape() as tape:
        tape.watch(x)
        # examples are independent: the gradient of the sum is each example's own gradient
        total = tf.reduce_sum(target_outputs(model(x, training=False), kind, classes))
    return tape.gradient(total, x)


def predicted_classes(model, x: np.ndarray, kind: str) -> tf.Tensor:
    outputs = model(tf.constant(x, tf.float32), training=False)
    return outputs_mod.predicted_classes(outputs, kind) if kind == MULTICLASS else tf.zeros(len(x), tf.int32)


def integrated_gradients(model, x: np.ndarray, kind: str, *, baseline: Optional[np.ndarray] = None,
                         steps: int = 50) -> np.ndarray:
    """Attributions of ``x`` (same shape) for the predicted class (see module docstring)."""
    x = np.asarray(x, np.float32)
    baseline = np.zeros_like(x) if baseline is None else np.broadcast_to(baseline, x.shape).astype(np.float32)
    classes = predicted_classes(model, x, kind)
    total = np.zeros_like(x)
    for i, alpha in enumerate(np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)):
        weight = 0.5 if i in (0, steps) else 1.0  # trapezoidal rule
        point = tf.constant(baseline + alpha * (x - baseline))
        total += weight * _gradients(model, point, kind, classes).numpy()
    return total / steps * (x - baseline)


def smoothgrad(model, x: np.ndarray, kind: str, *, samples: int = 25, noise: float = 0.15,
               value_range: Optional[float] = None, seed: int = 0) -> np.ndarray:
    """Mean gradient over ``samples`` noisy copies; noise std = ``noise`` x the input range."""
    x = np.asarray(x, np.float32)
    spread = float(value_range if value_range is not None else (x.max() - x.min()) or 1.0)
    classes = predicted_classes(model, x, kind)
    rng = np.random.default_rng(seed)
    total = np.zeros_like(x)
    for _ in range(samples):
        noisy = x + rng.normal(0.0, noise * spread, size=x.shape).astype(np.float32)
        total += _gradients(model, tf.constant(noisy), kind, classes).numpy()
    return total / samples


def last_conv_layer(model):
    """The model's last 2-D convolution, or None (Grad-CAM needs one)."""

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    return convs[-1] if convs else None


def gradcam(model, x: np.ndarray, kind: str) -> np.ndarray:
    """Heatmaps ``[batch, H, W]`` in [0, 1], upsampled to the input's size."""

    conv = last_conv_layer(model)
    if conv is None:
        raise ValueError("the model has no convolution layer")
    probe = keras.Model(model.inputs, [conv.output, model.outputs[0]])
    x_t = tf.constant(np.asarray(x, np.float32))
    classes = predicted_classes(model, x, kind)
    with tf.GradientTape() as tape:
        features, outputs = probe(x_t, training=False)
        total = tf.reduce_sum(target_outputs(outputs, kind, classes))
    return cam_maps(features, tape.gradient(total, features), x.shape[1:3])


def cam_maps(features: tf.Tensor, grads: tf.Tensor, size) -> np.ndarray:
    """Grad-CAM from a conv layer's maps and the score's gradient: channels weighted by their pooled
    gradient, rectified, resized to ``size`` and scaled to [0, 1] per image."""
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # pooled per channel
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
    cam = tf.image.resize(cam[..., None], size)[..., 0].numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
