"""A fused run's model of raw columns, image paths included: ``model/raw_model.keras``.

``model.keras`` takes each image column as decoded pixels (NaN for a row without an image),
which is what training feeds it. ``raw_model.keras`` wraps it with :class:`ImageFiles` layers
that read, decode and resize each image column's files inside the model (the decoder training
uses, :func:`bmrun.data.image_decode.cell_reader`), so the whole input is the table's raw
columns: image paths, texts, numbers and category strings, keyed like ``model.keras``'s inputs
(a plain column name is its own key). A path is opened as given, relative paths against the
caller's working directory; ``""`` or a file that does not exist is a row without an image (the
learned "absent" embedding, as in training); a file that exists but is no image fails, naming it.
After ``import bmrun.models.raw_model`` (which registers bmrun's layers) it reloads in safe mode:
``keras.saving.load_model("raw_model.keras", safe_mode=True)({"photo": ["a.png"], ...})``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from bmrun.data.image_decode import cell_reader
from bmrun.models import base, fusion, layers

del base, fusion, layers  # imported for their Keras registrations: the wrapped model's classes


@keras.saving.register_keras_serializable(package="bmrun")
class ImageFiles(keras.layers.Layer):
    """Image paths ``(batch,)`` -> float32 pixels ``(batch, *shape)``, NaN where a row has no image.

    Args:
        shape: ``[height, width, channels]`` every image is decoded (and resized) to.
    """

    def __init__(self, shape, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in shape)

    def call(self, paths):
        read = cell_reader(self.image_shape, missing_files=True)
        return tf.map_fn(read, tf.reshape(paths, [-1]), fn_output_signature=tf.TensorSpec(self.image_shape, tf.float32))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "shape": list(self.image_shape)}


def raw_model(model: keras.Model) -> keras.Model:
    """``model`` (a fused model with image columns) with its image inputs taken as paths."""
    images = {column["key"]: column for column in model.columns["modalities"]["images"]}
    inputs, given = {}, {}
    for key, tensor in model.input.items():
        if key in images:
            inputs[key] = keras.Input(shape=(), dtype="string", name=key)
            given[key] = ImageFiles(images[key]["shape"], name=f"read_{key}")(inputs[key])
        else:
            inputs[key] = given[key] = keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype, name=key)
    return keras.Model(inputs, model(given), name="raw_model")
