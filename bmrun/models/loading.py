"""Reading a finished run's trained model back (``model/model.keras``, Keras safe mode).

Used by transfer learning (``model.init_from``), ``bmrun-eval`` and ``bmrun-predict``. Safe
mode runs no code from the file: every class in it must be one Keras or bmrun registered.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bmrun.errors import ConfigError, RunDirError
from bmrun.run_dir import CONFIG, KERAS_FILE, MODEL, keras_file, require_finished_run
from bmrun.specs import SEQ2SEQ
from bmrun import registry
from bmrun.plugins import import_target


def register_model_classes(run_dir: Path) -> None:
    """Register the classes the run's model file may name before safe mode reads it.

    bmrun's own (``BasicModel`` and its layers) and, for a plugin's or a ``model=custom`` run,
    the plugin's module, so its own registered layers are known.

    Raises:
        ConfigError: The run's model comes from a plugin that is not installed (or is broken).
    """
    # OmegaConf: only when a run's config is read, not for --help
    from omegaconf import OmegaConf

    # bmrun.models loads TensorFlow: only when this runs, never at --help or config composition
    from bmrun.models import base, layers

    del base, layers  # imported for their Keras registrations (BasicModel, the shared layers)

    importlib.import_module("bmrun.models.recommender")  # registers RecommenderModel and its layers

    config_file = Path(run_dir) / CONFIG
    model_cfg = OmegaConf.load(config_file).get("model") if config_file.is_file() else None
    name = str(model_cfg.get("name")) if model_cfg is not None else None
    if name is None:
        return
    try:
        registry.model(name)  # imports a plugin's module: its layers get registered
    except ConfigError as error:
        raise ConfigError("model", f"the run {run_dir} was trained with model={name}, which cannot be loaded "
                          f"here: {error}. Install the package that provides it (entry point group "
                          f"bmrun.models).") from None
    if name == "custom" and model_cfg.get("target"):
        import_target(str(model_cfg.target), "model.target")  # registers the target's own layers


def load_run_model(run_dir: str | Path, what: str):
    """The trained model of the run at ``run_dir``.

    Args:
        run_dir: A finished run dir.
        what: How the user named the run, for messages (``model.init_from``, ``bmrun-eval``).

    Raises:
        RunDirError: Not a finished run dir, or a model file Keras cannot read.
    """
    # TensorFlow: only when this runs, never at --help or config composition
    import keras

    path = require_finished_run(run_dir, what)
    register_model_classes(path)
    try:
        return keras.saving.load_model(str(keras_file(path)), safe_mode=True)
    except Exception as error:  # Keras raises ValueError, TypeError, OSError... for a bad file
        raise RunDirError(f"{what}: {run_dir}: {MODEL}/{KERAS_FILE} cannot be loaded "
                          f"({type(error).__name__}: {error}).") from None


@dataclass
class OpenRun:
    """A run dir's config (as saved) and its trained model."""

    run_dir: Path
    cfg: DictConfig
    model: Any

    @property
    def task_kind(self) -> str:
        """What the model predicts, read from the model itself (its config may be overridden)."""
        if getattr(self.model, "task_kind", None):  # recorded by the model (files since task kinds own heads)
            return self.model.task_kind
        if getattr(self.model, "target_mean", None) is not None:
            return "regression"
        if getattr(self.model, "task_kind", None) == SEQ2SEQ:  # logits per position: not a class count
            return SEQ2SEQ
        if not hasattr(self.model, "family"):  # a plugin's own model: the run's data says
            # bmrun.data.catalog brings numpy: only when this runs, keeps --help light
            from bmrun.data.catalog import describe

            return describe(self.cfg.data)[0].kind  # the saved config is complete (as in transfer.same_labels)
        if getattr(self.model, "task_kind", None) == "segmentation":  # recorded by the model: a mask per pixel
            return "segmentation"
        return "binary" if int(self.model.output_shape[-1]) == 1 else "multiclass"

    @property
    def example_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.model.input_shape[1:])


def pretrain_task(cfg: DictConfig) -> str:
    """The run's ``pretrain`` task, or ``none`` (also for runs recorded before the group existed)."""
    return str(OmegaConf.select(cfg, "pretrain.name", default="none") or "none")


def refuse_pretrain_run(path: Path, cfg: DictConfig, what: str) -> None:
    """A pretrain run's model has an untrained head: its predictions would mean nothing.

    Raises:
        RunDirError: ``cfg`` is a pretrain run's config.
    """
    task = pretrain_task(cfg)
    if task != "none":
        raise RunDirError(f"{what}: {path} is a pretrain={task} run: it learnt image features without labels, "
                          f"and its model/ has no trained classifier head, so there is nothing to evaluate or "
                          f"predict with. Fine-tune it first: bmrun data=... model.init_from={path} (add "
                          f"model.freeze=backbone for a linear probe), then use that run.")


def open_run(run_dir: str, what: str) -> OpenRun:
    """Load ``run_dir``'s config.yaml and model, or explain what is missing.

    Raises:
        RunDirError: Not a run dir, no exported model, or a model Keras cannot read.
    """
    # TensorFlow side (bmrun.runtime.tfimport): kept out of --help and config composition
    from bmrun.runtime.tfimport import import_tensorflow, quiet_native_logs

    path = require_finished_run(run_dir, what)
    cfg = OmegaConf.load(path / CONFIG)
    refuse_pretrain_run(path, cfg, what)
    tf = import_tensorflow()
    with quiet_native_logs():  # the runtime's start-up lines (no GPU driver, ...) are noise here
        tf.constant(0.0)
        with _run_precision(tf, cfg):
            model = load_run_model(path, what)
    return OpenRun(path.resolve(), cfg, model)


@contextlib.contextmanager
def _run_precision(tf, cfg):
    """Build the loaded model in the precision its run computed in: ``device.precision`` resolved as
    training resolves it on this machine (``auto``: bfloat16 where the chip has it). A bfloat16
    run's model rebuilt in float32 gives slightly other outputs, and ``bmrun-eval`` would not give
    back the run's own test metrics. The global policy is restored afterwards; the layers keep
    theirs."""
    # TensorFlow side: only when a run is opened, never at --help or config composition
    import keras

    # bmrun.runtime.device brings the device setup: only when a run is opened, keeps --help light
    from bmrun.runtime.device import resolve_precision

    requested = str(OmegaConf.select(cfg, "device.precision", default="float32"))
    on_cpu = OmegaConf.select(cfg, "device.name", default="auto") == "cpu"
    gpus = [] if on_cpu else tf.config.list_physical_devices("GPU")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(resolve_precision(requested, "gpu" if gpus else "cpu", tf, gpus))
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
