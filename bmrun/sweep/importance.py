"""Which swept keys moved the objective: Optuna's importance evaluators over finished runs.

Works for every sweeper: the trials are rebuilt from the run dirs (their config.yaml and
metrics.json) with ``optuna.trial.create_trial``, so a basic grid sweep is ranked as an Optuna
study is. The swept keys are the config keys whose value differs between the completed runs.

Evaluators: fANOVA (a random forest's functional ANOVA) always, and PED-ANOVA where the
installed Optuna has it (3.6 and later: the ``importance`` extra; the sweeps extra pins 2.10
through hydra-optuna-sweeper, which has fANOVA and mean decrease impurity only). When the installed
versions leave only mean decrease impurity (Optuna 2.x's fANOVA fails on scikit-learn 1.4 and
later), or Optuna is not installed, MDI is computed with scikit-learn directly
(:func:`mdi_importance`, the forest Optuna's evaluator fits): importing Optuna costs more than
the ranking of a 1,000-trial sweep (BENCHMARKS.md, "Comparing runs"). Optuna and scikit-learn are imported inside the
functions that use them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from bmrun.errors import BmrunError
from bmrun.objective import objective_direction
from bmrun.tracking.index import Run
from bmrun.tracking.table import differing_keys
from importlib.metadata import PackageNotFoundError, version
from bmrun import console

MIN_TRIALS = 8  # fewer completed runs than this rank noise; the sweep summary stays quiet
_LOG_SPAN = 100.0  # positive floats spanning this factor or more are on a log scale (lr, weight decay)


class ImportanceError(BmrunError):
    title = "importance"


@dataclass
class Importance:
    """Importances of the swept keys (each evaluator's values sum to 1), most important first."""

    objective: str
    trials: int
    keys: list[str]
    by_evaluator: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _usable(runs: Sequence[Run]) -> list[Run]:
    return [run for run in runs if run.status == "completed" and isinstance(run.objective, float)
            and math.isfinite(run.objective)]


def _distribution(values: list[Any]):
    # Optuna (bmrun[sweeps] or bmrun[importance]): only when a sweep's importance is asked for
    import optuna.distributions as d

    # Optuna 3 replaced the Uniform classes (deprecated, with a warning each) by Int/FloatDistribution
    modern = hasattr(d, "FloatDistribution")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        low, high = min(values), max(values)
        return d.IntDistribution(low, high) if modern else d.IntUniformDistribution(low, high)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        low, high = float(min(values)), float(max(values))
        log = low > 0 and high / low >= _LOG_SPAN
        if modern:
            return d.FloatDistribution(low, high, log=log)
        return d.LogUniformDistribution(low, high) if log else d.UniformDistribution(low, high)
    return d.CategoricalDistribution(sorted({str(v) for v in values}))


def _param(value: Any, distribution) -> Any:
    # Optuna (bmrun[sweeps] or bmrun[importance]): only when a sweep's importance is asked for
    import optuna.distributions as d

    if isinstance(distribution, d.CategoricalDistribution):
        return str(value)
    integer = getattr(d, "IntDistribution", None) or d.IntUniformDistribution
    return int(value) if isinstance(distribution, integer) else float(value)


def _fanova_works() -> bool:
    """Optuna 2.x's fANOVA reads scikit-learn's trees in their pre-1.4 layout and fails on newer
    ones, after fitting its forest: known here, it is skipped rather than tried."""
    return _major_minor(_installed("optuna") or "0") >= (3, 0) or _major_minor(_sklearn_version()) < (1, 4)


def _sklearn_version() -> str:
    # The installed distribution's version: importing scikit-learn here is what this package avoids.
    return _installed("scikit-learn") or "0"


def evaluators() -> dict[str, Any]:
    """The importance evaluators this Optuna offers, by name (the first one orders the keys)."""
    # Optuna (bmrun[sweeps]): only when a sweep's importance is asked for
    import optuna.importance as importance

    found = {}
    if hasattr(importance, "PedAnovaImportanceEvaluator"):
        found["PED-ANOVA"] = importance.PedAnovaImportanceEvaluator()
    if _fanova_works():
        found["fANOVA"] = importance.FanovaImportanceEvaluator(seed=0)
    found["MDI"] = importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
    return found


def study_of(runs: Sequence[Run], keys: Sequence[str], objective: str):
    """An in-memory Optuna study holding one finished trial per run."""
    # Optuna (bmrun[sweeps]): only when a sweep's importance is asked for
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {key: _distribution([run.config(key) for run in runs]) for key in keys}
    direction = "maximize" if objective_direction(objective.replace(".", "/")) == "max" else "minimize"
    study = optuna.create_study(direction=direction)
    with warnings.catch_warnings():  # create_trial/add_trials are "experimental" in optuna 2.x
        warnings.simplefilter("ignore")
        study.add_trials([optuna.trial.create_trial(
            params={key: _param(run.config(key), distributions[key]) for key in keys},
            distributions=distributions, value=run.objective) for run in runs])
    return study


def rank(runs: Sequence[Run]) -> Importance:
    """Rank the keys swept across ``runs`` by their effect on the runs' objective.

    Raises:
        ImportanceError: Too few completed runs, no objective, or no key that varies.
    """
    usable = _usable(runs)
    objectives = {run.objective_key for run in usable}
    if len(usable) < 2 or len(objectives) != 1:
        raise ImportanceError(f"--importance needs at least 2 completed runs with one objective; found "
                              f"{len(usable)} completed run(s) and objectives {sorted(map(str, objectives)) or 'none'}")
    objective = objectives.pop()
    keys = [key for key in differing_keys(usable) if all(key in run.config_keys() for run in usable)]
    keys = [key for key in keys if not key.startswith(("hydra.", "logger.", "resume"))]
    if not keys:
        raise ImportanceError("--importance: the completed runs share every config key; nothing was swept")
    result = Importance(objective=objective, trials=len(usable), keys=keys)
    if _optuna_adds_nothing():
        # Only MDI would work (see the module docstring): the same forest, without importing Optuna
        result.by_evaluator["MDI"] = mdi_importance(usable, keys)
        result.notes.append(_why_mdi_only() + "; MDI here is the mean decrease impurity of the random forest "
                            "Optuna's MeanDecreaseImpurityImportanceEvaluator fits, computed with scikit-learn "
                            "directly (importing Optuna would take longer than the ranking)")
    else:
        _optuna_evaluators(usable, keys, objective, result)
    first = next(iter(result.by_evaluator.values()))
    result.keys = sorted(keys, key=lambda key: -first[key])
    return result


def _optuna_evaluators(usable: Sequence[Run], keys: Sequence[str], objective: str, result: Importance) -> None:
    """Every evaluator the installed Optuna offers, on a study rebuilt from the runs."""
    study = study_of(usable, keys, objective)
    # Optuna (bmrun[sweeps]): only when a sweep's importance is asked for
    import optuna

    if "PED-ANOVA" not in evaluators():
        result.notes.append(f"PED-ANOVA needs optuna >= 3.6 (installed: {optuna.__version__}; "
                            f"pip install 'bmrun[importance]' in an environment without the sweeps extra)")
    if not _fanova_works():
        result.notes.append(f"fANOVA of optuna {optuna.__version__} cannot read scikit-learn {_sklearn_version()}'s "
                            f"trees (optuna >= 3 can); MDI is the mean decrease impurity of a random forest")
    for name, evaluator in evaluators().items():
        try:
            values = optuna.importance.get_param_importances(study, evaluator=evaluator)
        except ValueError as error:
            # Optuna 2.10's fANOVA reads scikit-learn's trees in their pre-1.4 layout and fails on
            # newer ones; mean decrease impurity (the same forest's own importances) still works.
            result.notes.append(f"{name} failed with this optuna {optuna.__version__} and scikit-learn: "
                                f"{' '.join(str(error).split())[:100]}")
            continue
        result.by_evaluator[name] = {key: float(values.get(key, 0.0)) for key in keys}
    if not result.by_evaluator:
        raise ImportanceError("--importance: no importance evaluator of the installed optuna worked: "
                              + "; ".join(result.notes))


def mdi_importance(runs: Sequence[Run], keys: Sequence[str], *, trees: int = 64, seed: int = 0) -> dict[str, float]:
    """Mean decrease impurity of each key, as Optuna 2.10's evaluator computes it.

    The same encoding (keys in name order, numbers as they are, each category a one-hot column,
    choices in sorted order) and the same forest (``trees`` trees of depth 64, ``seed``), whose
    importances are summed back from the one-hot columns to their key.
    """
    # NumPy and scikit-learn: only when importance is asked for, never at --help or config composition
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    columns, owner = [], []
    for index, key in enumerate(sorted(keys)):
        values = [run.config(key) for run in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns.append(np.asarray(values, np.float64))
            owner.append(index)
            continue
        labels = [str(v) for v in values]
        for choice in sorted(set(labels)):
            columns.append(np.asarray([label == choice for label in labels], np.float64))
            owner.append(index)
    forest = RandomForestRegressor(n_estimators=trees, max_depth=64, min_samples_split=2, min_samples_leaf=1,
                                   random_state=seed)
    forest.fit(np.stack(columns, axis=1), np.asarray([run.objective for run in runs], np.float64))
    per_key = np.zeros(len(keys))
    np.add.at(per_key, owner, forest.feature_importances_)
    return {key: float(value) for key, value in zip(sorted(keys), per_key)}


def _installed(name: str) -> Optional[str]:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _major_minor(text: str) -> tuple[int, int]:
    parts = (text.split(".") + ["0"])[:2]
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


def _optuna_adds_nothing() -> bool:
    """True when the installed Optuna has no working evaluator but MDI (or is not installed),
    read from the installed versions without importing either package."""
    if _installed("optuna") is None:
        return True
    # PED-ANOVA exists from optuna 3.6, and fANOVA works wherever optuna is 3.0 or later
    return "PED-ANOVA" not in _evaluator_names() and not _fanova_works()


def _evaluator_names() -> list[str]:
    """What :func:`evaluators` would return, from the installed version alone."""
    names = ["PED-ANOVA"] if _major_minor(_installed("optuna") or "0") >= (3, 6) else []
    return names + (["fANOVA"] if _fanova_works() else []) + ["MDI"]


def _why_mdi_only() -> str:
    optuna = _installed("optuna")
    if optuna is None:
        return "Optuna is not installed (PED-ANOVA and fANOVA are Optuna's)"
    return (f"PED-ANOVA needs optuna >= 3.6 and fANOVA of optuna {optuna} cannot read scikit-learn "
            f"{_installed('scikit-learn')}'s trees (both work with pip install 'bmrun[importance]', in an "
            f"environment without the sweeps extra, whose Hydra sweeper pins optuna < 3)")


def print_importance(result: Importance) -> None:
    # rich's tables: only when printing results, not for --help
    from rich.markup import escape
    from rich.table import Table


    table = Table(title=f"what moved {result.objective} ({result.trials} completed runs)", title_justify="left")
    table.add_column("key")
    for name in result.by_evaluator:
        table.add_column(name, justify="right")
    for key in result.keys:
        table.add_row(key, *(f"{values[key]:.3f}" for values in result.by_evaluator.values()))
    console.out.print(table)
    for note in result.notes:  # escaped: a note names "bmrun[importance]", which is not markup
        console.out.print(f"[dim]{escape(note)}[/]")


def draw(runs: Sequence[Run], result: Importance, path: Path) -> None:
    """Parallel coordinates of the swept keys (most important first), coloured by the objective."""
    # bmrun.explain.figures brings numpy: only when this runs, keeps --help light
    from bmrun.explain.figures import parallel_coordinates, save_png

    usable = _usable(runs)
    axes = {key: [run.config(key) for run in usable] for key in result.keys}
    picture = parallel_coordinates(axes, [run.objective for run in usable], result.objective,
                                   title=f"{result.trials} runs: swept keys, most important first")
    save_png(picture, Path(path))


def for_summary(runs: Sequence[Run]) -> Optional[Importance]:
    """The sweep summary's ranking: None when there are too few runs or Optuna is not installed."""
    if len(_usable(runs)) < MIN_TRIALS:
        return None
    try:
        return rank(runs)
    except (ImportError, ImportanceError):
        return None
