"""Which swept keys moved the objective: Optuna's importance evaluators over finished runs.

Works for every sweeper: the trials are rebuilt from the run dirs (their config.yaml and
metrics.json) with ``optuna.trial.create_trial``, so a basic grid sweep is ranked as an Optuna
study is. The swept keys are the config keys whose value differs between the completed runs.

Evaluators: fANOVA (a random forest's functional ANOVA) always, and PED-ANOVA where the
installed Optuna has it (3.6 and later; the sweeps extra pins 2.10 through
hydra-optuna-sweeper, which has fANOVA and mean decrease impurity only). Optuna and scikit-learn
are imported inside the functions that use them.
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
from importlib.metadata import version
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
    # Optuna (bmrun[sweeps]): only when a sweep's importance is asked for
    import optuna.distributions as d

    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return d.IntUniformDistribution(min(values), max(values))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        low, high = float(min(values)), float(max(values))
        if low > 0 and high / low >= _LOG_SPAN:
            return d.LogUniformDistribution(low, high)
        return d.UniformDistribution(low, high)
    return d.CategoricalDistribution(sorted({str(v) for v in values}))


def _param(value: Any, distribution) -> Any:
    # Optuna (bmrun[sweeps]): only when a sweep's importance is asked for
    from optuna.distributions import CategoricalDistribution, IntUniformDistribution

    if isinstance(distribution, CategoricalDistribution):
        return str(value)
    return int(value) if isinstance(distribution, IntUniformDistribution) else float(value)


def _fanova_works() -> bool:
    """Optuna 2.x's fANOVA reads scikit-learn's trees in their pre-1.4 layout and fails on newer
    ones, after fitting its forest: known here, it is skipped rather than tried."""
    # Optuna (bmrun[sweeps]): only when a sweep's importance is asked for
    import optuna

    def major_minor(version: str) -> tuple[int, int]:
        parts = (version.split(".") + ["0"])[:2]
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)

    return major_minor(optuna.__version__) >= (3, 0) or major_minor(_sklearn_version()) < (1, 4)


def _sklearn_version() -> str:
    # The installed distribution's version: importing scikit-learn here is what this package avoids.

    return version("scikit-learn")


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
    study = study_of(usable, keys, objective)
    # Optuna (bmrun[sweeps]): only when a sweep's importance is asked for
    import optuna

    result = Importance(objective=objective, trials=len(usable), keys=keys)
    if "PED-ANOVA" not in evaluators():
        result.notes.append(f"PED-ANOVA needs optuna >= 3.6 (installed: {optuna.__version__})")
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
    first = next(iter(result.by_evaluator.values()))
    result.keys = sorted(keys, key=lambda key: -first[key])
    return result


def print_importance(result: Importance) -> None:
    # rich's tables: only when printing results, not for --help
    from rich.table import Table


    table = Table(title=f"what moved {result.objective} ({result.trials} completed runs)", title_justify="left")
    table.add_column("key")
    for name in result.by_evaluator:
        table.add_column(name, justify="right")
    for key in result.keys:
        table.add_row(key, *(f"{values[key]:.3f}" for values in result.by_evaluator.values()))
    console.out.print(table)
    for note in result.notes:
        console.out.print(f"[dim]{note}[/]")


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
