"""TensorBoard event files: train/val/test scalars, and truncation for resumed runs.

A resumed run restarts from its last checkpoint, but the interrupted process may have logged
steps past it. Event files are TFRecord files of ``Event`` protos, so before resuming we
rewrite each one without the events after the checkpoint's step: curves continue with no
duplicate or orphaned points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import tensorflow as tf

from bmrun.run_dir import atomic_path


class TensorBoardLogger:
    """Scalar writers for ``tensorboard/{train,val,test}`` (no-ops when disabled)."""

    def __init__(self, log_dir: Path, enabled: bool):
        self.log_dir = Path(log_dir)
        self.enabled = enabled
        self._writers: dict[str, tf.summary.SummaryWriter] = {}

    def writer(self, split: str):
        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(str(self.log_dir / split))
        return self._writers[split]

    def scalars(self, split: str, values: Mapping[str, float], step: int) -> None:
        if not self.enabled:
            return
        with self.writer(split).as_default(step=int(step)):
            for name, value in values.items():
                if isinstance(value, (int, float)):
                    tf.summary.scalar(name, float(value))

    def flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def truncate_events(log_dir: Path, last_step: int) -> int:
    """Drop events with ``step > last_step`` from every event file under ``log_dir``.

    Returns:
        How many events were dropped.
    """
    # TensorBoard (comes with TensorFlow): only when event files are written
    from tensorboard.compat.proto import event_pb2

    dropped = 0
    for path in Path(log_dir).rglob("events.out.tfevents.*"):
        kept = []
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            event = event_pb2.Event.FromString(record)
            if event.step > last_step and not event.HasField("file_version"):
                dropped += 1
                continue
            kept.append(record)
        with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
            for record in kept:
                writer.write(record)
    return dropped
