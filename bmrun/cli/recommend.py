"""``bmrun-predict`` for recommender runs (``model=factorization``, ``model=two_tower``).

* ``bmrun-predict <run dir> --user <id> [--top 10]``: the user's top items among those they
  did not rate in training, with predicted ratings. The items they rated come from the run's
  own data (its ``config.yaml``: the same file and seed, so the same split). An id the model
  never saw is refused with a clear message; ``--cold-start`` prints its cold-start answer
  instead: items ranked by the bias-only prediction (global mean + item bias).
* ``bmrun-predict <run dir> pairs.csv``: a predicted rating for each (user, item) row of a CSV
  whose header names the run's ``data.user`` and ``data.item`` columns (or ``user``/``item``);
  rows with an unseen id are marked ``cold`` and get the bias-only prediction.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from bmrun import console, registry
from bmrun.errors import DataError
from bmrun.run_dir import CONFIG, require_finished_run
from bmrun.data import load_prepared


def is_recommender_run(run_dir: str) -> bool:
    """Whether ``run_dir``'s config names a recommender family (reads config.yaml only)."""
    # OmegaConf: only when a run's config is read, not for --help
    from omegaconf import OmegaConf

    # bmrun.models.interactions brings omegaconf: only when this runs, keeps --help light
    from bmrun.models.interactions import InteractionFamily

    path = Path(run_dir).expanduser() / CONFIG
    if not path.is_file():
        return False
    name = OmegaConf.load(path).get("model", {}).get("name")
    try:
        return isinstance(registry.model(str(name)), InteractionFamily)
    except Exception:  # noqa: BLE001 - unknown or broken: let the usual path explain the run dir
        return False


def recommend(run_dir: str, user: str, top: int, cold_start: bool) -> list[dict[str, Any]]:
    """The ``top`` best items ``user`` has not rated in training, best first.

    Raises:
        DataError: ``user`` is not in the training data and ``cold_start`` is off.
    """
    # TensorFlow side (bmrun.outputs_ranking): kept out of --help and config composition
    from bmrun.cli.eval import open_run
    from bmrun.outputs_ranking import PairScorer, seen_items, top_k

    run = open_run(run_dir, "bmrun-predict")
    model = run.model
    known = user in set(model.user_ids)
    if not known and not cold_start:
        sample = ", ".join(repr(u) for u in model.user_ids[:5])
        raise DataError(f"user {user!r} is not in the training data of {run_dir} ({len(model.user_ids)} users, e.g. "
                        f"{sample}). An unseen user gets the cold-start answer -- items ranked by global mean + "
                        f"item bias; add --cold-start to print it.")
    items = np.asarray(model.item_ids, dtype=str)
    excluded: list[int] = []
    if known:
        seen = seen_items(_training_pairs(run.cfg)).get(user, set())
        excluded = [i for i, item in enumerate(items) if item in seen]
    scores = PairScorer(model).user_item_scores([user], items)[0]
    best = top_k(scores, top, excluded)
    note = "" if known else "cold start"
    return [{"rank": rank + 1, "user": user, "item": str(items[i]), "score": float(scores[i]),
             **({"note": note} if note else {})} for rank, i in enumerate(best)]


def _training_pairs(cfg) -> np.ndarray:
    """The run's training and validation pairs, rebuilt from its config (same data, same seed)."""
    # bmrun.config brings omegaconf: only when this runs, keeps --help light
    from bmrun.config import validate

    config = validate(cfg)
    data = load_prepared(config.data, config.seed)
    return np.concatenate([data.train.x, data.val.x])


def score_pairs(run_dir: str, path: str) -> list[dict[str, Any]]:
    """Predicted ratings of the (user, item) rows of the CSV at ``path``."""
    # TensorFlow side (bmrun.outputs_ranking): kept out of --help and config composition
    from bmrun.cli.eval import open_run
    from bmrun.outputs_ranking import PairScorer

    run = open_run(run_dir, "bmrun-predict")
    user_col, item_col = str(run.cfg.data.get("user", "user_id")), str(run.cfg.data.get("item", "item_id"))
    pairs = read_pairs(Path(path).expanduser(), user_col, item_col)
    scores = PairScorer(run.model)(pairs)
    users, items = set(run.model.user_ids), set(run.model.item_ids)
    records = []
    for (user, item), score in zip(pairs, scores):
        cold = [side for side, ok in (("user", user in users), ("item", item in items)) if not ok]
        records.append({"user": str(user), "item": str(item), "score": float(score),
                        **({"note": "cold " + " and ".join(cold)} if cold else {})})
    return records


def read_pairs(path: Path, user_col: str, item_col: str) -> np.ndarray:
    """``[n, 2]`` string ids from a CSV with a header naming the user and item columns."""
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: the file is empty; give a CSV with a {user_col},{item_col} header and rows.")
    try:
        delimiter = csv.Sniffer().sniff(lines[0], delimiters=",\t;").delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [name.strip() for name in rows[0]]
    names = next(((u, i) for u, i in ((user_col, item_col), ("user", "item")) if u in header and i in header), None)
    if names is None:
        raise DataError(f"{path}: no {user_col!r} and {item_col!r} columns (nor 'user' and 'item'); its columns "
                        f"are {', '.join(map(repr, header))}.")
    u, i = header.index(names[0]), header.index(names[1])
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: has a header but no (user, item) rows.")
    bad = next((n for n, row in enumerate(body, start=2) if len(row) <= max(u, i)), None)
    if bad is not None:
        raise DataError(f"{path}: line {bad} has too few fields.")
    return np.array([[row[u].strip(), row[i].strip()] for row in body], dtype=str)


def print_records(records: Sequence[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        for record in records:
            print(json.dumps(record))
        return
    # rich's tables: only when printing results, not for --help
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    columns = [c for c in ("rank", "user", "item", "score", "note") if any(c in r for r in records)]
    for column in columns:
        table.add_column(column, justify="right" if column in ("rank", "score") else "left")
    for record in records:
        table.add_row(*[console.fmt(record.get(column, "")) for column in columns])
    console.out.print(table)


def main(args, parser) -> None:
    """``bmrun-predict`` on a recommender run (``args`` as parsed by :func:`bmrun.cli.predict.main`)."""

    require_finished_run(args.run_dir, "bmrun-predict")
    if args.top < 1:
        parser.error("--top must be >= 1")
    if args.user is not None:
        if args.inputs:
            parser.error("give either --user or a CSV of (user, item) pairs, not both")
        print_records(recommend(args.run_dir, args.user, args.top, args.cold_start), args.json,
                      f"top {args.top} for user {args.user}")
        return
    if len(args.inputs) != 1:
        parser.error("a recommender run takes --user <id>, or one CSV of (user, item) pairs")
    print_records(score_pairs(args.run_dir, args.inputs[0]), args.json, "predicted ratings")


def is_recommender_args(args) -> Optional[bool]:
    """Route ``bmrun-predict``: a recommender run, or ``--user`` given."""
    return args.user is not None or is_recommender_run(args.run_dir)
