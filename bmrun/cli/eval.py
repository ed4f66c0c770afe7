"""``bmrun-eval <run dir> [data=... data.key=value ...]``: test a finished run's model again.

The run's own ``config.yaml`` says which data it was trained on; overrides may point the test at
another dataset with the same input shape and number of classes (``data=<option>``, then any
``data.<key>=<value>``: a local copy with ``data.path``, a label filter with ``data.classes``).
The model is ``model/model.keras`` (Keras safe mode), which holds the weights the run's final test
used. Metrics come from the training loop's own evaluation, so evaluating the run's data gives
back the run's test metrics; they are printed and written to ``<run dir>/eval.json`` (or
``eval-<data>.json`` when overrides change the data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from bmrun import console, registry
from bmrun.cli.guard import console_script, finished_run_parser
from bmrun.errors import ConfigError
from bmrun.models.loading import OpenRun, open_run
from bmrun.run_dir import atomic_write_json

_KIND_NAMES = {"multiclass": "classes", "binary": "binary labels", "regression": "a regression target",
               "segmentation": "masks",
               "forecast": "a forecast target",
               "seq2seq": "text pairs"}


def data_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """The run's config with ``data=<option>`` and ``data.<key>=<value>`` overrides applied."""
    # Hydra: only when composing or parsing overrides, not for --help
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    cfg = cfg.copy()
    parser = OverridesParser.create()
    for text in overrides:
        try:
            override = parser.parse_override(text)
        except HydraException as error:
            raise ConfigError(text, f"not a key=value override ({str(error).splitlines()[0]})") from None
        key = override.key_or_group
        if key == "data":
            cfg.data = _data_option(str(override.value()))
        elif key.startswith("data."):
            OmegaConf.update(cfg, key, override.value(), merge=False)
        else:
            raise ConfigError(key, "bmrun-eval only changes the data: data=<option> or data.<key>=<value>")
    cfg.resume = None
    return cfg


def _data_option(name: str) -> DictConfig:
    """The ``data`` group as ``bmrun data=<name>`` composes it."""
    # bmrun.cli.help brings numpy: only when this runs, keeps --help light
    from bmrun.cli.help import groups
    from bmrun.config import compose

    options = groups().get("data", {})
    if name not in options:
        raise ConfigError("data", f"unknown option {name!r}; choose one of: {', '.join(options)}")
    return compose([f"data={name}"]).data


def check_compatible(run: OpenRun, task, inputs, data_name: str, data_cfg=None) -> None:
    """Refuse data the model cannot read or whose labels it does not predict."""
    columns = getattr(run.model, "columns", None)
    if run.task_kind == "seq2seq" or task.kind == "seq2seq":  # two inputs; _test_metrics compares vocabularies
        if task.kind != run.task_kind:
            raise ConfigError("data", f"data={data_name} has {_KIND_NAMES[task.kind]} but the model in {run.run_dir} "
                              f"is for {_KIND_NAMES[run.task_kind]}.")
        return
    if columns and "series" not in columns:  # a model of raw CSV columns: the same columns, of the same kinds
        _check_columns(run, columns, inputs, data_name, data_cfg)
    elif tuple(inputs.shape) != run.example_shape:
        raise ConfigError("data", f"data={data_name} has {_shape(inputs.shape)} inputs but the model in {run.run_dir} "
                          f"takes {_shape(run.example_shape)}; evaluate it on data with the same input shape.")
    if task.kind != run.task_kind:
        raise ConfigError("data", f"data={data_name} has {_KIND_NAMES[task.kind]} but the model in {run.run_dir} "
                          f"predicts {_KIND_NAMES[run.task_kind]}.")
    if task.kind == "multiclass" and task.num_outputs != int(run.model.output_shape[-1]):
        raise ConfigError("data", f"data={data_name} has {task.num_classes} classes but the model predicts "
                          f"{int(run.model.output_shape[-1])}; pick a dataset (or data.classes=[...]) with as many.")


