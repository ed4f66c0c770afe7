"""WAV files to waveforms, with Python's ``wave`` module and NumPy (no TensorFlow, no audio library).

:func:`read_wav` returns a clip as float32 samples in [-1, 1]: PCM of 8 (unsigned), 16, 24 or 32
bits, any number of channels (mixed down to mono by their mean) and any sample rate (resampled
to the rate asked for). :func:`fit_length` pads with silence or cuts a clip to a fixed number of
samples. Both the training data (:mod:`bmrun.data.audio_folder`) and ``bmrun-predict`` read clips
here, so a clip means the same thing to both.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from bmrun.errors import DataError


class BadClip(DataError):
    """A WAV file that cannot be read as audio: not a WAV, empty, or an unsupported encoding."""


def read_wav(path, sample_rate: int) -> np.ndarray:
    """One clip as mono float32 samples in [-1, 1] at ``sample_rate``.

    Raises:
        BadClip: Not a RIFF/WAVE file, a compressed or float encoding, or no samples.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            frames = handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as error:
        reason = str(error) or "too short for a WAV header"
        raise BadClip(f"{path}: not a readable WAV file ({reason}); bmrun reads uncompressed PCM WAV "
                      f"(8, 16, 24 or 32 bits).") from None
    except OSError as error:
        raise BadClip(f"{path}: cannot be read ({error.strerror or error}).") from None
    if channels < 1 or rate < 1 or width not in (1, 2, 3, 4):
        raise BadClip(f"{path}: a WAV of {width * 8}-bit samples, {channels} channels at {rate} Hz; bmrun reads "
                      f"8, 16, 24 or 32-bit PCM.")
    count = len(frames) // (width * channels)
    if count == 0:
        raise BadClip(f"{path}: a zero-length clip (no samples); remove it or record it again.")
    samples = _pcm(frames[:count * width * channels], width).reshape(count, channels).mean(axis=1)
    return resample(samples, rate, sample_rate)


def _pcm(data: bytes, width: int) -> np.ndarray:
    """Interleaved PCM bytes to float32 in [-1, 1] (8-bit WAV is unsigned, the others signed)."""
    if width == 1:
        return (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:  # no 24-bit dtype: place the three bytes in the top of an int32
        raw = np.frombuffer(data, np.uint8).reshape(-1, 3)
        wide = np.zeros((len(raw), 4), np.uint8)
        wide[:, 1:] = raw
        return wide.view("<i4").reshape(-1).astype(np.float32) / 2.0**31
    dtype = "<i2" if width == 2 else "<i4"
    return np.frombuffer(data, dtype).astype(np.float32) / float(2 ** (8 * width - 1))


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``rate`` Hz resampled to ``target`` Hz (band-limited by FFT; exact for equal rates).

    The FFT resampler keeps the band both rates share and drops what the lower rate cannot hold,
    so downsampling does not alias as linear interpolation would.
    """
    if rate == target:
        return samples.astype(np.float32)
    length = max(1, int(round(len(samples) * target / rate)))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    keep = min(len(spectrum), length // 2 + 1)
    out = np.fft.irfft(spectrum[:keep], n=length) * (length / len(samples))
    return out.astype(np.float32)


def header_length(path, sample_rate: int):
    """A clip's length in samples at ``sample_rate``, from its WAV header alone (None if unreadable).

    What :func:`read_wav` would return, without reading the samples: ``data.duration=null`` and the
    count of cut clips need every clip's length before (or without) decoding it.
    """
    try:
        with wave.open(str(path), "rb") as handle:
            frames, rate = handle.getnframes(), handle.getframerate()
    except (wave.Error, EOFError, OSError):
        return None  # read_wav names the problem when the clip is loaded
    if rate < 1 or frames < 1:
        return None
    return frames if rate == sample_rate else max(1, int(round(frames * sample_rate / rate)))


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Pad with trailing silence, or cut, to ``length`` samples."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def write_wav(path, samples: np.ndarray, sample_rate: int, width: int = 2, channels: int = 1) -> None:
    """Write float samples in [-1, 1] as PCM (tests, benchmarks and TensorBoard-free checks use it).

    Args:
        samples: ``(n,)`` or ``(n, channels)`` float samples.
        width: Bytes per sample: 1 (unsigned 8-bit), 2, 3 or 4.
    """
    data = np.clip(np.asarray(samples, np.float64), -1.0, 1.0)
    if data.ndim == 1:
        data = np.repeat(data[:, None], channels, axis=1)
    if width == 1:
        raw = np.round(data * 127.0 + 128.0).astype(np.uint8).tobytes()
    else:
        ints = np.round(data * (2 ** (8 * width - 1) - 1)).astype("<i4")
        raw = ints.astype("<i2").tobytes() if width == 2 else (
            ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes() if width == 3 else ints.tobytes())
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(data.shape[1])
        handle.setsampwidth(width)
        handle.setframerate(int(sample_rate))
        handle.writeframes(raw)
