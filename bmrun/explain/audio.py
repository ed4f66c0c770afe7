"""Saliency of a speech model (``data=audio_folder`` runs): which frames and mel bands of its
log-mel spectrogram a prediction rests on.

The gradient is taken after the model's own front end: the
:class:`~bmrun.models.audio.LogMel` layer's output is substituted by the spectrogram itself
(:func:`bmrun.explain.inner.substituted_output`), so the rest of the model runs exactly as
trained and ``|d score / d spectrogram|`` has one value per frame and band. The score is the
predicted class's logit for keyword spotting, and the greedy best path's log-probability for a
CTC model (:func:`bmrun.tasks.ctc.best_path_score`). Each clip gets
``explain/saliency/<i>.png`` (spectrogram, saliency, and the saliency summed per frame and per
band) and the maps go to ``explain/saliency.npy``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from bmrun.explain.figures import save_png
from bmrun.explain.inner import substituted_output
from bmrun.explain.spectrograms import saliency_picture
from bmrun.models.audio import front_layer
from bmrun.outputs import class_probabilities_np, predicted_classes_np, target_outputs
from bmrun.run_dir import atomic_write_bytes
from bmrun.specs import CTC
from bmrun.tasks.ctc import best_path_score, decode

SALIENCY = "saliency"


def spectrogram_saliency(model, waves: np.ndarray, task_kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(spectrograms, saliency, outputs)`` of waveforms ``[n, samples]``: both maps ``[n, frames, n_mels]``."""
    layer = front_layer(model)
    waves = tf.convert_to_tensor(np.asarray(waves, np.float32))
    spectrograms = tf.convert_to_tensor(layer(waves))
    with tf.GradientTape() as tape:
        tape.watch(spectrograms)
        with substituted_output(layer, spectrograms):
            outputs = tf.cast(model(waves, training=False), tf.float32)
        score = best_path_score(outputs) if task_kind == CTC else target_outputs(outputs, task_kind)
        total = tf.reduce_sum(score)  # each clip's score depends on its own spectrogram only
    grads = tape.gradient(total, spectrograms).numpy()[..., 0]
    return spectrograms.numpy()[..., 0], np.abs(grads), outputs.numpy()


def explain_clips(model, waves: np.ndarray, task_kind: str, labels: Sequence[str], class_names: Sequence[str],
                  out: Path) -> dict[str, Any]:
    """Write each clip's saliency picture and the maps; returns bmrun-explain's summary."""
    spectrograms, maps, outputs = spectrogram_saliency(model, waves, task_kind)
    predictions = _predictions(outputs, task_kind, class_names)
    pictures = []
    for i, (spectrogram, saliency, label, said) in enumerate(zip(spectrograms, maps, labels, predictions)):
        caption = f"{label}: {said}"
        picture = saliency_picture(spectrogram, saliency, caption, "which frames and mel bands the prediction "
                                   "rests on")
        path = out / SALIENCY / f"{i:03d}.png"
        save_png(picture, path, {"Caption": caption, "Method": "gradient saliency on the log-mel spectrogram"})
        pictures.append(str(path))
    buffer = io.BytesIO()
    np.save(buffer, maps.astype(np.float32))
    atomic_write_bytes(out / f"{SALIENCY}.npy", buffer.getvalue())
    return {"method": "saliency (|gradient| on the log-mel spectrogram)", "examples": len(maps),
            "predictions": predictions, "pictures": pictures, "picture_array": picture}


def _predictions(outputs: np.ndarray, task_kind: str, class_names: Sequence[str]) -> list[str]:
    """What the model says of each clip: the transcript, or the class and its probability."""
    if task_kind == CTC:
        return [f"transcript '{text}'" for text in decode(outputs, class_names)]
    probabilities = class_probabilities_np(outputs, task_kind)
    classes = predicted_classes_np(outputs, task_kind)
    names = [class_names[c] if c < len(class_names) else str(c) for c in classes]
    return [f"predicted {name}, p = {probabilities[i, c]:.2f}" for i, (name, c) in enumerate(zip(names, classes))]
