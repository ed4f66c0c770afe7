"""Fairness: how a classifier's results differ between groups of a sensitive column, and a
training penalty that narrows the gap.

``groups`` reads and checks the sensitive columns of a table (``data.sensitive``); ``metrics``
holds the definitions (Fairlearn's: per-group rates and their max − min differences), in NumPy;
``penalty`` is the differentiable demographic-parity term the compiled train step adds to the
loss (``loss.fairness_penalty``, MinDiff-style) and its multiplier as checkpointed state;
``config`` the ``fairness`` group (``fairness.max_gap``) and ``constraint`` how the bound moves the
multiplier and picks the best epoch. Only ``penalty`` imports TensorFlow.
"""
