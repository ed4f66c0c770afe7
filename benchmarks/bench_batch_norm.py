"""Train-step speed of bmrun's fused batch norm against Keras 3's BatchNormalization.

    python benchmarks/bench_batch_norm.py [--steps 30] [--no-write]

In one process, for the batch-norm CNNs of two presets (``fashion_few_labels``: [32, 64] +
Dense(128); ``fashion_best``: [32, 64, 128] + Dense(256); 'same' padding, 28x28x1 images,
batch 256), times a compiled train step (forward, backward, Adam) built four ways: Keras's layer
or :class:`bmrun.models.batch_norm.FusedBatchNormalization`, in float32 or mixed bfloat16.
Each configuration is warmed up, then timed over ``--steps`` steps; the rows are written to the
"Batch normalisation" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

NETWORKS = {"fashion_few_labels": ([32, 64], 128), "fashion_best": ([32, 64, 128], 256)}
BATCH = 256


def build(filters, dense, norm_layer):
    """The cnn family's body for 28x28x1 images, with ``norm_layer`` after each convolution."""
    import keras

    inputs = keras.Input((28, 28, 1))
    x = inputs
    for i, width in enumerate(filters):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = norm_layer(name=f"bn_{i}")(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Dense(dense, activation="relu")(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(10, dtype="float32")(x))


def images_per_second(filters, dense, norm_layer, policy: str, steps: int) -> float:
    import keras
    import tensorflow as tf

    keras.config.set_dtype_policy(policy)
    try:
        model = build(filters, dense, norm_layer)
    finally:
        keras.config.set_dtype_policy("float32")
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    images = tf.random.uniform([BATCH, 28, 28, 1])
    labels = tf.random.uniform([BATCH], maxval=10, dtype=tf.int32)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    float(loss)
    return steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()

    import keras

    from sections import machine, write_section
    from bmrun.models.batch_norm import FusedBatchNormalization

    lines = [f"`python benchmarks/bench_batch_norm.py` ({machine()}; train steps of {BATCH} 28x28 images, "
             f"forward + backward + Adam, images/s):", "",
             "| network | precision | Keras BatchNormalization | bmrun FusedBatchNormalization | speed-up |",
             "|---|---|---:|---:|---:|"]
    for network, (filters, dense) in NETWORKS.items():
        for policy in ("float32", "mixed_bfloat16"):
            plain = images_per_second(filters, dense, keras.layers.BatchNormalization, policy, args.steps)
            fused = images_per_second(filters, dense, FusedBatchNormalization, policy, args.steps)
            lines.append(f"| {network} {filters} + {dense} | {policy} | {plain:,.0f} | {fused:,.0f} | "
                         f"{fused / plain:.2f}x |")
            print(lines[-1], flush=True)
    if not args.no_write:
        write_section("batch_norm", "Batch normalisation", "\n".join(lines))


if __name__ == "__main__":
    main()
