"""The adding problem (Hochreiter & Schmidhuber 1997): a synthetic long-memory regression task.

Each example is a (seq_len, 2) sequence. Channel 0 holds values drawn uniformly from [0, 1);
channel 1 marks exactly two steps with 1, one in each half of the sequence. The target is the sum
of the two marked values. Predicting the mean (1.0) scores an MSE of Var(U1 + U2) = 1/6 ~ 0.167,
so anything well below that shows the model learned to remember the marked values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bmrun.rules import at_least
from bmrun.data.arrays import RawData
from bmrun.data.catalog import REGRESSION, SEQUENCE, InputSpec, TaskSpec
from bmrun.data.dataset import Dataset, DataConfig

# The test set comes from its own fixed stream, like the fixed test split of the bundled
# datasets: it stays the same across seeds and across data.num_train / data.limit, so test
# figures of different runs are comparable. Distinct spawn keys keep the train stream
# independent of it even for seed == TEST_ENTROPY.
TEST_ENTROPY = 1997
_TRAIN_KEY, _TEST_KEY = (0,), (1,)


@dataclass
class AddingConfig(DataConfig):
    """``data=adding``.

    Attributes:
        seq_len: Steps per sequence.
        num_train: Training sequences generated from the seed.
        num_test: Test sequences, from a fixed stream.
    """

    batch_size: int = 64
    seq_len: int = 50
    num_train: int = 20000
    num_test: int = 2000

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("seq_len", self.seq_len, 2)
        at_least("num_train", self.num_train, 2)
        at_least("num_test", self.num_test, 1)


def load(cfg, seed: int) -> RawData:
    """Generate ``num_train`` training sequences from ``seed`` and ``num_test`` fixed test ones.

    Args:
        cfg: The ``data`` config (:class:`AddingConfig`).
        seed: Run seed; fixes the training sequences (the test set does not depend on it).

    Returns:
        float32 inputs of shape (n, seq_len, 2) and float32 targets of shape (n,).
    """
    train_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=_TRAIN_KEY))
    test_rng = np.random.default_rng(np.random.SeedSequence(TEST_ENTROPY, spawn_key=_TEST_KEY))
    x_train, y_train = generate(cfg.num_train, cfg.seq_len, train_rng)
    x_test, y_test = generate(cfg.num_test, cfg.seq_len, test_rng)
    return RawData(x_train, y_train, x_test, y_test)


def generate(n: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` adding-problem examples of ``seq_len`` steps.

    Args:
        n: Number of examples.
        seq_len: Steps per sequence (>= 2: one marker per half).
        rng: Source of randomness.

    Returns:
        ``x`` of shape (n, seq_len, 2), float32, and targets ``y`` of shape (n,), float32.
    """
    if seq_len < 2:
        raise ValueError(f"seq_len must be >= 2, got {seq_len}")
    half = seq_len // 2
    values = rng.random((n, seq_len), dtype=np.float32)
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, seq_len, size=n)
    markers = np.zeros((n, seq_len), dtype=np.float32)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values[rows, first] + values[rows, second]).astype(np.float32)
    return np.stack([values, markers], axis=-1), targets


DATASET = Dataset(name="adding", config=AddingConfig, task=TaskSpec(REGRESSION),
                  inputs=lambda cfg: InputSpec(SEQUENCE, (int(cfg.seq_len), 2)),
                  summary="adding problem (Hochreiter 1997)", loader=load)
