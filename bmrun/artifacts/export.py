"""The trained model in deployable forms: ``model/model.keras`` and ``model/saved_model/``
(and, for text pairs, ``model/text_model.keras``: strings to decoded strings; for a table with
image columns, ``model/raw_model.keras``: image paths read inside the model)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bmrun.run_dir import KERAS_FILE, SAVED_MODEL, atomic_path

def export_model(model, model_dir: Path, *, saved_model: bool = True) -> dict[str, int]:
    """Save ``model`` as a ``.keras`` file and a TensorFlow SavedModel (for serving).

    Args:
        model: The trained Keras model.
        model_dir: The run's ``model/`` folder.
        saved_model: Write ``saved_model/`` too (``logger.saved_model``).

    Returns:
        Size in bytes of each artifact, keyed by its path relative to ``model_dir``.
    """
    model_dir = Path(model_dir)
    keras_path, saved = model_dir / KERAS_FILE, model_dir / SAVED_MODEL
    with atomic_path(keras_path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")  # Keras insists on the suffix
        model.save(str(keras_tmp))
        os.replace(keras_tmp, tmp)
    sizes = {KERAS_FILE: keras_path.stat().st_size}
    if saved_model:
        with atomic_path(saved) as tmp:
            model.export(str(tmp), format="tf_saved_model", verbose=False)
        sizes[SAVED_MODEL] = sum(f.stat().st_size for f in saved.rglob("*") if f.is_file())
    elif saved.exists():  # a resumed run's earlier export would no longer match model.keras
        shutil.rmtree(saved)
    if getattr(model, "task_kind", None) == "seq2seq":  # text pairs: also strings in, decoded strings out
        sizes[TEXT_MODEL] = _export_text_model(model, model_dir / TEXT_MODEL)
    if ((getattr(model, "columns", None) or {}).get("modalities") or {}).get("images"):
        sizes[RAW_MODEL] = _export_raw_model(model, model_dir / RAW_MODEL)
    return sizes


TEXT_MODEL = "text_model.keras"
RAW_MODEL = "raw_model.keras"


def _export_text_model(model, path: Path) -> int:
    """``model/text_model.keras``: the tokenizer and the greedy loop around ``model`` (bmrun.models.text_model)."""
    # text pairs only: the strings-to-strings wrapper is built for seq2seq runs alone
    from bmrun.models.text_model import TextToText

    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")
        TextToText(model, model.columns["vocabulary"], model.columns["tokens"]).save(str(keras_tmp))
        os.replace(keras_tmp, tmp)
    return path.stat().st_size


def _export_raw_model(model, path: Path) -> int:
    """``model/raw_model.keras``: ``model`` reading its image columns' files itself (bmrun.models.raw_model)."""
    # tables with image columns only: the paths-reading wrapper is built for those runs alone
    from bmrun.models.raw_model import raw_model

    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")
        raw_model(model).save(str(keras_tmp))
        os.replace(keras_tmp, tmp)
    return path.stat().st_size
