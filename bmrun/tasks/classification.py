"""Classification: multiclass (softmax over ``num_classes`` logits) and binary (one logit)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import tensorflow as tf

from bmrun.confusion import classification_metrics, per_class_metrics
from bmrun.outputs import example_metrics, predicted_classes
from bmrun.specs import BINARY, MULTICLASS
from bmrun.tasks.base import Task


class Multiclass(Task):
    """Accuracy, the confusion matrix and what derives from it; fairness gaps per example."""

    kind = MULTICLASS

    def correct(self, y, outputs) -> tf.Tensor:
        hits = tf.equal(predicted_classes(outputs, self.kind), tf.reshape(tf.cast(y, tf.int32), [-1]))
        return tf.reduce_sum(tf.cast(hits, tf.float32))

    def train_metrics(self, sums: Mapping[str, Any]) -> dict[str, float]:
        result = super().train_metrics(sums)
        result["accuracy"] = float(sums["correct"]) / max(float(sums["count"]), 1.0)
        return result

    def zero_sums(self) -> dict:
        k = self.spec.num_classes
        return {**super().zero_sums(), "confusion": tf.zeros([k, k], tf.float64)}

    def eval_sums(self, y, outputs, per_example_loss) -> dict:
        confusion = tf.math.confusion_matrix(tf.reshape(tf.cast(y, tf.int32), [-1]),
                                             predicted_classes(outputs, self.kind),
                                             num_classes=self.spec.num_classes, dtype=tf.float64)
        return {**super().eval_sums(y, outputs, per_example_loss), "confusion": confusion}

    def metrics(self, sums) -> dict[str, float]:
        return {**super().metrics(sums), **classification_metrics(sums["confusion"])}

    def per_class(self, sums) -> Optional[dict]:
        return per_class_metrics(sums["confusion"], self.spec.class_names)

    def captions(self, y, outputs) -> tuple[list[str], list[str]]:
        names = self.spec.class_names or tuple(str(i) for i in range(self.spec.num_classes))
        predicted = predicted_classes(outputs, self.kind).numpy()
        return [names[int(c)] for c in np.asarray(y).reshape(-1)], [names[int(c)] for c in predicted]

    def needs_example_outputs(self, groups) -> bool:
        return bool(groups)

    def example_metrics(self, y, outputs, groups) -> tuple[dict, dict]:
        return example_metrics(y, outputs, self.kind, self.spec.num_classes, groups)


class Binary(Multiclass):
    """One logit: as multiclass over two classes, plus ROC-AUC and PR-AUC from each example's score."""

    kind = BINARY

    def needs_example_outputs(self, groups) -> bool:
        return True
