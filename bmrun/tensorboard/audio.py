"""TensorBoard for speech runs (``data=audio_folder``): spectrograms of test clips with their
labels or transcripts, and the clips themselves to listen to.

After each validation, the first :data:`SHOWN` test clips (the same every epoch, so the slider
shows the predictions change) are drawn as the model's own log-mel spectrograms, each captioned
with its truth and the model's prediction (``spectrograms`` in the Images tab of the ``test``
writer). After the final test, up to :data:`LISTEN` test clips go to the Audio tab
(``clips``), mistakes first, with a table saying which clip is which (``clips_table`` in the Text
tab).
The words come from the task kind (:meth:`bmrun.tasks.base.Task.captions`: class names for
keyword spotting, greedy transcripts for CTC), so this hook never branches on it. Nothing is
written for other inputs or when TensorBoard is off.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from bmrun.data.splits import take
from bmrun.explain.spectrograms import spectrogram_grid
from bmrun.models.audio import front_layer
from bmrun.specs import AUDIO
from bmrun.tasks import task_for

SHOWN = 6  # clips drawn each epoch: enough to see a trend, few enough to read the captions
LISTEN = 4  # clips in the Audio tab
SEARCHED = 256  # test clips predicted to find the mistakes to listen to (a fraction of a second)


def build_audio_views(tensorboard, *, model, pipeline, **_) -> Optional["AudioViews"]:
    """The hook of a speech run with TensorBoard on and a test split, else None."""
    data = pipeline.data
    if data.inputs.kind != AUDIO or not tensorboard.enabled or not len(data.test):
        return None
    front = front_layer(model)
    if front is None:  # a custom model without bmrun's front end: no spectrogram to draw
        return None
    return AudioViews(tensorboard, model, data, task_for(data.task), front)


class AudioViews:
    """Writes the spectrogram pictures and the audio summary of one run (see the module docstring)."""

    def __init__(self, tensorboard, model, data, task, front):
        self.tensorboard, self.model, self.data, self.task, self.front = tensorboard, model, data, task, front
        self.sample_rate = int(front.sample_rate)

    def on_epoch_end(self, step: int) -> None:
        self._spectrograms(step, "test clips")

    def on_test_end(self, step: int) -> None:
        self._spectrograms(step, "test clips · final")
        self._listen(step)

    def _clips(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        test = self.data.test
        count = min(count, len(test))
        return np.asarray(take(test.x, slice(0, count)), np.float32), np.asarray(test.y[:count])

    def _spectrograms(self, step: int, title: str) -> None:
        waves, y = self._clips(SHOWN)
        outputs = np.asarray(self.model(tf.constant(waves), training=False), np.float32)
        truths, guesses = self.task.captions(y, outputs)
        spectrograms = np.asarray(self.front(tf.constant(waves)), np.float32)[..., 0]
        right = sum(t == g for t, g in zip(truths, guesses))
        picture = spectrogram_grid(spectrograms, truths, guesses, f"{title} · {right} of {len(y)} right")
        with self.tensorboard.writer("test").as_default(step=int(step)):
            tf.summary.image("spectrograms", picture[None], max_outputs=1)

    def _listen(self, step: int) -> None:
        """The first clips the model gets wrong, then right ones, as audio with a table of who is who."""
        waves, y = self._clips(SEARCHED)
        outputs = np.concatenate([np.asarray(self.model(tf.constant(waves[i:i + 64]), training=False), np.float32)
                                  for i in range(0, len(waves), 64)])
        truths, guesses = self.task.captions(y, outputs)
        chosen = listening_order(truths, guesses, LISTEN)
        wrong = [i for i in range(len(y)) if truths[i] != guesses[i]]
        rows = ["| clip | test index | true | predicted |", "|---|---|---|---|"]
        rows += [f"| {n + 1} | {i} | {_cell(truths[i])} | {_cell(guesses[i])} {'✗' if i in wrong else '✓'} |"
                 for n, i in enumerate(chosen)]
        peak = np.maximum(np.abs(waves[chosen]).max(axis=1, keepdims=True), 1e-6)
        audio = (waves[chosen] / peak)[..., None]  # each clip at full scale: quiet clips stay audible
        with self.tensorboard.writer("test").as_default(step=int(step)):
            tf.summary.audio("clips", audio, self.sample_rate, max_outputs=LISTEN,
                             description=f"{len(wrong)} of {len(y)} test clips wrong; mistakes first")
            tf.summary.text("clips_table", "\n".join(rows))  # its own tag: one tag, one plugin
        self.tensorboard.flush()


def listening_order(truths, guesses, count: int) -> list[int]:
    """The first ``count`` clips to listen to: the mistakes in test order, then the right ones."""
    wrong = [i for i, (t, g) in enumerate(zip(truths, guesses)) if t != g]
    right = [i for i, (t, g) in enumerate(zip(truths, guesses)) if t == g]
    return (wrong + right)[:count]


def _cell(text: str) -> str:
    """A text safe inside a Markdown table cell."""
    return text.replace("|", "\\|") if text else "*(empty)*"
