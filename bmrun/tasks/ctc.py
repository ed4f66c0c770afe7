"""Speech to text: per-frame character logits trained with CTC (``data.transcripts=...``).

The head is a float32 dense layer applied to every frame of the backbone's sequence of
features: ``(batch, frames, 1 + characters)`` logits, index 0 being CTC's blank. Labels are the
transcripts' character ids, right-padded with 0. Decoding is greedy (the best class per frame,
repeats merged, blanks dropped: :func:`decode`) or a beam search (``beam_width > 1``), both
TensorFlow's CTC decoders. The test split's character and word error rates (``cer``, ``wer``)
are those of `jiwer <https://github.com/jitsi/jiwer>`_ on the greedy transcripts.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from bmrun.errors import ConfigError
from bmrun.specs import CTC
from bmrun.tasks.base import Task
import keras


class Ctc(Task):
    """The ``ctc`` task kind: ``spec.class_names`` is ``("", *alphabet)`` (0: the blank)."""

    kind = CTC

    @staticmethod
    def build_head(features, num_outputs: int):
        if len(features.shape) != 3:
            raise ValueError(f"a ctc head reads one feature vector per frame, got features of shape {features.shape}")
        return keras.layers.Dense(num_outputs, dtype="float32", name="head")(features)

    def captions(self, y, outputs) -> tuple[list[str], list[str]]:
        """The true and the greedy transcripts."""
        names = self.spec.class_names
        return [_text(row, names) for row in np.asarray(y)], decode(outputs, names)

    def needs_example_outputs(self, groups: Optional[Mapping]) -> bool:
        return True

    def example_metrics(self, y, outputs, groups: Optional[Mapping]) -> tuple[dict, dict]:
        """Character and word error rates of the greedy transcripts (jiwer)."""
        jiwer = require_jiwer()
        names = self.spec.class_names
        truth = [_text(row, names) for row in np.asarray(y)]
        guess = decode(outputs, names)
        # jiwer refuses empty references; a clip without words has none to get wrong.
        pairs = [(t, g) for t, g in zip(truth, guess) if t.strip()]
        if not pairs:
            return {}, {}
        truth, guess = [p[0] for p in pairs], [p[1] for p in pairs]
        return {"cer": float(jiwer.cer(truth, guess)), "wer": float(jiwer.wer(truth, guess))}, {}


def ctc_loss(labels, logits) -> tf.Tensor:
    """Per-example CTC loss of right-padded (0) label ids and ``(batch, frames, classes)`` logits."""
    labels = tf.cast(labels, tf.int32)
    logits = tf.cast(logits, tf.float32)
    label_length = tf.reduce_sum(tf.cast(labels > 0, tf.int32), axis=1)
    frames = tf.fill([tf.shape(logits)[0]], tf.shape(logits)[1])
    return tf.nn.ctc_loss(labels, logits, label_length, frames, logits_time_major=False, blank_index=0)


def best_path_score(logits) -> tf.Tensor:
    """Each clip's log-probability of its greedy best path: the best class's log-softmax summed
    over frames. Its gradient says which parts of the input the transcript rests on."""
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    return tf.reduce_sum(tf.reduce_max(log_probs, axis=-1), axis=-1)


def decode(outputs, names: Sequence[str], beam_width: int = 1) -> list[str]:
    """Transcripts of ``(batch, frames, classes)`` logits: greedy, or a beam search of ``beam_width``."""
    logits = tf.transpose(tf.convert_to_tensor(np.asarray(outputs, np.float32)), [1, 0, 2])
    # TensorFlow's decoders take the blank as the last class: rotate index 0 to the end.
    logits = tf.concat([logits[..., 1:], logits[..., :1]], axis=-1)
    lengths = tf.fill([tf.shape(logits)[1]], tf.shape(logits)[0])
    if beam_width > 1:
        sparse, _ = tf.nn.ctc_beam_search_decoder(logits, lengths, beam_width=beam_width, top_paths=1)
    else:
        sparse, _ = tf.nn.ctc_greedy_decoder(logits, lengths)
    dense = tf.sparse.to_dense(sparse[0], default_value=-1).numpy() + 1  # back to 1..K; padding 0
    batch = int(logits.shape[1])
    rows = list(dense) + [np.zeros(0, int)] * (batch - len(dense))
    return [_text(row, names) for row in rows]


def _text(ids, names: Sequence[str]) -> str:
    return "".join(names[int(i)] for i in ids if 0 < int(i) < len(names))


def require_jiwer():
    """jiwer, or one line saying how to install it."""
    try:
        # jiwer (optional: bmrun[speech])
        import jiwer
    except ImportError:
        raise ConfigError("data.transcripts", "speech to text reports CER and WER with jiwer, which is not "
                          "installed: pip install 'bmrun[speech]' (or pip install jiwer)") from None
    return jiwer
