"""Similarity matching (SimMatch, Zheng et al. 2022) on top of FixMatch: ``trainer.similarity_weight``.

FixMatch's targets come from the classifier's own confidence, so the classes it is unsure of
(Fashion-MNIST's shirts, coats, pullovers) rarely get any: the run settles with the easy classes
pseudo-labelled and the hard ones left out. SimMatch adds a second opinion from the labeled images
themselves. A projection head (:func:`with_projection`) maps the backbone's features to unit-length
embeddings; a :class:`LabelBank` keeps the embeddings of the most recent labeled images (about
one pass over the labeled set) with their labels. For each unlabeled image:

* its weak view's similarities to the bank (softmax at ``trainer.similarity_temperature``) are a
  distribution over labeled neighbours; summed per class, they are the neighbours' vote, mixed
  into the classifier's probabilities (``trainer.neighbour_weight`` of it) before the threshold;
* the same distribution, reweighted by the classifier's probability of each neighbour's class, is
  the target of the strong view's similarities (the *instance* loss, ``trainer.similarity_weight``):
  the strong view must land near the same labeled images as the weak one, which shapes the
  embedding even where the classifier is not yet confident.

Both wait until the bank holds real embeddings (its first pass over the labeled set).
"""

from __future__ import annotations

import tensorflow as tf


def with_projection(model, dims=(128,)):
    """A Keras model sharing ``model``'s layers, returning ``[logits, embedding]``.

    The embedding is a projection MLP (a hidden layer as wide as the backbone's features, ReLU,
    then ``dims[-1]`` units) after the backbone's features, L2-normalised. Only the semi-supervised
    steps see it; ``model/`` exports the classifier alone.
    """
    import keras

    from bmrun.pretrain.steps import backbone_output

    features = backbone_output(model)
    x = keras.layers.Dense(int(features.shape[-1]), activation="relu", dtype="float32", name="similarity_hidden")(
        features)
    for i, width in enumerate(dims):
        x = keras.layers.Dense(int(width), dtype="float32", name=f"similarity_projection_{i}")(x)
    embedding = keras.layers.UnitNormalization(dtype="float32", name="similarity_embedding")(x)
    return keras.Model(model.inputs, [model.outputs[0], embedding], name=f"{model.name}_similarity")


class LabelBank:
    """The embeddings of the last ``size`` labeled images and their labels (a ring buffer, checkpointed).

    Args:
        size: Embeddings held (one pass over the labeled set, rounded up to whole batches).
        dims: Embedding width.
        num_classes: Classes of the task.
    """

    def __init__(self, size: int, dims: int, num_classes: int):
        self.size, self.num_classes = int(size), int(num_classes)
        first = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.embeddings = tf.Variable(tf.zeros([self.size, int(dims)]), trainable=False, name="label_bank",
                                      aggregation=first)
        self.labels = tf.Variable(tf.zeros([self.size], tf.int32), trainable=False, name="label_bank_labels",
                                  aggregation=first)
        self.written = tf.Variable(0, dtype=tf.int64, trainable=False, name="label_bank_written", aggregation=first)

    def ready(self) -> tf.Tensor:
        """1.0 once every slot holds a real embedding, else 0.0."""
        return tf.cast(self.written >= self.size, tf.float32)

    def push(self, embeddings, labels) -> None:
        """Write a batch over the oldest entries."""
        count = tf.shape(labels)[0]
        slots = tf.math.floormod(tf.cast(self.written, tf.int32) + tf.range(count), self.size)[:, None]
        self.embeddings.assign(tf.tensor_scatter_nd_update(self.embeddings, slots, tf.cast(embeddings, tf.float32)))
        self.labels.assign(tf.tensor_scatter_nd_update(self.labels, slots, tf.cast(labels, tf.int32)))
        self.written.assign_add(tf.cast(count, tf.int64))

    def trackables(self) -> dict:
        return {"label_bank": self.embeddings, "label_bank_labels": self.labels,
                "label_bank_written": self.written}


def match(bank: LabelBank, probabilities, weak_embedding, strong_embedding, *, temperature: float,
          neighbour_weight: float):
    """SimMatch's targets and instance loss for one unlabeled batch.

    Args:
        bank: The labeled embeddings.
        probabilities: ``[U, C]`` the teacher's class probabilities on the weak views.
        weak_embedding: ``[U, d]`` unit embeddings of the weak views (no gradient).
        strong_embedding: ``[U, d]`` unit embeddings of the strong views (the student's).
        temperature: Divides the cosine similarities.
        neighbour_weight: Share of the pseudo-label's probabilities taken from the labeled neighbours.

    Returns:
        ``(probabilities, instance_loss)``: the mixed class probabilities ``[U, C]`` to threshold,
        and the per-image cross-entropy ``[U]`` between the weak and strong views' distributions
        over the bank (both unchanged / zero until the bank is full).
    """
    ready = bank.ready()
    memory = tf.stop_gradient(bank.embeddings)
    labels = tf.stop_gradient(bank.labels)
    neighbours = tf.nn.softmax(tf.matmul(tf.cast(weak_embedding, tf.float32), memory, transpose_b=True) / temperature)
    votes = tf.matmul(neighbours, tf.one_hot(labels, bank.num_classes))  # [U, C]: each class's share of neighbours
    mixed = (1.0 - neighbour_weight * ready) * probabilities + neighbour_weight * ready * votes
    # The instance target: neighbours whose class the classifier also believes in count more.
    target = neighbours * tf.gather(probabilities, labels, axis=1)
    target = tf.stop_gradient(target / tf.maximum(tf.reduce_sum(target, axis=-1, keepdims=True), 1e-12))
    student = tf.nn.log_softmax(tf.matmul(tf.cast(strong_embedding, tf.float32), memory, transpose_b=True)
                                / temperature)
    return tf.stop_gradient(mixed), -ready * tf.reduce_sum(target * student, axis=-1)
