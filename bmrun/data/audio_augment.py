"""SpecAugment-style masking of raw waveforms (``augment=standard`` on ``data=audio_folder``).

The model computes its spectrogram itself (:mod:`bmrun.models.audio`), so training batches are
waveforms; the masks of SpecAugment (Park et al. 2019) are applied to them so that the model's
log-mel input shows them: a *time mask* silences one random span of each clip, a *frequency
mask* removes one random band of frequencies (zeroed in the short-time Fourier transform, then
resynthesised by the inverse transform). Each mask's width is uniform in ``[0, share x total]``.
Every random number comes from the stateless key :class:`~bmrun.data.augment.Augmenter` gives
each batch, so runs and resumes are reproducible.
"""

from __future__ import annotations

import tensorflow as tf

_ALG = "philox"
# The masking transform's own window: 32 ms at 16 kHz. Frequency masks are bands of its bins.
_FRAME, _STEP = 512, 128


def mask_waveforms(waves: tf.Tensor, keys: tf.Tensor, time_mask: float, freq_mask: float) -> tf.Tensor:
    """One time mask and one frequency mask per clip of a ``(batch, samples)`` batch.

    Args:
        waves: Float waveforms.
        keys: At least two stateless keys (one per mask).
        time_mask, freq_mask: Largest masked share of the clip's samples and of its frequencies.
    """
    out = tf.cast(waves, tf.float32)
    if freq_mask > 0:
        out = _frequency_mask(out, keys[1], freq_mask)
    if time_mask > 0:
        samples = tf.shape(out)[1]
        start, width = _spans(tf.shape(out)[0], samples, time_mask, keys[0])
        steps = tf.range(samples)[None, :]
        out = out * tf.cast(tf.logical_or(steps < start, steps >= start + width), tf.float32)
    return tf.ensure_shape(tf.cast(out, waves.dtype), waves.shape)


def _spans(batch, total, share: float, key) -> tuple[tf.Tensor, tf.Tensor]:
    """Per example, a span ``[start, start + width)`` of ``total`` with width in ``[0, share x total]``."""
    draws = tf.random.stateless_uniform([batch, 2], seed=key, alg=_ALG)
    width = tf.cast(draws[:, 0] * share * tf.cast(total, tf.float32), tf.int32)
    start = tf.cast(draws[:, 1] * tf.cast(total - width, tf.float32), tf.int32)
    return start[:, None], width[:, None]


def _frequency_mask(waves: tf.Tensor, key, share: float) -> tf.Tensor:
    samples = tf.shape(waves)[1]
    stft = tf.signal.stft(waves, _FRAME, _STEP, pad_end=True)
    bins = _FRAME // 2 + 1
    start, width = _spans(tf.shape(waves)[0], bins, share, key)
    index = tf.range(bins)[None, :]
    keep = tf.cast(tf.logical_or(index < start, index >= start + width), stft.dtype)[:, None, :]
    window = tf.signal.inverse_stft_window_fn(_STEP)
    out = tf.signal.inverse_stft(stft * keep, _FRAME, _STEP, window_fn=window)
    return out[:, :samples]
