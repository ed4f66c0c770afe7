"""Sweeps: the end-of-multirun report and the comparison of finished runs.

Sweeps themselves are run by Hydra's sweepers and launchers (basic, Optuna, joblib, submitit);
this package only reads what their jobs wrote and reports on it. Modules:

* :mod:`bmrun.sweep.summary`: one row per run dir, read from ``metrics.json`` (no TensorFlow).
* :mod:`bmrun.sweep.report`: the rich table, Markdown and CSV (``bmrun-report`` prints them).
* :mod:`bmrun.sweep.callback`: the Hydra callback that writes ``summary.csv`` and sets the exit code.

Importing this package imports none of them.
"""
