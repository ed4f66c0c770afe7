"""Reading a finished run's trained model back (``model/model.keras``, Keras safe mode).

Used by transfer learning (``model.init_from``), ``bmrun-eval`` and ``bmrun-predict``. Safe
mode runs no code from the file: every class in it must be one Keras or bmrun registered.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from bmrun.errors import ConfigError, RunDirError
from bmrun.run_dir import CONFIG, KERAS_FILE, MODEL, keras_file, require_finished_run


def register_model_classes(run_dir: Path) -> None:
    """Register the classes the run's model file may name before safe mode reads it.

    bmrun's own (``BasicModel`` and its layers) and, for a plugin's or a ``model=custom`` run,
    the plugin's module, so its own registered layers are known.

    Raises:
        ConfigError: The run's model comes from a plugin that is not installed (or is broken).
    """
    from omegaconf import OmegaConf

    import bmrun.models.base  # noqa: F401 - registers BasicModel
    import bmrun.models.layers  # noqa: F401 - registers the shared custom layers
    from bmrun import registry

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
        from bmrun.plugins import import_target

        import_target(str(model_cfg.target), "model.target")  # registers the target's own layers


def load_run_model(run_dir: str | Path, what: str):
    """The trained model of the run at ``run_dir``.

    Args:
        run_dir: A finished run dir.
        what: How the user named the run, for messages (``model.init_from``, ``bmrun-eval``).

    Raises:
        RunDirError: Not a finished run dir, or a model file Keras cannot read.
    """
    import keras

    path = require_finished_run(run_dir, what)
    register_model_classes(path)
    try:
        return keras.saving.load_model(str(keras_file(path)), safe_mode=True)
    except Exception as error:  # Keras raises ValueError, TypeError, OSError... for a bad file
        raise RunDirError(f"{what}: {run_dir}: {MODEL}/{KERAS_FILE} cannot be loaded "
                          f"({type(error).__name__}: {error}).") from None
