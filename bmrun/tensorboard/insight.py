"""Pictures in TensorBoard's Images tab and weight/gradient histograms, switched by ``logger``.

:class:`InsightLogger` has two hooks. ``on_epoch_end`` is the ``extra_epoch_logs`` callback of
:class:`~bmrun.training.reporter.Reporter` (after each validation): the validation confusion matrix
(``logger.confusion_matrix``; a predicted-vs-true scatter for regression, the forecasts against
the truth for forecasting) and, every ``logger.histograms_every_n_epochs`` epochs, weight and
gradient histograms. ``on_test_end``
runs after the final test evaluation: the test confusion matrix or scatter, a grid of
misclassified test images (``logger.misclassified``) and saliency maps (``logger.saliency``).

The pictures come from the model's own predictions on at most :data:`MAX_EXAMPLES` examples of
the split, made eagerly outside the compiled loop; nothing here changes training state
(gradients are taken in inference mode, so dropout draws no random numbers and batch-norm
statistics stay put), which keeps resumed runs bit-exact.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from bmrun.data.arrays import take
from bmrun.data.catalog import IMAGE, REGRESSION, TABLE, TEXT, TOKENS
from bmrun.outputs import (classification_metrics, confusion_matrix_np, metrics_of_outputs, predicted_classes_np,
                           target_outputs)
from bmrun.specs import FORECAST, SEGMENTATION
from bmrun.tensorboard import pictures as draw

log = logging.getLogger("bmrun")

MAX_EXAMPLES = 4096  # enough to fill every cell of a confusion matrix, a fraction of a second to predict
MAX_MISCLASSIFIED = 32
MAX_SALIENCY = 10
SEGMENTATION_SHOWN = 4  # the first test images, the same every epoch: their masks show training progress


def build_insight(logger_cfg: Any, tensorboard, **kwargs) -> Optional["InsightLogger"]:
    """The hook a ``logger`` config asks for, or None when nothing is switched on.

    None too when TensorBoard is off, which includes every non-chief worker of a multi-worker
    run (their :class:`~bmrun.tensorboard.scalars.TensorBoardLogger` is disabled).
    """
    wanted = (logger_cfg.confusion_matrix or logger_cfg.misclassified or logger_cfg.saliency
              or logger_cfg.histograms_every_n_epochs)
    pipeline = kwargs.get("pipeline")
    wanted = wanted or (logger_cfg.segmentation and pipeline is not None and pipeline.data.task.kind == SEGMENTATION)
    if not (wanted and tensorboard.enabled):
        return None
    return InsightLogger(logger_cfg, tensorboard, **kwargs)


class InsightLogger:
    """Draws the pictures of one run into its TensorBoard writers.

    Args:
        logger_cfg: The validated ``logger`` config group.
        tensorboard: The run's TensorBoard logger (one writer per split).
        model: The model being trained (raw inputs in, logits or values out).
        pipeline: The run's data pipeline (its prepared arrays and eval datasets).
        loss_fn: Per-example loss ``loss_fn(y, outputs)``, for the gradient histograms.
        variables: The trained variables (a frozen backbone leaves some out).
        evaluator: The run's :class:`~bmrun.training.evaluator.Evaluator`: the segmentation
            picture's outputs come from its compiled path (None: an eager call of ``model``).
        max_examples: Cap on the examples predicted per picture.
    """

    def __init__(self, logger_cfg: Any, tensorboard, *, model, pipeline, loss_fn, variables, evaluator=None,
                 max_examples: int = MAX_EXAMPLES):
        self.cfg, self.tensorboard, self.model, self.pipeline = logger_cfg, tensorboard, model, pipeline
        self.evaluator = evaluator
        self.data = pipeline.data
        self.task = self.data.task
        self.loss_fn, self.variables = loss_fn, list(variables)
        self.max_examples = int(max_examples)
        self.is_image = self.data.inputs.kind == IMAGE
        classes = self.task.num_classes or 0
        self.class_names = tuple(self.task.class_names or (str(i) for i in range(classes)))
        self.seconds: dict[str, list[float]] = {"epoch": [], "test": []}  # what the pictures cost
        self._datasets: dict[str, tf.data.Dataset] = {}
        if (logger_cfg.misclassified or logger_cfg.saliency) and not self.is_image:
            log.info("logger.misclassified and logger.saliency draw images; this dataset has %s inputs, "
                     "so they are skipped", self.data.inputs.kind)

    # ------------------------------------------------------------------ hooks
    def on_epoch_end(self, epoch: int, step: int) -> None:
        """After validation of ``epoch`` (0-based): val prediction picture, histograms."""
        start = time.perf_counter()
        if self.cfg.confusion_matrix and len(self.data.val):
            _, y, outputs = self._predict("val")
            self._prediction_picture("val", y, outputs, step, f"val · epoch {epoch + 1}")
        if self.cfg.segmentation and self.task.kind == SEGMENTATION and len(self.data.test):
            self._segmentation(step, f"test · epoch {epoch + 1}")
        every = self.cfg.histograms_every_n_epochs
        if every and (epoch + 1) % every == 0:
            self._histograms(step)
        self._spent("epoch", start)

    def on_test_end(self, step: int) -> None:
        """After the final test evaluation: test prediction picture, misclassified, saliency."""
        start = time.perf_counter()
        want_images = self.is_image and (self.cfg.misclassified or self.cfg.saliency)
        if not (self.cfg.confusion_matrix or want_images) or not len(self.data.test):
            return
        x, y, outputs = self._predict("test")
        if self.cfg.confusion_matrix:
            self._prediction_picture("test", y, outputs, step, "test")
        if self.is_image and self.cfg.misclassified and self.task.kind != REGRESSION:
            self._misclassified(x, y, outputs, step)
        if self.is_image and self.cfg.saliency:
            self._saliency(x, y, outputs, step)
        self.tensorboard.flush()
        self._spent("test", start)

    # ------------------------------------------------------------------ pictures
    def _prediction_picture(self, split: str, y: np.ndarray, outputs: np.ndarray, step: int, title: str) -> None:
        if self.task.kind == "ctc":  # transcripts have no confusion matrix; their CER/WER are scalars
            return
        n = self._sample_note(split, len(y))
        if self.task.kind == FORECAST:
            self._forecast_picture(split, y, outputs, step, f"{title} · forecasts vs truth · {n}")
            return
        if self.task.kind == REGRESSION:
            r2 = metrics_of_outputs(y, outputs, REGRESSION, None)["r2"]
            picture = draw.scatter_image(y, outputs[:, 0], f"{title} · predicted vs true · r2 {r2:.3f} · {n}")
            self._image(split, "predicted_vs_true", picture, step)
            return
        matrix = confusion_matrix_np(y, predicted_classes_np(outputs, self.task.kind), self.task.num_classes)
        accuracy = classification_metrics(matrix)["accuracy"]
        matrix = matrix.astype(np.int64)
        picture = draw.confusion_matrix_image(matrix, self.class_names,
                                              f"{title} · confusion matrix · accuracy {accuracy:.3f} · {n}")
        self._image(split, "confusion_matrix", picture, step)

    def _forecast_picture(self, split: str, y: np.ndarray, outputs: np.ndarray, step: int, title: str) -> None:
        spec = self.task.forecast
        width = len(spec.targets) * spec.horizon  # the labels' first block is the truth (then the baselines)
        picture = draw.forecast_image(y[:, :width], outputs[:, :width], spec.targets, spec.horizon, title)
        self._image(split, "forecast_vs_truth", picture, step)

    def _misclassified(self, x: np.ndarray, y: np.ndarray, outputs: np.ndarray, step: int) -> None:
        pred = predicted_classes_np(outputs, self.task.kind)
        wrong = np.flatnonzero(pred != y)
        shown = wrong[:MAX_MISCLASSIFIED]
        title = f"test · misclassified: {len(shown)} of {len(wrong)} ({self._sample_note('test', len(y))})"
        if not len(shown):  # a blank tile still says "none", so an empty tag is not a mystery
            picture = draw.image_grid(np.zeros((1,) + x.shape[1:], np.float32), [[("none", draw.GREY)]], title)
        else:
            captions = [[(f"true {self.class_names[int(y[i])]}", draw.GREEN),
                         (f"pred {self.class_names[int(pred[i])]}", draw.RED)] for i in shown]
            picture = draw.image_grid(x[shown], captions, title)
        self._image("test", "misclassified", picture, step)

    def _saliency(self, x: np.ndarray, y: np.ndarray, outputs: np.ndarray, step: int) -> None:
        chosen = _one_per_class(y, MAX_SALIENCY) if self.task.kind != REGRESSION else np.arange(min(8, len(y)))
        inputs = tf.convert_to_tensor(x[chosen], tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            out = tf.cast(self.model(inputs, training=False), tf.float32)
            # |d logit of the predicted class / d input|; one logit (binary) or value (regression)
            # is used as it is: its sign does not change |gradient|
            total = tf.reduce_sum(target_outputs(out, self.task.kind))  # one backward pass serves all examples
        grads = tape.gradient(total, inputs).numpy()
        maps = np.abs(grads).max(axis=-1)
        pred = predicted_classes_np(outputs[chosen], self.task.kind) if self.task.kind != REGRESSION else None
        captions = [f"pred {self.class_names[int(p)]}" for p in pred] if pred is not None else \
            [f"pred {float(v):.3g}" for v in outputs[chosen, 0]]
        picture = draw.saliency_image(x[chosen], maps, captions, "test · saliency |d logit / d pixel|")
        self._image("test", "saliency", picture, step)

    def _histograms(self, step: int) -> None:
        """Weights and the gradient of one training batch, in the ``train`` writer."""
        batch = self.pipeline.batch_size
        x = self._model_input(take(self.data.train.x, slice(0, batch)))
        y = tf.convert_to_tensor(self.data.train.y[:batch])
        with tf.GradientTape() as tape:
            outputs = self.model(x, training=False)  # inference mode: no dropout RNG, no BN updates
            loss = tf.reduce_mean(tf.cast(self.loss_fn(y, outputs), tf.float32))
            if self.model.losses:
                loss += tf.add_n(self.model.losses)
        grads = tape.gradient(loss, self.variables)
        with self.tensorboard.writer("train").as_default(step=int(step)):
            for variable, grad in zip(self.variables, grads):
                name = _tag(variable)
                tf.summary.histogram(f"weights/{name}", np.asarray(variable.numpy(), np.float32))
                if grad is not None:
                    tf.summary.histogram(f"gradients/{name}", tf.convert_to_tensor(grad))

    def _segmentation(self, step: int, title: str) -> None:
        """Image | truth | prediction of the first test images, each with its foreground Dice."""
        n = min(SEGMENTATION_SHOWN, len(self.data.test))
        # np.asarray: streamed images are files, decoded here (only these n)
        x, truth = np.asarray(take(self.data.test.x, slice(0, n))), np.asarray(self.data.test.y[:n])
        if self.evaluator is not None and self.evaluator.model is self.model:  # compiled, in the evaluation's
            # shapes: it reuses their memory
            outputs = self.evaluator.outputs("test", limit=n)
        else:
            outputs = np.asarray(self.model(tf.convert_to_tensor(x, tf.float32), training=False), np.float32)
        predicted = outputs.argmax(axis=-1)
        foreground_t, foreground_p = truth > 0, predicted > 0
        overlap = (foreground_t & foreground_p & (truth == predicted)).sum(axis=(1, 2))
        dice = (2 * overlap + 1) / (foreground_t.sum(axis=(1, 2)) + foreground_p.sum(axis=(1, 2)) + 1)
        captions = [f"dice {d:.3f}" for d in dice]
        picture = draw.segmentation_image(x, truth, predicted, captions, f"{title} · first {n} images")
        self._image("test", "segmentation", picture, step)

    # ------------------------------------------------------------------ helpers
    def _predict(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw inputs, labels and model outputs of the first ``max_examples`` of ``split``."""
        part = getattr(self.data, split)
        n = min(len(part), self.max_examples)
        if split not in self._datasets:  # built once: its cache keeps the cast inputs across epochs
            self._datasets[split] = self.pipeline.eval_dataset(split, limit=n)
        outputs = [np.asarray(self.model(x, training=False), np.float32) for x, _ in self._datasets[split]]
        return take(part.x, slice(0, n)), np.asarray(part.y[:n]), np.concatenate(outputs, axis=0)

    def _model_input(self, x: np.ndarray) -> tf.Tensor:
        if self.data.inputs.kind in (TABLE, TEXT):  # raw columns: strings stay strings (per column)
            return tf.nest.map_structure(tf.convert_to_tensor, x)
        return tf.convert_to_tensor(x, tf.int32 if self.data.inputs.kind == TOKENS else tf.float32)

    def _sample_note(self, split: str, n: int) -> str:
        total = len(getattr(self.data, split))
        return f"n={n}" if n == total else f"first {n} of {total}"

    def _image(self, split: str, tag: str, picture: np.ndarray, step: int) -> None:
        with self.tensorboard.writer(split).as_default(step=int(step)):
            tf.summary.image(tag, picture[None], max_outputs=1)

    def _spent(self, hook: str, start: float) -> None:
        seconds = time.perf_counter() - start
        self.seconds[hook].append(seconds)
        log.debug("insight: %s pictures took %.3f s", hook, seconds)


def _one_per_class(y: np.ndarray, limit: int) -> np.ndarray:
    """The first example of each class (in class order); with few classes, topped up to 8."""
    chosen = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)][:limit]
    wanted = min(limit, 8, len(y))
    if len(chosen) < wanted:  # binary tasks: two pictures say little
        used = set(chosen)
        chosen += [i for i in range(len(y)) if i not in used][:wanted - len(chosen)]
    return np.array(chosen, np.int64)


def _tag(variable) -> str:
    return str(getattr(variable, "path", None) or variable.name).replace(":", "_")
