"""Audio folders above ``data.memory_budget``: clips kept as paths and read in the tf.data pipeline.

:class:`FileClips` stands in for a split's ``(clips, samples)`` float32 array, as
:class:`~bmrun.data.image_files.FileImages` does for image files; :func:`clip_dataset` reads
and decodes its clips batch by batch with the same reader the resident path uses
(:func:`bmrun.data.wav.read_wav` and :func:`~bmrun.data.wav.fit_length`), so a streamed run
sees exactly the samples a resident one holds, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmrun.data.wav import fit_length, read_wav


@dataclass
class FileClips:
    """The clips of a split as WAV files.

    Indexing (slices, index arrays, masks) gives the subset, as NumPy indexing would, so
    :func:`bmrun.data.arrays.prepare` limits and splits it like an array; ``np.asarray`` reads
    it (meant for a few clips: pictures, explanations).

    Attributes:
        paths: One file per example (every one was read once when the folder was checked).
        sample_rate: The rate each clip is resampled to.
        samples: The length each clip is padded or cut to.
    """

    paths: np.ndarray
    sample_rate: int
    samples: int

    streamed = True

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> "FileClips":
        if isinstance(index, (int, np.integer)):
            index = [index]
        return FileClips(self.paths[index], self.sample_rate, self.samples)

    @property
    def dtype(self):
        return np.dtype(np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), self.samples

    @property
    def nbytes(self) -> int:
        return len(self) * self.samples * 4

    def read(self, path) -> np.ndarray:
        """One clip as the model's float32 waveform."""
        return fit_length(read_wav(path, self.sample_rate), self.samples)

    def __array__(self, dtype=None, copy=None):
        waves = np.stack([self.read(p) for p in self.paths]) if len(self) else np.zeros((0, self.samples))
        return waves.astype(dtype or np.float32)


def clip_dataset(clips: FileClips, labels: np.ndarray, order: np.ndarray, batch_size: int):
    """Batches of ``(float32 waveforms, labels)`` read from disk in ``order`` (parallel reads, same order)."""
    # TensorFlow: only when a streamed pipeline is built, never at --help or config composition
    import tensorflow as tf

    path_table, label_table = tf.constant(clips.paths.astype(str)), tf.constant(labels)

    def load(path):
        return clips.read(path.decode()).astype(np.float32)

    def read(i):
        wave = tf.numpy_function(load, [path_table[i]], tf.float32, stateful=False)
        wave.set_shape([clips.samples])  # numpy_function forgets shapes; the model's input needs one
        return wave, label_table[i]

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(order, tf.int64))
    return dataset.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)
