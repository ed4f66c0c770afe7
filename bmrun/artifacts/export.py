"""The trained model in deployable forms: ``model/model.keras`` and ``model/saved_model/``."""

from __future__ import annotations

import os
from pathlib import Path

from bmrun.run_dir import KERAS_FILE, SAVED_MODEL, atomic_path

def export_model(model, model_dir: Path) -> dict[str, int]:
    """Save ``model`` as a ``.keras`` file and a TensorFlow SavedModel (for serving).

    Returns:
        Size in bytes of each artifact, keyed by its path relative to ``model_dir``.
    """
    model_dir = Path(model_dir)
    keras_path, saved = model_dir / KERAS_FILE, model_dir / SAVED_MODEL
    with atomic_path(keras_path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")  # Keras insists on the suffix
        model.save(str(keras_tmp))
        os.replace(keras_tmp, tmp)
    with atomic_path(saved) as tmp:
        model.export(str(tmp), format="tf_saved_model", verbose=False)
    sizes = {KERAS_FILE: keras_path.stat().st_size,
             SAVED_MODEL: sum(f.stat().st_size for f in saved.rglob("*") if f.is_file())}
    return sizes
