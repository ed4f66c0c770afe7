"""Recommenders: data=ratings (files, splits, generator), model=factorization / two_tower, ranking
metrics, cold start and bmrun-predict's --user / pairs.csv."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import resume_in_process, run_cli, train_in_process, validated

SMALL = ["data=ratings", "data.synthetic_users=60", "data.synthetic_items=40", "data.synthetic_ratings=1500",
         "trainer.max_epochs=2"]


def _read(path: Path, **columns):
    from bmrun.data.ratings_file import read_interactions

    names = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": None, **columns}
    return read_interactions(path, **names)


def test_csv_with_named_columns_and_string_ids(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("when;who;what;stars\n5;alice;The Matrix;4.5\n7;bob;Alien;3\n")
    events = _read(path, user="who", item="what", rating="stars", timestamp="when")
    assert events.users.tolist() == ["alice", "bob"] and events.items.tolist() == ["The Matrix", "Alien"]
    assert events.ratings.tolist() == [4.5, 3.0] and events.timestamps.tolist() == [5.0, 7.0]


def test_movielens_formats_need_no_header(tmp_path):
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    (tmp_path / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    for name in ("u.data", "ratings.dat"):
        events = _read(tmp_path / name)
        assert len(events) == 2 and events.timestamps is not None and events.ratings.dtype == np.float32


def test_time_split_holds_out_each_users_latest_interactions():
    from bmrun.data.ratings import RatingsConfig, generate, split_test

    cfg = RatingsConfig(name="ratings", split="time", synthetic_users=30, synthetic_items=20, synthetic_ratings=300)
    events = generate(cfg)
    test = split_test(events, cfg, seed=0)
    for user in np.unique(events.users):
        mine = events.users == user
        if test[mine].any():
            assert events.timestamps[mine & test].min() >= events.timestamps[mine & ~test].max()
    random = split_test(events, RatingsConfig(name="ratings", synthetic_ratings=300), seed=0)
    assert random.sum() == 60


def test_ranking_metrics_exclude_seen_items():
    from bmrun.outputs_ranking import recall_ndcg, top_k

    scores = np.array([9.0, 8.0, 7.0, 1.0])
    assert top_k(scores, 2, exclude=[0]).tolist() == [1, 2]
    recall, ndcg = recall_ndcg([1, 2], {2, 3}, k=2)
    assert recall == 0.5 and ndcg == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))


@pytest.mark.parametrize("args, key", [(["model=cnn", "data=ratings"], "cannot read"),
                                       (["model=factorization", "data=digits"], "cannot read"),
                                       (["model=two_tower", "data=ratings", "device.xla=true"], "device.xla"),
                                       (["model=factorization", "data=ratings", "data.split=latest"], "data.split")])
def test_bad_pairings_are_config_errors(args, key):
    from bmrun.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        validated(args)
    assert key in str(info.value)


def test_defaults_reach_the_generators_noise_floor(tmp_path):
    """`bmrun data=ratings model=factorization`: the best possible test RMSE is the noise std."""
    metrics = train_in_process(tmp_path, ["data=ratings", "model=factorization"])
    noise = validated(["data=ratings", "model=factorization"]).data.synthetic_noise
    assert metrics["test"]["rmse"] <= 1.1 * noise, metrics["test"]
    assert metrics["test"]["recall_at_10"] > 0 and 0 < metrics["test"]["ndcg_at_10"] <= 1


def _tensorboard_tags(run_dir: Path) -> set:
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2

    tags = set()
    for path in Path(run_dir, "tensorboard").rglob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            tags |= {f"{path.parent.name}/{v.tag}" for v in event_pb2.Event.FromString(record).summary.value}
    return tags


@pytest.fixture(scope="module")
def two_tower_run(tmp_path_factory):
    """A tiny two-tower run on a CSV with string ids and a time split."""
    from bmrun.data.ratings import RatingsConfig, generate

    root = tmp_path_factory.mktemp("recsys")
    events = generate(RatingsConfig(name="ratings", synthetic_users=60, synthetic_items=40, synthetic_ratings=1500))
    lines = ["customer,product,stars,ts"] + [f"c-{u},p {i},{r:.2f},{t:.0f}" for u, i, r, t in
                                            zip(events.users, events.items, events.ratings, events.timestamps)]
    (root / "ratings.csv").write_text("\n".join(lines) + "\n")
    run_dir = root / "run"
    metrics = train_in_process(run_dir, [*SMALL, "model=two_tower", f"data.path={root / 'ratings.csv'}",
                                         "data.user=customer", "data.item=product", "data.rating=stars",
                                         "data.timestamp=ts", "data.split=time", "logger.saved_model=true"])
    return run_dir, metrics


def test_two_tower_on_a_csv_reports_every_metric(two_tower_run):
    run_dir, metrics = two_tower_run
    assert metrics["status"] == "completed"
    assert {"rmse", "mae", "recall_at_10", "ndcg_at_10"} <= set(metrics["test"])
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["test"]["ndcg_at_10"] == metrics["test"]["ndcg_at_10"]
    assert {"test/rmse", "test/recall_at_10", "test/ndcg_at_10"} <= _tensorboard_tags(run_dir)


def test_saved_model_takes_original_ids_and_unseen_ids_are_bias_only(two_tower_run):
    from bmrun.models.loading import load_run_model

    run_dir, _ = two_tower_run
    model = load_run_model(run_dir, "test")
    item = model.item_ids[0]
    pairs = np.array([["c-u1", item], ["stranger", item], ["other stranger", item], ["stranger", "no such item"]])
    scores = np.asarray(model(pairs, training=False)).reshape(-1)
    assert np.isfinite(scores).all()
    assert scores[1] == pytest.approx(scores[2])  # no user part: mean + item bias
    assert scores[3] == pytest.approx(np.clip(model.target_mean, *model.rating_range), abs=1e-5)  # global mean


def test_predict_user_top_and_pairs(two_tower_run, tmp_path):
    run_dir, _ = two_tower_run

    def predict(*args):
        return run_cli([str(run_dir), *args], tmp_path, module="bmrun.cli.predict")

    proc = predict("--user", "c-u3", "--top", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 10 and [r["rank"] for r in rows] == list(range(1, 11))
    seen = {line.split(",")[1] for line in (run_dir.parent / "ratings.csv").read_text().splitlines()[1:]
            if line.startswith("c-u3,")}
    assert len(seen) > 0
    unknown = predict("--user", "nobody")
    assert unknown.returncode != 0 and "nobody" in unknown.stderr and "--cold-start" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    cold = predict("--user", "nobody", "--cold-start", "--top", "3", "--json")
    assert cold.returncode == 0 and all(json.loads(r)["note"] == "cold start" for r in cold.stdout.splitlines())
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("customer,product\nc-u1,p i2\nnew,p i2\n")
    scored = [json.loads(r) for r in predict(str(pairs), "--json").stdout.splitlines()]
    assert [r.get("note") for r in scored] == [None, "cold user"]


def test_resume_and_sweep_summary(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli(["-m", *SMALL, "model=factorization,two_tower", "trainer.max_epochs=1",
                    f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    header = (sweep / "summary.csv").read_text().splitlines()[0]
    assert "test/rmse" in header and "test/recall_at_10" in header
    first = next(p.parent for p in sweep.rglob("metrics.json"))
    resume_in_process(first, ["trainer.max_epochs=2"])  # the sweep above is this test's CLI run
    assert json.loads((first / "metrics.json").read_text())["epochs"] == 2
