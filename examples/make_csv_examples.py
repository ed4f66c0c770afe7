"""Write the CSV examples of the README and the presets (offline: scikit-learn's bundled data).

    python examples/make_csv_examples.py [out dir, default examples/data]

* ``tumours.csv`` -- scikit-learn's breast cancer set (569 tumours, malignant/benign) as a table
  with mixed column kinds and missing values: 10 numeric features kept as numbers, 5 binned into
  categories (``low``/``mid``/``high``), one categorical column of small integers (a 1..4 grade
  from another feature's quartile), 8% of feature values blanked at random (missing completely
  at random), and the target as the class names ``malignant``/``benign``.
* ``reviews.csv`` -- 3000 synthetic product reviews (``text``, ``sentiment``) with a known rule:
  a review is ``positive`` when it has more positive than negative opinion words. Filler words
  and product names carry no signal; 5% of the labels are flipped, so 0.95 is the ceiling.
* ``reviews_unlabelled.csv`` -- a few reviews without the sentiment column (for bmrun-predict).
* ``tumours_rows.csv`` -- ten rows of the table without the target, one value missing and one
  category never seen in training (for bmrun-predict).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

SEED = 7
NUMERIC = ["mean radius", "mean texture", "mean smoothness", "mean compactness", "mean symmetry",
           "radius error", "texture error", "worst radius", "worst texture", "worst smoothness"]
BINNED = ["mean concavity", "mean concave points", "worst area", "worst concavity", "worst symmetry"]
GRADED = "mean fractal dimension"
MISSING_SHARE = 0.08


def tumours(rng: np.random.Generator) -> tuple[list[str], list[list[str]]]:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    index = {name: i for i, name in enumerate(bunch.feature_names)}
    header = [n.replace(" ", "_") for n in NUMERIC + BINNED] + ["grade", "diagnosis"]
    columns = []
    for name in NUMERIC:
        columns.append([f"{v:.5g}" for v in bunch.data[:, index[name]]])
    for name in BINNED:
        values = bunch.data[:, index[name]]
        low, high = np.quantile(values, [1 / 3, 2 / 3])
        columns.append(["low" if v <= low else "high" if v > high else "mid" for v in values])
    values = bunch.data[:, index[GRADED]]
    columns.append([str(int(q) + 1) for q in np.searchsorted(np.quantile(values, [0.25, 0.5, 0.75]), values)])
    for column in columns:  # missing completely at random
        for i in np.flatnonzero(rng.random(len(column)) < MISSING_SHARE):
            column[i] = ""
    columns.append([str(bunch.target_names[t]) for t in bunch.target])
    return header, [list(row) for row in zip(*columns)]


POSITIVE = ["great", "excellent", "love", "perfect", "reliable", "sturdy", "fast", "comfortable", "beautiful",
            "recommend", "brilliant", "smooth"]
NEGATIVE = ["broken", "terrible", "awful", "slow", "flimsy", "disappointing", "useless", "noisy", "cheap",
            "refund", "poor", "leaking"]
FILLER = ["the", "this", "it", "was", "is", "and", "but", "really", "quite", "after", "a", "week", "of", "use",
          "my", "for", "with", "very", "i", "think", "delivery", "box", "price", "colour", "size"]
PRODUCTS = ["kettle", "lamp", "backpack", "blender", "headphones", "chair", "jacket", "printer", "toaster"]


def reviews(rng: np.random.Generator, n: int) -> list[list[str]]:
    rows = []
    for _ in range(n):
        n_pos, n_neg = rng.integers(0, 4, size=2)
        while n_pos == n_neg:
            n_pos, n_neg = rng.integers(0, 4, size=2)
        words = list(rng.choice(POSITIVE, n_pos)) + list(rng.choice(NEGATIVE, n_neg))
        words += list(rng.choice(FILLER, rng.integers(4, 12))) + [str(rng.choice(PRODUCTS))]
        rng.shuffle(words)
        text = " ".join(words).capitalize() + rng.choice([".", "!", "..."])
        label = "positive" if n_pos > n_neg else "negative"
        if rng.random() < 0.05:
            label = "negative" if label == "positive" else "positive"
        rows.append([text, label])
    return rows


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    print(f"wrote {path} ({len(rows)} rows)")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    header, rows = tumours(rng)
    write(out / "tumours.csv", header, rows)
    sample = [row[:-1] for row in rows[:10]]
    sample[0][0] = ""  # a missing number
    sample[1][len(NUMERIC)] = "enormous"  # a category never seen in training
    write(out / "tumours_rows.csv", header[:-1], sample)
    write(out / "reviews.csv", ["text", "sentiment"], reviews(rng, 3000))
    write(out / "reviews_unlabelled.csv", ["text"], [[row[0]] for row in reviews(rng, 5)])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data")
