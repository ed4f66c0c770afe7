"""The Keras tutorial recipe on Fashion-MNIST, timed from its own process start (one test per epoch).

    python benchmarks/keras_recipe.py --epochs 8 [--json curve.json]

The seed CNN (Conv2D 32 3x3 ReLU, MaxPool 2, Flatten, Dense 64 ReLU, Dense 10), pixels / 255,
Adam 1e-3, batch 128, ``model.fit`` with Keras' defaults: what the TensorFlow and Keras tutorials
teach. After each epoch a callback measures test accuracy; the time spent testing is taken off
the clock, so each point is the wall time (from the shell prompt) at which a run of that many
epochs would have ended. bench_tta.py runs this as its baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    from bmrun.runtime.clock import process_age_s

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the curve here")
    args = parser.parse_args()

    import keras

    from bmrun.data.fashion_mnist import SYSTEM_COPY
    from bmrun.data.mnist import find_idx_folder

    raw = find_idx_folder(SYSTEM_COPY)
    if raw is None:
        raise SystemExit(f"Fashion-MNIST not found in {SYSTEM_COPY} (apt-get install dataset-fashion-mnist)")
    x_train, x_test = raw.x_train.astype("float32") / 255.0, raw.x_test.astype("float32") / 255.0
    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    curve, off_clock = [], 0.0

    class TestEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            nonlocal off_clock
            ended = process_age_s() - off_clock
            started = time.perf_counter()
            _, accuracy = self.model.evaluate(x_test, raw.y_test, batch_size=1024, verbose=0)
            off_clock += time.perf_counter() - started
            curve.append({"epoch": epoch + 1, "seconds": round(ended, 2), "test_accuracy": round(float(accuracy), 4)})
            print(json.dumps(curve[-1]), flush=True)

    model.fit(x_train, raw.y_train, batch_size=128, epochs=args.epochs, verbose=0, callbacks=[TestEachEpoch()])
    if args.json:
        args.json.write_text(json.dumps(curve, indent=1))


if __name__ == "__main__":
    main()
