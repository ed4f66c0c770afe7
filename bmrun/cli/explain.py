"""``bmrun-explain <run dir> [--method M] [--n N] [inputs...]``: why the run's model predicts what it does.

Without inputs it explains the first ``--n`` examples of the run's own test split (tables: every
test row, for the global importance). Writes ``<run dir>/explain/`` (see
:mod:`bmrun.explain.report`) and the same pictures to TensorBoard.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from bmrun import console
from bmrun.cli.guard import console_script, finished_run_parser
from bmrun.data.catalog import IMAGE
from bmrun.explain import METHODS
from bmrun.run_dir import require_finished_run


def _test_split(run):
    from bmrun.config import validate
    from bmrun.data import load_prepared

    config = validate(run.cfg)
    return load_prepared(config.data, config.seed)


def explain(run_dir: str, method: str = "integrated_gradients", n: int = 16,
            inputs: Sequence[str] = ()) -> dict:
    """Explain ``n`` test examples (or ``inputs``) of the run at ``run_dir``; returns a summary."""
    from bmrun.cli.predict import _class_names, read_inputs
    from bmrun.models.loading import open_run
    from bmrun.outputs import predicted_classes_np

    require_finished_run(run_dir, "bmrun-explain")  # a typo fails before TensorFlow loads
    run = open_run(run_dir, "bmrun-explain")  # imports TensorFlow without its start-up noise
    from bmrun.explain.report import EXPLAIN, check_explainable, explain_images, explain_table, log_to_tensorboard

    kind = check_explainable(run.model, method)
    out = run.run_dir / EXPLAIN
    if kind != IMAGE:
        data = _test_split(run)
        x = np.asarray(data.test.x if not inputs else read_inputs(inputs, run.example_shape, "float32")[0])
        result = explain_table(run.model, x, run.task_kind, getattr(data, "feature_names", None), out)
        log_to_tensorboard(run.run_dir, "feature_importance", result.pop("picture_array"))
        return result
    if inputs:
        x, labels = read_inputs(inputs, run.example_shape, "float32")
    else:
        test = _test_split(run).test
        x, labels = test.x[:n].astype(np.float32), [f"test[{i}]" for i in range(min(n, len(test)))]
    outputs = np.asarray(run.model(x, training=False))
    names = _class_names(run.cfg)
    if run.task_kind == "regression":
        predicted = [f"{v:.3g}" for v in outputs[:, 0]]
    else:
        classes = predicted_classes_np(outputs, run.task_kind)
        predicted = [names[c] if names and c < len(names) else str(c) for c in classes]
    result = explain_images(run.model, x, run.task_kind, method, labels, predicted, out)
    log_to_tensorboard(run.run_dir, method, result.pop("picture_array"))
    return result


@console_script
def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point of ``bmrun-explain``."""
    parser = finished_run_parser(
        "bmrun-explain", "Attribution maps (images) or feature importance (tables) of a finished run's model, "
        "written to <run dir>/explain/ and TensorBoard.", "--method gradcam --n 8")
    parser.add_argument("--method", default="integrated_gradients", choices=METHODS)
    parser.add_argument("--n", type=int, default=16, help="test examples to explain (images; default 16)")
    parser.add_argument("inputs", nargs="*", help="image files or .npy arrays instead of the test split")
    args = parser.parse_args(argv)
    result = explain(args.run_dir, args.method, max(args.n, 1), args.inputs)
    for key, value in result.items():
        if key != "ranking":
            console.out.print(f"{key}: {value}")
    if "ranking" in result:
        console.out.print("most important: " + ", ".join(result["ranking"][:10]))


if __name__ == "__main__":
    main()
