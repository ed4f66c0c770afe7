"""Sequence to sequence: logits over the vocabulary at every target position (text pairs).

Training and every evaluation pass are teacher-forced (:mod:`bmrun.models.encoder_decoder`):
the loss is the cross-entropy of each real target token (padding masked), averaged per
example, and the token accuracy counts correct next tokens among the real ones. The final test
also *decodes* each source (:mod:`bmrun.tasks.decoding`: greedy, or beam search with
``test.beam_size``) and scores the texts against the references: exact match, and BLEU and
chrF by sacrebleu, the reference implementation (``pip install bmrun[text]``; without it those
two are left out with a warning).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

import numpy as np
import tensorflow as tf

from bmrun.specs import SEQ2SEQ
from bmrun.tasks.base import Task
from bmrun.tasks.decoding import decode_ids
from bmrun.tasks.vocabulary import PAD, ids_to_texts, normalized

log = logging.getLogger("bmrun")


def _hits(y, outputs):
    """``(correct, real)`` token indicators, float32 ``[batch, length]``."""
    y = tf.cast(y, tf.int32)
    real = tf.cast(tf.not_equal(y, PAD), tf.float32)
    correct = tf.cast(tf.equal(tf.argmax(outputs, -1, output_type=tf.int32), y), tf.float32) * real
    return correct, real


class Seq2Seq(Task):
    """Token accuracy and loss with the padding masked; decoded exact match, BLEU and chrF at test."""

    kind = SEQ2SEQ

    def correct(self, y, outputs) -> tf.Tensor:
        """Each example's share of correct tokens, summed (so ``correct / count`` is their mean)."""
        correct, real = _hits(y, outputs)
        return tf.reduce_sum(tf.reduce_sum(correct, -1) / tf.maximum(tf.reduce_sum(real, -1), 1.0))

    def train_metrics(self, sums: Mapping[str, Any]) -> dict[str, float]:
        result = super().train_metrics(sums)
        result["token_accuracy"] = float(sums["correct"]) / max(float(sums["count"]), 1.0)
        return result

    def zero_sums(self) -> dict:
        zero = tf.constant(0.0, tf.float64)
        return {**super().zero_sums(), "tokens": zero, "correct_tokens": zero}

    def eval_sums(self, y, outputs, per_example_loss) -> dict:
        correct, real = _hits(y, outputs)
        return {**super().eval_sums(y, outputs, per_example_loss),
                "tokens": tf.reduce_sum(tf.cast(real, tf.float64)),
                "correct_tokens": tf.reduce_sum(tf.cast(correct, tf.float64))}

    def metrics(self, sums) -> dict[str, float]:
        return {**super().metrics(sums),
                "token_accuracy": float(sums["correct_tokens"]) / max(float(sums["tokens"]), 1.0)}

    def decoded_metrics(self, model, split, columns: Optional[dict], *, batch_size: int,
                        beam_size: int = 1) -> dict[str, float]:
        """Exact match, BLEU and chrF of the decoded split against its references."""
        outputs = self.decode(model, split.x["source"], columns, batch_size=batch_size, beam_size=beam_size)
        return text_metrics(outputs, split.texts["reference"], columns["tokens"])

    @staticmethod
    def decode(model, source_ids: np.ndarray, columns: dict, *, batch_size: int = 256,
               beam_size: int = 1) -> list[str]:
        """The decoded texts of source ids."""
        ids = decode_ids(model, source_ids, beam_size=beam_size, batch_size=batch_size)
        return ids_to_texts(ids, columns["vocabulary"], columns["tokens"])


def text_metrics(outputs: list[str], references: list[str], tokens: str) -> dict[str, float]:
    """``exact_match`` (after re-spacing words), and sacrebleu's corpus ``bleu`` and ``chrf``."""
    exact = [out == normalized(ref, tokens) for out, ref in zip(outputs, references)]
    result = {"exact_match": float(np.mean(exact)) if exact else 0.0}
    try:
        import sacrebleu  # optional: bmrun[text]
    except ImportError:
        log.warning("BLEU and chrF need sacrebleu: pip install 'bmrun[text]' (exact match is reported)")
        return result
    result["bleu"] = float(sacrebleu.corpus_bleu(outputs, [references]).score)
    result["chrf"] = float(sacrebleu.corpus_chrf(outputs, [references]).score)
    return result
