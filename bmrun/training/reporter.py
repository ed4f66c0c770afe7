"""Where a training run's progress goes: progress bar, TensorBoard, history.csv, pictures.

One object so the epoch loop says *what* happened (a call finished, an epoch ended, the test
ran) and never *where* it is written. A process that writes nothing (a non-chief worker) gets
the same object with every sink switched off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from bmrun import console
from bmrun.run_dir import TENSORBOARD, History
from bmrun.tensorboard.scalars import TensorBoardLogger


class Reporter:
    """The sinks of one run.

    Args:
        config: The validated run config (``logger`` and ``trainer`` groups).
        run_dir: The run dir.
        writes: Whether this process writes artifacts (False on non-chief workers).
    """

    def __init__(self, config, run_dir: Path, *, writes: bool):
        logger = config.logger
        self.writes = writes
        self.tensorboard = TensorBoardLogger(Path(run_dir) / TENSORBOARD, enabled=logger.tensorboard and writes)
        self.history = History(run_dir if writes else None)
        self.progress = console.TrainingProgress(logger.progress_bar and writes, config.trainer.max_epochs)
        self.insight = None  # set by attach_insight once the model exists
        self.decoded = None  # text pairs: the decoded-text tables (attach_insight)
        self.audio = None  # speech: spectrograms and clips of the test split (attach_insight)
        self.mlflow = None
        if logger.mlflow and writes:  # an optional extra: MLflow is imported only when asked for
            # bmrun.tracking.mlflow_sink brings yaml: only when this runs, keeps --help light
            from bmrun.tracking.mlflow_sink import MlflowSink

            self.mlflow = MlflowSink(config, run_dir)

    def attach_insight(self, logger_cfg, **kwargs) -> None:
        """Pictures and histograms (``logger=images``), when asked for and TensorBoard is on."""
        # bmrun.tensorboard.insight loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.tensorboard.insight import build_insight

        self.insight = build_insight(logger_cfg, self.tensorboard, **kwargs)
        # the decoded-text tables: imported where the sinks are built, beside the other TensorBoard hooks
        from bmrun.tensorboard.decoded import build_decoded_texts

        self.decoded = build_decoded_texts(self.tensorboard, **kwargs)
        # the speech pictures and clips: imported where the sinks are built, beside the other TensorBoard hooks
        from bmrun.tensorboard.audio import build_audio_views

        self.audio = build_audio_views(self.tensorboard, **kwargs)

    def start_epoch(self, epoch: int, total_steps: int, done_steps: int) -> None:
        self.progress.start_epoch(epoch, total_steps, done_steps)

    def on_call(self, step: int, steps: int, window: dict, learning_rate: float, samples_per_s: float) -> None:
        """After each compiled call: the bar and the train scalars of the steps it ran."""
        self.progress.advance(steps, window["loss"], samples_per_s)
        self.tensorboard.scalars("train", {**window, "learning_rate": learning_rate, "samples_per_s": samples_per_s},
                                 step)

    def on_epoch(self, epoch: int, step: int, train: dict, val: dict, *, learning_rate: float,
                 samples_per_s: Optional[float], seconds: float, improved: bool) -> None:
        """After validation: val scalars, the history row, pictures and the epoch's line."""
        self.tensorboard.scalars("val", val, step)
        self.history.append({"epoch": epoch + 1, "step": step, **{f"train_{k}": v for k, v in train.items()},
                             **{f"val_{k}": v for k, v in val.items()}, "learning_rate": learning_rate,
                             "epoch_s": seconds, "samples_per_s": samples_per_s if samples_per_s is not None else ""})
        if self.insight:
            self.insight.on_epoch_end(epoch, step)
        if self.decoded:
            self.decoded.on_epoch_end(step)
        if self.audio:
            self.audio.on_epoch_end(step)
        self.progress.epoch_line(epoch, train, val, samples_per_s or 0.0, seconds, "  *best" if improved else "")
        if self.mlflow:
            self.mlflow.on_epoch(epoch, train, val, learning_rate)

    def val_at(self, epoch: int) -> Optional[dict]:
        """The val metrics history.csv holds for ``epoch`` (1-based), or None without such a row.

        Values are read as the file stores them (6 significant digits) whether the row was
        written by this process or read back by a resume, so a resumed run reports exactly
        what an uninterrupted one does.
        """
        for row in self.history.rows:
            if str(row.get("epoch")) == str(epoch):
                return {key[len("val_"):]: _number(f"{value:.6g}" if isinstance(value, float) else value)
                        for key, value in row.items() if key.startswith("val_") and value not in ("", None)}
        return None

    def on_test(self, metrics: dict, step: int) -> None:
        self.tensorboard.scalars("test", metrics, step)
        if self.mlflow:
            self.mlflow.on_test(metrics, step)
        if self.insight:
            self.insight.on_test_end(step)
        if self.decoded:
            self.decoded.on_test_end(step)
        if self.audio:
            self.audio.on_test_end(step)

    def rewind(self, epochs_done: int, step: int, run_dir: Path) -> None:
        """A resumed run restarts at its checkpoint: drop history rows and events past it."""
        # bmrun.tensorboard.scalars loads TensorFlow: only when this runs, never at --help or config composition
        from bmrun.tensorboard.scalars import truncate_events

        self.history.truncate(epochs_done)
        if self.writes:
            truncate_events(Path(run_dir) / TENSORBOARD, step)

    def flush(self) -> None:
        self.tensorboard.flush()

    def close(self) -> None:
        self.tensorboard.close()
        if self.mlflow:
            self.mlflow.close()

    def finish(self) -> None:
        """After the run's last files (metrics.json, the model) are written."""
        if self.mlflow:
            self.mlflow.finish()


def _number(value):
    """A history.csv cell as a number (ints stay ints)."""
    if not isinstance(value, str):
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
