"""Decoding a trained encoder–decoder: greedy (the default) and beam search (``test.beam_size``).

The model is the teacher-forced one (:mod:`bmrun.models.encoder_decoder`): it maps
``{"source", "target_in"}`` to logits at every target position, and position ``t`` depends only
on ``target_in[:t + 1]``. Decoding feeds it its own prefix inside one graph loop that stops when
every sequence has written its end token. There is no key/value cache: step ``t`` runs the model
on the prefix ``target_in[:t + 1]`` only (not the padded width), so a whole output costs about
half of re-running the full width every step, and the sources are decoded in order of length so
that a batch of short ones stops early. Outputs are the written ids;
:func:`bmrun.tasks.vocabulary.ids_to_texts` cuts them at the end token.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bmrun.tasks.vocabulary import END, START



def decode_ids(model, source: np.ndarray, *, beam_size: int = 1, batch_size: int = 256) -> np.ndarray:
    """The decoded target ids ``[n, target width]`` of source ids ``[n, source width]``, batch by batch."""
    source = np.asarray(source, np.int32)
    width = target_width(model, source.shape[1])
    if len(source) == 0:
        return np.zeros((0, width), np.int32)
    run = compiled(model, int(beam_size))
    order = np.argsort(np.count_nonzero(source, axis=1), kind="stable")  # similar lengths stop together
    written = np.concatenate([run(tf.constant(source[order[i:i + batch_size]]), tf.constant(width)).numpy()
                              for i in range(0, len(source), batch_size)])
    return written[np.argsort(order, kind="stable")]


def target_width(model, default: int) -> int:
    """The longest output the model writes: its ``target_in`` width (the source's for plain callables)."""
    shape = getattr(model, "example_shape", None)
    return int(shape[-1]) if shape else int(default)


def compiled(model, beam_size: int = 1):
    """The compiled decoding loop of ``model`` (one per model and beam size, traced once)."""
    cache = model.__dict__.setdefault("_bmrun_decoders", {})
    if beam_size not in cache:
        step = _greedy if beam_size == 1 else (lambda m, s, w: _beam(m, s, w, beam_size))
        spec = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32)]
        cache[beam_size] = tf.function(lambda source, width: step(model, source, width), input_signature=spec,
                                       autograph=False)
    return cache[beam_size]


def _logits_at(model, source, target, t):
    """The logits of position ``t``, from the prefix ``target[:, :t + 1]`` alone."""
    logits = model({"source": source, "target_in": target[:, :t + 1]}, training=False)
    return tf.cast(logits[:, t], tf.float32)


def _greedy(model, source, length):
    """The greedy loop: written ids ``[batch, length]``."""
    batch = tf.shape(source)[0]
    target = tf.concat([tf.fill([batch, 1], START), tf.zeros([batch, length - 1], tf.int32)], axis=1)
    written = tf.zeros([batch, length], tf.int32)
    done = tf.zeros([batch], tf.bool)

    def body(t, target, written, done):
        token = tf.argmax(_logits_at(model, source, target, t), axis=-1, output_type=tf.int32)
        token = tf.where(done, 0, token)
        at_t = tf.one_hot(t, length, dtype=tf.int32)
        written += token[:, None] * at_t[None]
        target += token[:, None] * tf.one_hot(t + 1, length, dtype=tf.int32)[None]  # past the end: nothing
        return t + 1, target, written, tf.logical_or(done, tf.equal(token, END))

    def more(t, target, written, done):
        return tf.logical_and(t < length, tf.logical_not(tf.reduce_all(done)))

    return tf.while_loop(more, body, (tf.constant(0), target, written, done))[2]


def _beam(model, source, length, beam: int):
    """Beam search: the ``beam`` best prefixes by summed log-probability; the best one is returned.

    A finished beam keeps its score and writes padding. No length penalty: with summed
    log-probabilities a shorter finished output wins only if it is more likely as a whole.
    """
    batch = tf.shape(source)[0]
    flat_source = tf.repeat(source, beam, axis=0)
    target = tf.concat([tf.fill([batch, beam, 1], START), tf.zeros([batch, beam, length - 1], tf.int32)], axis=2)
    written = tf.zeros([batch, beam, length], tf.int32)
    # Only the first beam is live at the start: the others would repeat it.
    scores = tf.tile(tf.concat([[0.0], tf.fill([beam - 1], -1e9)], 0)[None], [batch, 1])
    done = tf.zeros([batch, beam], tf.bool)

    def body(t, target, written, scores, done):
        logits = _logits_at(model, flat_source, tf.reshape(target, [batch * beam, length]), t)
        log_p = tf.reshape(tf.nn.log_softmax(logits), [batch, beam, -1])
        vocab = tf.shape(log_p)[2]
        pad_only = tf.concat([tf.zeros([1]), tf.fill([vocab - 1], -1e9)], 0)
        log_p = tf.where(done[..., None], pad_only[None, None], log_p)
        total = tf.reshape(scores[..., None] + log_p, [batch, beam * vocab])
        scores, index = tf.math.top_k(total, k=beam)
        origin, token = index // vocab, index % vocab
        target = tf.gather(target, origin, batch_dims=1)
        written = tf.gather(written, origin, batch_dims=1)
        done = tf.gather(done, origin, batch_dims=1)
        written += token[..., None] * tf.one_hot(t, length, dtype=tf.int32)[None, None]
        target += token[..., None] * tf.one_hot(t + 1, length, dtype=tf.int32)[None, None]
        return t + 1, target, written, scores, tf.logical_or(done, tf.equal(token, END))

    def more(t, target, written, scores, done):
        return tf.logical_and(t < length, tf.logical_not(tf.reduce_all(done)))

    written = tf.while_loop(more, body, (tf.constant(0), target, written, scores, done))[2]
    return written[:, 0]  # top_k sorts: beam 0 scores best
