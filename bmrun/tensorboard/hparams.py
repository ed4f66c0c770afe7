"""TensorBoard HParams for one run: the config values it set and the final metrics it reached.

Each run writes one HParams session into ``<run dir>/tensorboard/hparams``:

* hparams: the model and data names, plus every config value the command-line overrides
  touched (``optimizer.lr=0.01`` -> ``optimizer.lr: 0.01``), read back from the validated config
  so that each hparam has one type across jobs whatever the spelling on the command line;
* metrics: the final ``train/*``, ``val/*`` and ``test/*`` values of metrics.json, plus
  ``epochs`` and ``duration_s``, as scalars in that same run.

No experiment summary (``hp.hparams_config``) is written: TensorBoard then builds the table
from the union of every session under ``--logdir``, so jobs of a sweep that vary different keys
all show. The session lives in its own sub-run, beside ``train``/``val``/``test``, so the table
lists the final metrics rather than the last step of every curve.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

HPARAMS_DIR = "hparams"
# Keys that change what a run records or prints, not what it trains: not hyperparameters.
_NOT_HPARAMS = {"logger", "resume", "verbose", "fail_on_job_error", "objective", "hydra", "hparams_search"}

HParamValue = Union[bool, int, float, str]


def _override_key(override: str) -> str | None:
    """``+model.filters=[8]`` -> ``model.filters``; None for deletions (``~key``) and non-overrides."""
    text = override.strip()
    if text.startswith("~") or "=" not in text:
        return None
    key = text.split("=", 1)[0].lstrip("+")
    return key.split("@", 1)[0] or None  # group@package=option: the group names the choice


def _select(tree: Any, dotted: str) -> tuple[bool, Any]:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _as_hparam(value: Any) -> HParamValue:
    """HParams take bool, int, float or str: anything else is shown as its text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if value is None:
        return "null"
    return str(value)


def hparams_for(config: Any, overrides: Iterable[str]) -> dict[str, HParamValue]:
    """The hparams of a run.

    Args:
        config: The validated :class:`~bmrun.config.schema.TrainConfig` (dataclasses).
        overrides: The command-line overrides of the run, as Hydra passed them.

    Returns:
        ``{"model": ..., "data": ..., "<dotted key>": value, ...}``. A group choice
        (``optimizer=sgd``) maps to the group's name; a key that is not in the config
        (``experiment=fashion_cnn_fast``) keeps the override's text.
    """
    tree = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    values: dict[str, HParamValue] = {"model": config.model.name, "data": config.data.name}
    for override in overrides:
        key = _override_key(override)
        if key is None or key.split(".", 1)[0] in _NOT_HPARAMS:
            continue
        found, value = _select(tree, key)
        if not found:
            values[key] = _as_hparam(override.split("=", 1)[1])
        elif isinstance(value, Mapping):
            values[key] = _as_hparam(value.get("name", override.split("=", 1)[1]))
        else:
            values[key] = _as_hparam(value)
    return values


def final_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """``{"test/accuracy": ..., "val/loss": ..., "epochs": ..., "duration_s": ...}`` from metrics.json."""
    values: dict[str, float] = {}
    for split in ("train", "val", "test"):
        for name, value in (metrics.get(split) or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[f"{split}/{name}"] = float(value)
    for name in ("epochs", "duration_s"):
        if isinstance(metrics.get(name), (int, float)):
            values[name] = float(metrics[name])
    return values


def write_session(log_dir: Path, hparams: Mapping[str, HParamValue], values: Mapping[str, float], step: int) -> None:
    """Write one HParams session (hparams + metric scalars) as the only events in ``log_dir``."""
    # TensorFlow: only when this runs, never at --help or config composition
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    log_dir = Path(log_dir)
    # The session describes the run's final state: a resumed run replaces it rather than adding
    # a second session that TensorBoard would have to choose from.
    shutil.rmtree(log_dir, ignore_errors=True)
    writer = tf.summary.create_file_writer(str(log_dir))
    try:
        with writer.as_default(step=int(step)):
            hp.hparams(dict(hparams))
            for tag, value in values.items():
                tf.summary.scalar(tag, value)
        writer.flush()
    finally:
        writer.close()


def log_run_hparams(tensorboard_dir: Path, config: Any, metrics: Mapping[str, Any]) -> Path:
    """Write the HParams session of a finished run under ``<tensorboard_dir>/hparams``.

    Args:
        tensorboard_dir: The run's ``tensorboard`` folder.
        config: The validated config of the run.
        metrics: The run's metrics (as written to metrics.json); ``overrides`` picks the hparams.

    Returns:
        The session's folder.
    """
    log_dir = Path(tensorboard_dir) / HPARAMS_DIR
    write_session(log_dir, hparams_for(config, metrics.get("overrides", ())), final_metrics(metrics),
                  step=int(metrics.get("epochs") or 0))
    return log_dir