def _check_columns(run: OpenRun, columns: dict, inputs, data_name: str, data_cfg) -> None:
    kind = getattr(run.model, "input_kind", None)
    if inputs.kind != kind:
        raise ConfigError("data", f"data={data_name} has {inputs.kind} inputs but the model in {run.run_dir} reads "
                                  f"{kind} (raw CSV columns); evaluate it on a CSV like its training file.")
    if kind == "table" and data_cfg is not None:
        layout = registry.dataset(data_cfg.name).load(data_cfg, 0).columns or {}
        for group in ("numeric", "categorical"):
            wanted, given = [c["name"] for c in columns.get(group, [])], layout.get(group, [])
            if sorted(wanted) != sorted(given):
                raise ConfigError("data", f"the model in {run.run_dir} reads the {group} columns "
                                          f"{', '.join(wanted) or '(none)'}; data={data_name} has "
                                          f"{', '.join(given) or '(none)'} (declare kinds with data.numeric=[...], "
                                          f"data.categorical=[...], data.drop=[...]).")


def _shape(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def evaluate_run(run_dir: str, overrides: Sequence[str] = ()) -> tuple[dict[str, Any], Path]:
    """Evaluate the run's model on the test split and write the result file.

    Args:
        run_dir: A finished run dir.
        overrides: ``data=<option>`` / ``data.<key>=<value>`` overrides.

    Returns:
        The content written (data, overrides, test metrics) and the path of the file.

    Raises:
        BmrunError: Bad run dir, bad override, incompatible or unreadable data.
    """
    # bmrun.config brings numpy: only when this runs, keeps --help light
    from bmrun.config import validate
    from bmrun.data.catalog import describe

    run = open_run(run_dir, "bmrun-eval")
    config = validate(data_overrides(run.cfg, overrides))
    task, inputs = describe(config.data)
    check_compatible(run, task, inputs, config.data.name, config.data)
    test = _test_metrics(run.model, config)
    fairness = test.pop("_fairness")
    result = {"run_dir": str(run.run_dir), "data": config.data.name, "overrides": list(overrides),
              "num_examples": int(test.pop("_count")), "test": test}
    if fairness:  # data.sensitive: the per-group reports, as in the run's metrics.json
        result["fairness"] = fairness
    out = run.run_dir / ("eval.json" if not overrides else f"eval-{config.data.name}.json")
    atomic_write_json(out, result)
    return result, out


def _test_metrics(model, config) -> dict[str, Any]:
    """The training run's own final test (:class:`~bmrun.training.evaluator.Evaluator`): the same
    data, loss, metric code, ranking, robust accuracy and test-time augmentation."""
    from bmrun.training.job import build_evaluation  # TensorFlow: after the argument checks

    evaluator = build_evaluation(config, model)
    own = (getattr(model, "columns", None) or {}).get("vocabulary")
    if own is not None and own != evaluator.data.columns["vocabulary"]:
        raise ConfigError("data", f"these text pairs' training split gives another vocabulary than the model's "
                                  f"({len(evaluator.data.columns['vocabulary'])} vs {len(own)} tokens); bmrun-eval "
                                  f"scores a text-pair model on the data it was trained from (its test split).")
    evaluation = evaluator.test()
    metrics = dict(evaluation.metrics)
    per_class = evaluator.per_class(evaluation)
    if per_class is not None:  # as the training run's test.per_class
        metrics["per_class"] = per_class
    return {**metrics, "_count": len(evaluator.data.test), "_fairness": evaluation.fairness}


def print_eval(result: dict[str, Any]) -> None:
    # rich's tables: only when printing results, not for --help
    from rich.table import Table

    console.out.print(f"[bold]bmrun eval[/]: data={result['data']}, test split, {result['num_examples']} examples")
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result["test"].items():
        if not isinstance(value, dict):  # per_class: in the written file
            table.add_row(key, console.fmt(value))
    console.out.print(table)


@console_script
def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point of ``bmrun-eval``."""
    parser = finished_run_parser(
        "bmrun-eval", "Evaluate a finished run's model on the test split of its data, or of another dataset with "
        "the same input shape and classes; writes <run dir>/eval.json.", "data=mnist data.path=~/data/mnist.npz")
    parser.add_argument("overrides", nargs="*", help="data=<option> and data.<key>=<value> overrides")
    args = parser.parse_args(argv)
    result, out = evaluate_run(args.run_dir, args.overrides)
    print_eval(result)
    console.out.print(f"wrote {out}")


if __name__ == "__main__":
    main()
