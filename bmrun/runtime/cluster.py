"""Which process of a multi-worker job this is, from ``TF_CONFIG`` (no TensorFlow import)."""

from __future__ import annotations

import json
import os


def is_chief() -> bool:
    """True unless ``TF_CONFIG`` names this process a non-chief worker.

    The chief is the ``chief`` task, or worker 0 when the cluster has no chief; it alone writes
    artifacts. Without ``TF_CONFIG`` every process is its own chief.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    config = json.loads(raw)
    task, cluster = config.get("task", {}), config.get("cluster", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
