"""Checkpoints that survive a kill or a full disk at any instant, and the best model so far.

``tf.train.CheckpointManager`` writes a checkpoint's files first and then atomically replaces
the small ``checkpoint`` index that names the latest one, so a process killed mid-write
leaves the previous checkpoint as the latest. Each checkpoint also gets a ``.sha256`` record
of its files: a resume verifies the newest one and, when it is corrupt or truncated, falls
back to the previous good checkpoint. Besides the model and optimizer, a checkpoint holds the
loop's position (epoch, step in epoch, global step) and the early-stopping record, so a resumed
run continues where the old one stopped, with the same data order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional

import tensorflow as tf

from bmrun.console import err

from bmrun.errors import ArtifactWriteError, RunDirError
from bmrun.run_dir import atomic_path, atomic_write_json

log = logging.getLogger("bmrun")
BEST_WEIGHTS = "best.weights.h5"


class TrainingState:
    """Loop position and early-stopping record, as variables so checkpoints carry them."""

    def __init__(self, sum_names: tuple[str, ...] = ("loss_sum", "correct", "count")) -> None:
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)  # finished epochs
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best_value = tf.Variable(float("nan"), dtype=tf.float64, trainable=False)
        self.best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)
        self.epochs_without_improvement = tf.Variable(0, dtype=tf.int64, trainable=False)
        # Running sums of the epoch in progress: a mid-epoch resume reports the same epoch
        # metrics as an uninterrupted run.
        self.epoch_sums = {name: tf.Variable(0.0, dtype=tf.float64, trainable=False)
                           for name in sum_names}

    def read_epoch_sums(self) -> dict[str, float]:
        return {name: float(variable.numpy()) for name, variable in self.epoch_sums.items()}

    def write_epoch_sums(self, sums: dict[str, float]) -> None:
        for name, variable in self.epoch_sums.items():
            variable.assign(sums[name])

    def trackables(self) -> dict:
        tracked = {name: getattr(self, name) for name in ("epoch", "step_in_epoch", "global_step", "best_value",
                                                          "best_epoch", "epochs_without_improvement")}
        return {**tracked, **{f"epoch_{name}": variable for name, variable in self.epoch_sums.items()}}


def _files_of(prefix: str) -> list[Path]:
    """The files of the checkpoint at ``prefix`` (``ckpt-7.index``, ``ckpt-7.data-*``)."""
    path = Path(prefix)
    return sorted(p for p in path.parent.glob(path.name + ".*") if not p.name.endswith(".sha256"))


def _digest(files: list[Path]) -> dict[str, str]:
    result = {}
    for file in files:
        sha = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
        result[file.name] = sha.hexdigest()
    return result


class Checkpointer:
    """Saves and restores model + optimizer + :class:`TrainingState` under ``directory``.

    Keras 3 models are not tracked as ``tf.train.Checkpoint`` children, so the model's
    variables (weights, batch-norm statistics, dropout RNG state) are saved as an ordered list.

    Args:
        directory: The run's ``checkpoints/`` folder.
        model, optimizer, state: What a checkpoint holds.
        extra: More named trackables (the weights' moving average).
        keep: How many recent checkpoints stay on disk (``trainer.keep_checkpoints``).
    """

    def __init__(self, directory: Path, model, optimizer, state: TrainingState, *, keep: int = 2,
                 extra: Optional[dict] = None):
        self.directory = Path(directory)
        self.model = model
        self._checkpoint = tf.train.Checkpoint(model_variables=list(model.variables), optimizer=optimizer,
                                               **state.trackables(), **(extra or {}))
        self._manager = tf.train.CheckpointManager(self._checkpoint, str(self.directory), max_to_keep=keep,
                                                   checkpoint_name="ckpt")

    @property
    def latest(self) -> Optional[str]:
        return self._manager.latest_checkpoint

    def save(self, global_step: int) -> str:
        """Write a checkpoint and its checksum record.

        Raises:
            ArtifactWriteError: The disk refused it; the previous checkpoint stays the latest.
        """
        try:
            path = self._manager.save(checkpoint_number=int(global_step))
        except (OSError, tf.errors.OpError) as error:
            raise ArtifactWriteError(self.directory, error) from error
        atomic_write_json(Path(path + ".sha256"), _digest(_files_of(path)))
        kept = {Path(p).name for p in self._manager.checkpoints}
        for record in self.directory.glob("ckpt-*.sha256"):  # records of checkpoints the manager dropped
            if record.name[: -len(".sha256")] not in kept:
                record.unlink(missing_ok=True)
        return path

    def verify(self, path: str) -> Optional[str]:
        """None when the checkpoint at ``path`` matches its checksums, else what is wrong."""
        record = Path(path + ".sha256")
        if not record.is_file():
            return "no checksum record"
        try:
            expected = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unreadable checksum record"
        files = _files_of(path)
        if sorted(expected) != [f.name for f in files]:
            return "files are missing"
        actual = _digest(files)
        bad = [name for name in expected if actual.get(name) != expected[name]]
        return f"checksum mismatch in {', '.join(bad)}" if bad else None

    def restore_latest(self) -> bool:
        """Restore the newest good checkpoint (newest first, skipping corrupt ones).

        Returns:
            False when there is no checkpoint at all.

        Raises:
            RunDirError: Checkpoints exist but none is good, or they do not fit this model.
        """
        candidates = list(reversed(self._manager.checkpoints))
        if not candidates:
            return False
        problems = []
        for path in candidates:
            problem = self.verify(path)
            if problem == "no checksum record":
                # A kill between the checkpoint's write and its record's: unverified, not corrupt.
                # TensorFlow's own read tells a whole checkpoint from a broken one.
                problem = self._unreadable(path)
            if problem is None:
                self._read(path)
                if problems:
                    log.warning("went back to checkpoint %s: %s", Path(path).name, "; ".join(problems))

                    err.print(f"[yellow]checkpoint problem:[/] {'; '.join(problems)}; resuming from "
                              f"{Path(path).name} instead")
                return True
            problems.append(f"{Path(path).name} is corrupt ({problem})")
        raise RunDirError(f"{self.directory}: no good checkpoint to resume from: {'; '.join(problems)}. "
                          f"Start a new run instead.")

    def _unreadable(self, path: str) -> Optional[str]:
        try:
            reader = tf.train.load_checkpoint(path)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
        except (tf.errors.OpError, ValueError) as error:
            return f"unreadable: {str(error).splitlines()[0][:80]}"
        return None

    def _read(self, path: str) -> None:
        try:
            self._checkpoint.read(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise RunDirError(f"checkpoint {path} does not match this model and optimizer ({error}). "
                              f"Was the run's config.yaml edited?") from None

    def save_best(self) -> None:
        """Keep the current weights as the best model (atomic: temp file, then rename)."""
        with atomic_path(self.directory / BEST_WEIGHTS) as tmp:
            keras_name = tmp.with_name(tmp.name + ".weights.h5")  # Keras wants the suffix
            self.model.save_weights(str(keras_name))
            os.replace(keras_name, tmp)

    def restore_best(self) -> bool:
        path = self.directory / BEST_WEIGHTS
        if not path.exists():
            return False
        self.model.load_weights(str(path))
        return True
