"""The model's own audio front end (``audio`` inputs, ``data=audio_folder``): waveform to log-mel.

:func:`audio_front` puts a :class:`LogMel` layer on a raw-waveform input, so the saved model takes
audio samples at the training sample rate and every family reads the same spectrogram as an
image of ``(frames, n_mels, 1)``: ``cnn`` convolves over time x frequency, ``rnn`` reads one
frame per step, ``transformer`` reads time x frequency patches. Imports Keras and TensorFlow at
the top: :mod:`bmrun.models.backbones` imports it only for these inputs.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from bmrun.data.catalog import IMAGE, InputSpec

# Below every real sound's power, so silence (padding) gives a finite floor instead of log(0).
_FLOOR = 1e-6


@keras.saving.register_keras_serializable(package="bmrun")
class LogMel(keras.layers.Layer):
    """``(batch, samples)`` waveforms -> ``(batch, frames, n_mels, 1)`` standardised log-mel spectrograms.

    The short-time Fourier transform pads the clip's end, so there is one frame per
    ``frame_step`` samples (100 frames for 1 s at a 10 ms hop). Each spectrogram is standardised
    on its own (mean 0, variance 1 over time and frequency): a clip's loudness does not change
    what the network sees, and no training statistics are needed.

    Args:
        sample_rate: Samples per second of the input.
        frame_length, frame_step: Analysis window and hop, in samples.
        n_mels: Mel bands (20 Hz to the Nyquist frequency).
    """

    def __init__(self, sample_rate: int, frame_length: int, frame_step: int, n_mels: int, **kwargs):
        kwargs.setdefault("dtype", "float32")  # an FFT in float16 loses the quiet bands
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.frame_length = int(frame_length)
        self.frame_step = int(frame_step)
        self.n_mels = int(n_mels)
        self.fft_length = 1 << (self.frame_length - 1).bit_length()

    def call(self, waves):
        waves = tf.cast(waves, tf.float32)
        stft = tf.signal.stft(waves, self.frame_length, self.frame_step, self.fft_length, pad_end=True)
        power = tf.math.square(tf.abs(stft))
        mel = tf.signal.linear_to_mel_weight_matrix(self.n_mels, self.fft_length // 2 + 1, self.sample_rate,
                                                    20.0, self.sample_rate / 2.0)
        log_mel = tf.math.log(tf.tensordot(power, mel, 1) + _FLOOR)
        mean, variance = tf.nn.moments(log_mel, axes=[1, 2], keepdims=True)
        return tf.expand_dims((log_mel - mean) * tf.math.rsqrt(variance + 1e-6), -1)

    def frames(self, samples: int) -> int:
        """Spectrogram frames of a clip of ``samples`` samples."""
        return -(-int(samples) // self.frame_step)

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else self.frames(input_shape[1])
        return (input_shape[0], frames, self.n_mels, 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "sample_rate": self.sample_rate, "frame_length": self.frame_length,
                "frame_step": self.frame_step, "n_mels": self.n_mels}


def audio_front(front: dict, input_shape: tuple):
    """The waveform input, its spectrogram and the spectrogram's spec (an image: frames x mels x 1).

    Args:
        front: The model's ``columns`` entry ``{"audio": {sample_rate, frame_length, frame_step,
            n_mels}}`` (see :meth:`bmrun.data.audio_folder.AudioFolderConfig.front`).
        input_shape: ``(samples,)``.
    """
    settings = (front or {}).get("audio")
    if not settings:
        raise ValueError("audio inputs need the front end's settings (sample rate, frames, mel bands)")
    inputs = keras.Input(shape=tuple(input_shape), dtype="float32", name="inputs")
    layer = LogMel(**settings, name="log_mel")
    x = layer(inputs)
    return inputs, x, InputSpec(IMAGE, (layer.frames(input_shape[0]), layer.n_mels, 1), spectrogram=True)



def front_layer(model):
    """The :class:`LogMel` layer of a model of audio inputs (searched through nested models), or None."""
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, LogMel):
            return layer
        found = front_layer(layer)
        if found is not None:
            return found
    return None
