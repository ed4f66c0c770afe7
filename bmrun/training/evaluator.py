"""The one evaluation of a model: validation each epoch, the final test, ``bmrun-eval``.

:class:`Evaluator` computes, for a split, the task's summed metrics in one compiled pass (in-graph
over the resident split, or through tf.data for streamed files and several devices), the metrics
that need each example's output (ROC-AUC/PR-AUC, the fairness gaps of ``data.sensitive``) from
the *same* outputs — test-time augmentation included — and, for the final test, the per-class
table, the recommenders' ranking metrics and the accuracy under FGSM. Training and ``bmrun-eval``
both call it, so a finished run's ``bmrun-eval`` gives back its ``metrics.json`` test block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from bmrun.data.pipeline import as_model_input
from bmrun.specs import INTERACTIONS
from bmrun.training import adversarial as attacks
from bmrun.training.steps import add_sums, fold_range, sum_over_replicas
from bmrun.outputs_ranking import ranking_metrics


@dataclass
class Evaluation:
    """One split's evaluation: reported metrics, the raw sums and the fairness reports."""

    metrics: dict
    sums: dict = field(default_factory=dict)
    fairness: dict = field(default_factory=dict)


class Evaluator:
    """Evaluates one model on the splits of one prepared dataset.

    Args:
        model: The model evaluated (the classifier, or a pretrain run's pretext model).
        loss_fn: Per-example loss ``loss_fn(y, outputs)``.
        task: The task kind (:class:`bmrun.tasks.base.Task`).
        data: The prepared data (splits, group columns, input kind).
        pipeline: Its :class:`~bmrun.data.pipeline.DataPipeline` (eval tensors and datasets).
        strategy: The distribution strategy the model lives under.
        method: The learning method; one that trains no classifier scores its pretext loss.
        tta_flip: Average each image's outputs with its mirror image's (``augment.tta=flip``).
        resident: Evaluate in one compiled call over the resident split (single device).
        distribute: Splits a tf.data dataset across replicas (identity on one device).
        adv_eval_epsilon: > 0: the final test adds the accuracy under FGSM at this epsilon.
        ranking_k: Recommenders: the final test adds recall/NDCG at this k.
        beam_size: Kinds that generate text: 1 decodes greedily, more keeps that many beams.
    """

    def __init__(self, model, loss_fn: Callable, task, data, pipeline, strategy, *, method=None,
                 tta_flip: bool = False, resident: bool = True, distribute: Callable = lambda d: d,
                 adv_eval_epsilon: float = 0.0, ranking_k: Optional[int] = None,
                 beam_size: int = 1):
        self.model, self.loss_fn, self.task, self.data, self.pipeline = model, loss_fn, task, data, pipeline
        self.strategy, self.method, self.tta_flip = strategy, method, tta_flip
        self.resident = resident and not pipeline.streaming
        self.distribute = distribute
        self.adv_eval_epsilon, self.ranking_k = float(adv_eval_epsilon), ranking_k
        self.beam_size = int(beam_size)
        self.classifier = method is None or method.trains_classifier
        self.trace_count = 0
        self.batch_size = pipeline.eval_batch_size
        self._datasets: dict = {}
        self._sums_of_dataset = tf.function(self._dataset_sums)
        self._sums_of_tensors = None
        self._outputs_of_tensors = None
        self._outputs_of_batch = None

    # ------------------------------------------------------------------ what users of it call
    def evaluate(self, split: str) -> Evaluation:
        """The metrics of the current weights on ``split`` (``val`` or ``test``)."""
        sums = {k: v.numpy() for k, v in self._sums(split).items()}
        if not self.classifier:  # a pretext task: its loss only
            return Evaluation({"loss": float(sums["loss_sum"]) / max(float(sums["count"]), 1.0)}, sums)
        metrics = self.task.metrics(sums)
        part = getattr(self.data, split)
        groups = part.groups or {}
        reports: dict = {}
        if self.task.needs_example_outputs(groups):
            scalars, reports = self.task.example_metrics(part.y, self.outputs(split), groups)
            metrics.update(scalars)
        return Evaluation(metrics, sums, reports)

    def test(self) -> Evaluation:
        """The final test: :meth:`evaluate` plus ranking, robust accuracy and the per-class table."""
        result = self.evaluate("test")
        if not self.classifier:
            return result
        result.metrics.update(self.task.test_metrics(result.sums))
        if self.data.inputs.kind == INTERACTIONS and self.ranking_k:
            result.metrics.update(ranking_metrics(self.model, self.data, k=self.ranking_k))
        # Kinds that generate (text) score what they write; the others add nothing.
        result.metrics.update(self.task.decoded_metrics(self.model, self.data.test, self.data.columns,
                                                        batch_size=self.batch_size, beam_size=self.beam_size))
        if self.adv_eval_epsilon:  # robust accuracy: the same test set, each image pushed by FGSM
            sums = self._fgsm(self.dataset("test"), tf.constant(self.adv_eval_epsilon, tf.float32))
            result.metrics.update(adv_accuracy=float(sums["correct"] / max(float(sums["count"]), 1.0)),
                                  adv_epsilon=self.adv_eval_epsilon)
        return result

    def per_class(self, evaluation: Evaluation) -> Optional[dict]:
        """The per-class table of an evaluation (None for kinds without classes)."""
        return self.task.per_class(evaluation.sums) if self.classifier else None

    def outputs(self, split: str, limit: Optional[int] = None) -> np.ndarray:
        """The outputs (float32, test-time augmentation included) on every example of ``split``, in
        order, or on its first ``limit`` (the pictures): always compiled, in evaluation batches. An
        eager call of a U-Net on four 256x256 images touches ~4x the memory of the compiled one,
        which the evaluations after it cannot reuse (BENCHMARKS.md, segmentation)."""
        if self.resident:
            x, _ = self.pipeline.eval_tensors(split)
            if limit is not None:
                x = tf.nest.map_structure(lambda t: t[:limit], x)
            if self._outputs_of_tensors is None:
                spec = [tf.nest.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), x)]
                self._outputs_of_tensors = tf.function(self._tensor_outputs, input_signature=spec, autograph=False)
            return self._outputs_of_tensors(x).numpy()
        if self._outputs_of_batch is None:
            self._outputs_of_batch = tf.function(self._outputs, reduce_retracing=True, autograph=False)
        return np.concatenate([self._outputs_of_batch(x).numpy()
                               for x, _ in self.pipeline.eval_dataset(split, limit=limit)])

    def dataset(self, split: str):
        """The split as a (distributed) tf.data dataset, made once."""
        if split not in self._datasets:
            self._datasets[split] = self.distribute(self.pipeline.eval_dataset(split))
        return self._datasets[split]

    # ------------------------------------------------------------------ compiled parts
    def _outputs(self, x):
        outputs = tf.cast(self.model(x, training=False), tf.float32)
        if self.tta_flip:  # logits (or values) of the image and of its mirror, averaged
            outputs = (outputs + tf.cast(self.model(tf.reverse(x, axis=[2]), training=False), tf.float32)) / 2
        return outputs

    def _zero_sums(self) -> dict:
        if not self.classifier:
            zero = tf.constant(0.0, tf.float64)
            return {"loss_sum": zero, "count": zero}
        return self.task.zero_sums()

    def _batch_sums(self, x, y) -> dict:
        if not self.classifier:  # the pretext loss of fixed views
            per_example = self.method.eval_per_example(self.model, x)
            return {"loss_sum": tf.reduce_sum(tf.cast(per_example, tf.float64)),
                    "count": tf.cast(tf.shape(per_example)[0], tf.float64)}
        outputs = self._outputs(x)
        return self.task.eval_sums(y, outputs, self.loss_fn(y, outputs))

    def _sums(self, split: str) -> dict:
        if not self.resident:
            return self._sums_of_dataset(self.dataset(split))
        x, y = self.pipeline.eval_tensors(split)
        if self._sums_of_tensors is None:  # traced once for val and test alike
            spec = [tf.nest.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), x),
                    tf.TensorSpec([None, *y.shape[1:]], y.dtype)]
            self._sums_of_tensors = tf.function(self._tensor_sums, input_signature=spec, autograph=False)
        return self._sums_of_tensors(x, y)

    def _dataset_sums(self, dataset) -> dict:
        self.trace_count += 1  # Python side effect: once per trace
        sums = self._zero_sums()
        for x, y in dataset:
            sums = add_sums(sums, sum_over_replicas(self.strategy, self.strategy.run(self._batch_sums, args=(x, y))))
        return sums

    def _tensor_sums(self, x, y) -> dict:
        """Skips tf.data: building and tracing an eval pipeline costs more than the evaluation
        itself on small splits, and this path traces once for val and test alike."""
        self.trace_count += 1
        batch = self.batch_size
        num_batches = (tf.shape(y)[0] + batch - 1) // batch

        def one_batch(i, sums):
            x_batch = tf.nest.map_structure(lambda t: t[i * batch:(i + 1) * batch], x)  # a dict for table inputs
            return add_sums(sums, self._batch_sums(as_model_input(x_batch), y[i * batch:(i + 1) * batch]))

        return fold_range(num_batches, one_batch, self._zero_sums())

    def _tensor_outputs(self, x) -> tf.Tensor:
        batch = self.batch_size
        num_batches = (tf.shape(tf.nest.flatten(x)[0])[0] + batch - 1) // batch

        def one_batch(i, outputs):
            x_batch = tf.nest.map_structure(lambda t: t[i * batch:(i + 1) * batch], x)
            return outputs.write(i, self._outputs(as_model_input(x_batch)))

        return fold_range(num_batches, one_batch, tf.TensorArray(tf.float32, size=num_batches,
                                                                 infer_shape=False)).concat()

    @tf.function
    def _fgsm(self, dataset, epsilon) -> dict:
        """``{correct, count}`` of predictions on FGSM examples at ``epsilon`` (robust accuracy)."""
        def step(x, y):
            outputs = self.model(attacks.fgsm(self.model, self.loss_fn, x, y, epsilon), training=False)
            return {"correct": self.task.correct(y, outputs), "count": tf.cast(tf.shape(outputs)[0], tf.float32)}

        sums = {"correct": tf.constant(0.0), "count": tf.constant(0.0)}
        for x, y in dataset:
            sums = add_sums(sums, sum_over_replicas(self.strategy, self.strategy.run(step, args=(x, y))))
        return sums
