"""Classification: multiclass (softmax over ``num_classes`` logits) and binary (one logit)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

from bmrun.confusion import classification_metrics, per_class_metrics
from bmrun.outputs import example_metrics, predicted_classes
from bmrun.specs import BINARY, MULTICLASS
from bmrun.tasks.base import ConfusionTask


class Multiclass(ConfusionTask):
    """Accuracy, the confusion matrix and what derives from it; fairness gaps per example."""

    kind = MULTICLASS

    def predicted(self, outputs) -> tf.Tensor:
        return predicted_classes(outputs, self.kind)

    def correct(self, y, outputs) -> tf.Tensor:
        hits = tf.equal(self.predicted(outputs), tf.reshape(tf.cast(y, tf.int32), [-1]))
        return tf.reduce_sum(tf.cast(hits, tf.float32))

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
