"""Finding a dataset's files: the user's path, local copies, then (last) a download.

Each loader lists the places it will look, in order. When none has the data and the download
fails (no network) the user gets one paragraph naming every place searched and how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from bmrun.errors import DataError


def keras_cache_dir() -> Path:
    """The folder Keras caches datasets in (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def user_path(path: Optional[str], what: str) -> Optional[Path]:
    """Resolve ``data.path``; a path that does not exist is an error, not a silent fallback."""
    if path is None:
        return None
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise DataError(f"data.path={path} does not exist. Point data.path at {what}.")
    return resolved


def download(url: str, fname: str, subdir: str, *, dataset: str, searched: Iterable[str], hint: str) -> Path:
    """Fetch ``url`` into the Keras cache with ``keras.utils.get_file``; fail with a clear paragraph."""
    import keras  # the training path has already imported TensorFlow; this costs nothing then

    try:
        return Path(keras.utils.get_file(fname, origin=url, cache_subdir=subdir))
    except Exception as error:  # noqa: BLE001 - any network failure becomes the same message
        raise not_found(dataset, searched, hint, f"downloading {url} failed ({type(error).__name__})") from None


def not_found(dataset: str, searched: Iterable[str], hint: str, last: str = "download disabled (data.download=false)") -> DataError:
    """The one-paragraph error for a dataset that is nowhere to be found."""
    places = "; ".join(searched)
    return DataError(
        f"{dataset} data not found. Searched: {places}; {last}. {hint} "
        f"Or pass data.path=/path/to/the/file (or folder)."
    )
