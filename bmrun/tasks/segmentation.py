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

    dense = True

    @staticmethod
    def build_head(features, num_outputs: int):
        """One float32 logit per class at every pixel.

        Args:
            features: A full-size feature map (a U-Net's), or ``{"maps": [finest, ...,
                coarsest], "size": (height, width)}`` from a backbone that pools
                (:func:`bmrun.models.backbones.spatial_features`): the coarsest map is upsampled
                to each finer one in turn, concatenated with it and convolved (the skips bring
                back the detail the pooling dropped), the 1x1 head gives logits at the finest
                scale and a bilinear resize brings them to the image's size.
            num_outputs: Classes.
        """
        if not isinstance(features, dict):
            return keras.layers.Conv2D(num_outputs, 1, dtype="float32", name="head")(features)
        *skips, x = features["maps"]
        for i, skip in enumerate(reversed(skips)):
            x = keras.layers.Resizing(int(skip.shape[1]), int(skip.shape[2]), name=f"head_up_{i}")(x)
            x = keras.layers.Concatenate(name=f"head_skip_{i}")([x, skip])
            x = keras.layers.Conv2D(int(skip.shape[-1]), 3, padding="same", activation="relu",
                                    name=f"head_conv_{i}")(x)
        x = keras.layers.Conv2D(num_outputs, 1, dtype="float32", name="head")(x)
        height, width = features["size"]
        if tuple(x.shape[1:3]) != (height, width):
            x = keras.layers.Resizing(height, width, dtype="float32", name="head_resize")(x)
        return x

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
