"""``model=tinyres``: stem convolution, residual blocks, global average pooling, linear head."""

from __future__ import annotations


def build(inputs, task, width: int = 16, blocks: int = 1, scale: float = 1.0 / 255.0):
    """A small residual CNN for image inputs.

    Args:
        inputs: bmrun's input spec (``kind``, ``shape``, ``vocab_size``).
        task: bmrun's task spec (``kind``, ``num_classes``, ``num_outputs``).
        width: Filters of every convolution (``model.width``).
        blocks: Residual blocks (``model.blocks``).
        scale: Multiplies the raw pixels (``model.scale``); the model takes raw examples.

    Returns:
        A Keras model from raw images to ``task.num_outputs`` logits (or values).
    """
    import keras  # here, not at the top: bmrun composes configs without importing Keras

    if inputs.kind != "image":
        raise ValueError(f"tinyres reads images, not {inputs.kind} inputs")
    x_in = keras.Input(shape=tuple(inputs.shape), name="inputs")
    x = keras.layers.Rescaling(scale, name="scale")(x_in)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="stem")(x)
    for i in range(blocks):
        y = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"res{i}_conv1")(x)
        y = keras.layers.Conv2D(width, 3, padding="same", name=f"res{i}_conv2")(y)
        x = keras.layers.Activation("relu", name=f"res{i}_out")(keras.layers.Add(name=f"res{i}_add")([x, y]))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(task.num_outputs, name="head")(x)
    return keras.Model(x_in, outputs, name="tinyres")


build.accepts = {"image"}  # optional: lets bmrun refuse other data before loading anything
