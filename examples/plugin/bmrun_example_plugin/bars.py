"""``data=bars``: synthetic images of a horizontal, a vertical or a diagonal bar (3 classes)."""

from __future__ import annotations

import numpy as np

CLASS_NAMES = ("horizontal", "vertical", "diagonal")


def load(seed: int, size: int = 12, num_train: int = 300, num_test: int = 90, noise: float = 30.0) -> dict:
    """Generate the bars; the test set comes from a fixed stream, the training set from ``seed``.

    Args:
        seed: The run's seed.
        size: Image side in pixels (``data.size``).
        num_train, num_test: Examples per split.
        noise: Standard deviation of the pixel noise, on the 0..255 scale.

    Returns:
        ``x_train``/``x_test`` as uint8 images of shape (n, size, size, 1), integer labels and the
        class names. The task (multiclass) and input kind (image) are left for bmrun to infer.
    """
    x_train, y_train = _bars(num_train, size, noise, np.random.default_rng(seed))
    x_test, y_test = _bars(num_test, size, noise, np.random.default_rng(10_000))
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "class_names": list(CLASS_NAMES)}


def _bars(n: int, size: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 3, n)
    images = rng.normal(40.0, noise, (n, size, size))
    where = rng.integers(1, size - 1, n)
    rows = np.arange(size)
    for i, (label, k) in enumerate(zip(labels, where)):
        if label == 0:
            images[i, k, :] += 180
        elif label == 1:
            images[i, :, k] += 180
        else:
            images[i, rows, (rows + k) % size] += 180
    return np.clip(images, 0, 255).astype(np.uint8)[..., None], labels.astype(np.int64)
