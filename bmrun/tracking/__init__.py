"""Runs across days and sweeps: one table, filters, diffs and the MLflow sink (``bmrun-runs``).

Reads the run-dir contract (``config.yaml``, ``metrics.json``, ``history.csv``) and nothing
else; never TensorFlow, never the training loop. Modules:

* :mod:`bmrun.tracking.index`: finding run dirs and the incremental index beside them.
* :mod:`bmrun.tracking.query`: the ``--where`` expression parser and the other filters.
* :mod:`bmrun.tracking.table`: the table (rich, Markdown, CSV, JSON) and its columns.
* :mod:`bmrun.tracking.diff`: two runs side by side.
* :mod:`bmrun.tracking.mlflow_sink`: logging a run (live or finished) to an MLflow store.

Importing this package imports none of them.
"""
