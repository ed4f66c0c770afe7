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
    """Load a run's ``.keras`` model in Keras safe mode (no arbitrary code from the file)."""
    import keras

    import bmrun.models as registry

    for name in registry.FAMILIES:  # registers the serializable classes
        registry.model_class(name)
    return keras.saving.load_model(str(Path(run_dir) / "model" / KERAS_FILE), safe_mode=True)
