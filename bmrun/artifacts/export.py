"""The trained model in deployable forms: ``model/model.keras`` and ``model/saved_model/``."""

from __future__ import annotations

import shutil
from pathlib import Path

KERAS_FILE = "model.keras"
SAVED_MODEL = "saved_model"


def export_model(model, model_dir: Path) -> dict[str, int]:
    """Save ``model`` as a ``.keras`` file and a TensorFlow SavedModel (for serving).

    Returns:
        Size in bytes of each artifact, keyed by its path relative to ``model_dir``.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    keras_path = model_dir / KERAS_FILE
    tmp = model_dir / f".tmp-{KERAS_FILE}"
    model.save(str(tmp))
    tmp.replace(keras_path)
    saved = model_dir / SAVED_MODEL
    if saved.exists():
        shutil.rmtree(saved)
    model.export(str(saved), format="tf_saved_model", verbose=False)
    sizes = {KERAS_FILE: keras_path.stat().st_size,
             SAVED_MODEL: sum(f.stat().st_size for f in saved.rglob("*") if f.is_file())}
    return sizes


def load_model(run_dir: Path):
    """Load a run's ``.keras`` model in Keras safe mode (no arbitrary code from the file).

    The classes a file may name are registered first: bmrun's own (``BasicModel`` and its
    layers) and, for a plugin's or a ``model=custom`` run, the plugin's module, so its own
    registered layers are known.

    Raises:
        ConfigError: The run's model comes from a plugin that is not installed (or is broken).
    """
    import keras
    from omegaconf import OmegaConf

    import bmrun.models.base  # noqa: F401 - registers BasicModel
    import bmrun.models.layers  # noqa: F401 - registers the shared custom layers
    from bmrun import registry
    from bmrun.errors import ConfigError

    config_file = Path(run_dir) / "config.yaml"
    model_cfg = OmegaConf.load(config_file).get("model") if config_file.is_file() else None
    name = str(model_cfg.get("name")) if model_cfg is not None else None
    if name is not None:
        try:
            registry.model(name)  # imports a plugin's module: its layers get registered
        except ConfigError as error:
            raise ConfigError("model", f"the run {run_dir} was trained with model={name}, which cannot be loaded "
                              f"here: {error}. Install the package that provides it (entry point group "
                              f"bmrun.models).") from None
        if name == "custom" and model_cfg.get("target"):
            from bmrun.plugins import import_target

            import_target(str(model_cfg.target), "model.target")  # registers the target's own layers
    return keras.saving.load_model(str(Path(run_dir) / "model" / KERAS_FILE), safe_mode=True)
