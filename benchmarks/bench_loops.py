"""Training throughput of bmrun's compiled loop against Keras ``model.fit`` and the classic loop.

Same model (built by bmrun's registry), same data (real Fashion-MNIST), same batch size, one
process. Each way trains for a fixed number of optimizer steps; after one untimed warm-up pass
per way (tracing, graph optimisation) the ways alternate for ``--repeats`` rounds, so a noisy
neighbour hurts all of them alike. Reported: median samples/s per way and ratios.

    python benchmarks/bench_loops.py                       # all models
    python benchmarks/bench_loops.py --models cnn --repeats 5 --json out.json

Ways:
    bmrun           bmrun's defaults on one device: batches gathered in-graph from the resident
                    arrays (data.feed=auto), steps fused per call (trainer.steps_per_call auto)
    bmrun-tfdata    the same loop fed by tf.data (data.feed=tf_data, what multi-device runs use)
    bmrun-1step     resident feed, one step per call (what fusion buys)
    bmrun-bf16      bmrun with device.precision=mixed_bfloat16 (not in the ratios: other numerics)
    fit             model.fit on NumPy arrays, defaults (what most users write)
    fit-spe32       model.fit on a tf.data pipeline, steps_per_execution=32 (fit's best setting)
    plain-loop      per-batch @tf.function step over from_tensor_slices().shuffle().batch()
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bmrun.runtime.tfimport import import_tensorflow  # noqa: E402

tf = import_tensorflow()
import keras  # noqa: E402

from bmrun.config import compose as bmrun_compose, validate  # noqa: E402
from bmrun.data import load_prepared  # noqa: E402
from bmrun.data.pipeline import DataPipeline  # noqa: E402
from bmrun.models import build_model  # noqa: E402
from bmrun.training.losses import make_loss  # noqa: E402
from bmrun.training.steps import CompiledSteps  # noqa: E402

BATCH = 128
STEPS = {"linear": 400, "cnn": 120, "rnn": 60, "transformer": 60}


def compose(model: str, extra=()):
    return validate(bmrun_compose([f"model={model}", "data=fashion_mnist", f"data.batch_size={BATCH}", *extra]))


def fresh_model(config, data, precision="float32"):
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = build_model(config.model, data)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return model, keras.optimizers.Adam(1e-3)


class Way:
    """One way of training: ``run(steps)`` trains that many steps and returns seconds."""

    def __init__(self, name, setup):
        self.name, self.setup = name, setup
        self.run = None
        self.rates = []


def bmrun_way(config, data, steps_per_call, precision="float32", resident=True):
    model, optimizer = fresh_model(config, data, precision)
    optimizer.build(model.trainable_variables)
    pipeline = DataPipeline(data, batch_size=BATCH, eval_batch_size=1024, shuffle=True, seed=0)
    loss = make_loss("cross_entropy", num_classes=10)
    loop = CompiledSteps(model, loss, optimizer, data.task, tf.distribute.get_strategy(), global_batch_size=BATCH,
                        batch_at=pipeline.batch_at)
    state = {"epoch": -1, "left": 0}

    def run(steps):  # bmrun's compiled calls as bmrun.training.epoch.EpochLoop makes them, minus logging
        start = time.perf_counter()
        done = 0
        while done < steps:
            if state["left"] == 0:
                state["epoch"] += 1
                state["left"] = pipeline.steps_per_epoch
                if resident:
                    state["order"] = pipeline.order_tensor(state["epoch"])
                else:
                    state["it"] = iter(pipeline.train_dataset(state["epoch"]))
            n = min(steps_per_call, steps - done, state["left"])
            if resident:
                first = pipeline.steps_per_epoch - state["left"]
                loop.train_steps_resident(state["order"], tf.constant(state["epoch"], tf.int64),
                                          tf.constant(first, tf.int32), tf.constant(n, tf.int32))["count"].numpy()
            else:
                loop.train_steps(state["it"], tf.constant(n, tf.int32))["count"].numpy()
            done += n
            state["left"] -= n
        return time.perf_counter() - start
    return run


def fit_way(config, data, steps_per_execution):
    model, optimizer = fresh_model(config, data)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)
    x, y = data.train.x.astype("float32"), data.train.y
    if steps_per_execution == 1:
        def run(steps):
            n = steps * BATCH
            start = time.perf_counter()
            model.fit(x[:n], y[:n], batch_size=BATCH, epochs=1, shuffle=True, verbose=0)
            return time.perf_counter() - start
        return run
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(10000).batch(BATCH).repeat().prefetch(2)

    def run(steps):
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        return time.perf_counter() - start
    return run


def plain_way(config, data):
    """The classic TensorFlow 2 tutorial loop: a @tf.function step called once per batch."""
    model, optimizer = fresh_model(config, data)
    loss_object = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_loss, train_accuracy = keras.metrics.Mean(), keras.metrics.SparseCategoricalAccuracy()
    x, y = data.train.x.astype("float32"), data.train.y
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(10000).batch(BATCH).repeat()
    iterator = iter(dataset)

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_accuracy(labels, predictions)

    def run(steps):
        start = time.perf_counter()
        for _ in range(steps):
            images, labels = next(iterator)
            train_step(images, labels)
        float(train_loss.result())  # wait for the last step
        return time.perf_counter() - start
    return run


def bench_model(name: str, repeats: int, extra=()) -> dict:
    config = compose(name, extra)
    data = load_prepared(config.data, 0)
    auto = config.trainer.steps_per_call or config.trainer.log_every_n_steps
    ways = {
        "bmrun": lambda: bmrun_way(config, data, auto),
        "bmrun-tfdata": lambda: bmrun_way(config, data, auto, resident=False),
        "bmrun-1step": lambda: bmrun_way(config, data, 1),
        "bmrun-bf16": lambda: bmrun_way(config, data, auto, "mixed_bfloat16"),
        "fit": lambda: fit_way(config, data, 1),
        "fit-spe32": lambda: fit_way(config, data, 32),
        "plain-loop": lambda: plain_way(config, data),
    }
    steps = STEPS.get(name, 100)
    runners = {way: build() for way, build in ways.items()}
    for runner in runners.values():
        runner(steps)  # warm-up: tracing and first-call optimisation are not timed
    rates = {way: [] for way in runners}
    for _ in range(repeats):
        for way, runner in runners.items():
            rates[way].append(steps * BATCH / runner(steps))
    median = {way: statistics.median(r) for way, r in rates.items()}
    return {"model": name, "steps": steps, "samples_per_s": median, "all": rates,
            "ratio_vs_fit": median["bmrun"] / median["fit"],
            "ratio_vs_fit_best": median["bmrun"] / max(median["fit"], median["fit-spe32"]),
            "ratio_vs_plain": median["bmrun"] / median["plain-loop"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["linear", "cnn", "rnn", "transformer"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = []
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {platform.processor() or platform.machine()}, "
          f"batch {BATCH}, Fashion-MNIST, float32")
    for name in args.models:
        result = bench_model(name, args.repeats)
        results.append(result)
        rates = "  ".join(f"{way} {rate / 1000:.1f}k" for way, rate in result["samples_per_s"].items())
        print(f"{name:<12} samples/s: {rates}  |  bmrun/fit {result['ratio_vs_fit']:.2f}x  "
              f"bmrun/best-fit {result['ratio_vs_fit_best']:.2f}x  bmrun/plain {result['ratio_vs_plain']:.2f}x",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
