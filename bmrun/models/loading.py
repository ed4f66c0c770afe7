"""Reading a finished run's trained model back (``model/model.keras``, Keras safe mode).

Used by transfer learning (``model.init_from``), ``bmrun-eval`` and ``bmrun-predict``. Safe
mode runs no code from the file: every class in it must be one Keras or bmrun registered.
"""

from __future__ import annotations

from pathlib import Path

from bmrun.errors import RunDirError
from bmrun.run_dir import KERAS_FILE, MODEL, keras_file, require_finished_run


def register_model_classes() -> None:
    """Import every model family so its Keras classes are registered for deserialisation."""
    import bmrun.models as registry

    for name in registry.FAMILIES:
        registry.model_class(name)


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
    register_model_classes()
    try:
        return keras.saving.load_model(str(keras_file(path)), safe_mode=True)
    except Exception as error:  # Keras raises ValueError, TypeError, OSError... for a bad file
        raise RunDirError(f"{what}: {run_dir}: {MODEL}/{KERAS_FILE} cannot be loaded "
                          f"({type(error).__name__}: {error}).") from None
