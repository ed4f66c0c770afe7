"""Checkpoints that survive a kill at any instant, and the best model so far.

``tf.train.CheckpointManager`` writes a checkpoint's files first and then atomically replaces
the small ``checkpoint`` index that names the latest one, so a process killed mid-write
leaves the previous checkpoint as the latest. Besides the model and optimizer, a checkpoint
holds the loop's position (epoch, step in epoch, global step) and the early-stopping record,
so a resumed run continues where the old one stopped, with the same data order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import tensorflow as tf

from bmrun.errors import RunDirError
from bmrun.run_dir import atomic_path

BEST_WEIGHTS = "best.weights.h5"


class TrainingState:
    """Loop position and early-stopping record, as variables so checkpoints carry them."""

    def __init__(self) -> None:
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)  # finished epochs
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best_value = tf.Variable(float("nan"), dtype=tf.float64, trainable=False)
        self.best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)
        self.epochs_without_improvement = tf.Variable(0, dtype=tf.int64, trainable=False)
        # Running sums of the epoch in progress: a mid-epoch resume reports the same epoch
        # metrics as an uninterrupted run.
        self.epoch_sums = {name: tf.Variable(0.0, dtype=tf.float64, trainable=False)
                           for name in ("loss_sum", "correct", "count")}

    def read_epoch_sums(self) -> dict[str, float]:
        return {name: float(variable.numpy()) for name, variable in self.epoch_sums.items()}

    def write_epoch_sums(self, sums: dict[str, float]) -> None:
        for name, variable in self.epoch_sums.items():
            variable.assign(sums[name])

    def trackables(self) -> dict:
        tracked = {name: getattr(self, name) for name in ("epoch", "step_in_epoch", "global_step", "best_value",
                                                          "best_epoch", "epochs_without_improvement")}
        return {**tracked, **{f"epoch_{name}": variable for name, variable in self.epoch_sums.items()}}


class Checkpointer:
    """Saves and restores model + optimizer + :class:`TrainingState` under ``directory``.

    Keras 3 models are not tracked as ``tf.train.Checkpoint`` children, so the model's
    variables (weights, batch-norm statistics, dropout RNG state) are saved as an ordered list.
    """

    def __init__(self, directory: Path, model, optimizer, state: TrainingState, *, keep: int = 2,
                 enabled: bool = True):
        self.directory = Path(directory)
        self.model = model
        self.enabled = enabled
        self._checkpoint = tf.train.Checkpoint(model_variables=list(model.variables), optimizer=optimizer,
                                               **state.trackables())
        self._manager = tf.train.CheckpointManager(self._checkpoint, str(self.directory), max_to_keep=keep,
                                                   checkpoint_name="ckpt")

    @property
    def latest(self) -> Optional[str]:
        return self._manager.latest_checkpoint

    def save(self, global_step: int) -> Optional[str]:
        if not self.enabled:
            return None
        return self._manager.save(checkpoint_number=int(global_step))

    def restore_latest(self) -> bool:
        """Restore the newest complete checkpoint; False when there is none."""
        path = self._manager.latest_checkpoint
        if path is None:
            return False
        try:
            self._checkpoint.read(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise RunDirError(f"checkpoint {path} does not match this model and optimizer ({error}). "
                              f"Was the run's config.yaml edited?") from None
        return True

    def save_best(self) -> None:
        """Keep the current weights as the best model (atomic: temp file, then rename)."""
        if not self.enabled:
            return
        with atomic_path(self.directory / BEST_WEIGHTS) as tmp:
            self.model.save_weights(str(tmp.with_name(tmp.name + ".weights.h5")))  # Keras wants the suffix
            os.replace(tmp.with_name(tmp.name + ".weights.h5"), tmp)

    def restore_best(self) -> bool:
        path = self.directory / BEST_WEIGHTS
        if not path.exists():
            return False
        self.model.load_weights(str(path))
        return True
