"""Import and start TensorFlow without its start-up noise.

TensorFlow's C++ runtime logs through absl before its log level is read ("All log messages
before absl::InitializeLog() ..."), so ``TF_CPP_MIN_LOG_LEVEL`` alone cannot silence it. While
TensorFlow imports and while its runtime starts, :func:`quiet_native_logs` points file
descriptor 2 at a temporary file and replays it only if something fails.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import sys
import tempfile
import warnings


@contextlib.contextmanager
def quiet_native_logs(verbose: int = 0):
    """Hide what native code writes to stderr inside the block (unless ``verbose >= 2``)."""
    if verbose >= 2:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def _without_sklearn_wrappers():
    """Hide scikit-learn while TensorFlow (and with it Keras) imports.

    Keras imports scikit-learn, and through it SciPy, for its ``keras.wrappers`` estimators
    whenever scikit-learn is installed: a visible share of every start-up (BENCHMARKS.md, "Why
    `experiment=fashion_speedrun` is set as it is"), for wrappers bmrun never uses.
    With scikit-learn hidden Keras defines them without it; scikit-learn itself imports
    normally afterwards (the bundled tables load through it). Nothing is hidden when
    scikit-learn is already imported.
    """
    if "sklearn" in sys.modules:
        yield
        return
    sys.modules["sklearn"] = None  # makes ``import sklearn`` raise ImportError
    try:
        yield
    finally:
        if sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]


@contextlib.contextmanager
def _no_garbage_collection():
    """Import with the cyclic garbage collector paused, then freeze what was imported.

    Importing TensorFlow and Keras allocates millions of long-lived objects, and the collector
    rescans them all again and again while they arrive (a measured share of the import:
    BENCHMARKS.md, "Why `experiment=fashion_speedrun` is set as it is"). Library objects
    live as long as the process, so they go to the permanent generation (``gc.freeze``) where
    later collections (``keras.backend.clear_session`` between jobs) never scan them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def import_tensorflow(verbose: int = 0):
    """Import and return ``tensorflow`` with Python-side logging quieted to errors.

    Args:
        verbose: 0/1 hide TensorFlow's own logs; 2 shows them.
    """
    if verbose < 2:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with quiet_native_logs(verbose), _without_sklearn_wrappers(), _no_garbage_collection():
        # TensorFlow: only when this runs, never at --help or config composition
        import tensorflow as tf
        importlib.import_module("keras")  # with TensorFlow's modules, in the same frozen batch
    if verbose < 2:
        warnings.filterwarnings("ignore", module="keras")
        warnings.filterwarnings("ignore", module="tensorflow")
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    return tf
