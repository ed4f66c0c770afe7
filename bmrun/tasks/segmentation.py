"""Segmentation: a class for every pixel (softmax over ``num_classes`` logits per pixel).

Labels are ``[height, width]`` masks of class indices (0 = background). Every reported metric
comes from one per-class confusion matrix of pixels summed in-graph over the split, so validation,
the final test and ``bmrun-eval`` agree exactly (:mod:`bmrun.confusion` turns it into IoU, Dice).
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

from bmrun.confusion import segmentation_metrics, segmentation_per_class
from bmrun.specs import SEGMENTATION
from bmrun.tasks.base import ConfusionTask
import keras


class Segmentation(ConfusionTask):
    """Pixel accuracy, per-class and mean IoU, the foreground's Dice."""

    kind = SEGMENTATION
    # The best epoch (trainer.test_with=best) is the one with the best overlap, not the lowest loss.
    default_monitor = "val/mean_iou"
    # The training accuracy is each image's share of correct pixels (see correct()).
    accuracy_key = "pixel_accuracy"

    @staticmethod
    def build_head(features, num_outputs: int):
        """A 1x1 convolution: one float32 logit per class at every pixel of the features."""

        return keras.layers.Conv2D(num_outputs, 1, dtype="float32", name="head")(features)

    def predicted(self, outputs) -> tf.Tensor:
        return tf.argmax(outputs, -1, output_type=tf.int32)

    def correct(self, y, outputs) -> tf.Tensor:
        """Each image's share of correct pixels, summed: the training accuracy is pixel accuracy."""
        hits = tf.cast(tf.equal(self.predicted(outputs), tf.cast(y, tf.int32)), tf.float32)
        return tf.reduce_sum(tf.reduce_mean(hits, axis=[1, 2]))

    def metrics(self, sums) -> dict[str, float]:
        return {**super().metrics(sums), **segmentation_metrics(sums["confusion"])}

    def per_class(self, sums) -> Optional[dict]:
        return segmentation_per_class(sums["confusion"], self.spec.class_names)
