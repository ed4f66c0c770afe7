"""Everything bmrun prints: config tree, live progress, per-epoch lines, results and errors.

Progress and the config tree go to stderr, the results table to stdout, so
``bmrun ... > results.txt`` keeps the results and the terminal keeps the bar. Off a terminal
(a pipe, a log file, a cluster's job output) nothing is hard-wrapped: lines stay whole and
tables take ``COLUMNS`` or a wide default. Whatever is printed is also logged (logger
``bmrun.console``, INFO), which is how it reaches the run's ``bmrun.log``.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import sys
import time
from typing import Any, Mapping, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

# Wide enough for the results table's columns and a run dir's path on one line.
WIDE = 200
_log = logging.getLogger("bmrun.console")


class _Console(Console):
    """A console that goes quiet when its reader goes away (``bmrun ... 2>&1 | head``).

    Rich's default ends the process (``SystemExit(1)``) at the first write into a closed pipe:
    a training run piped into ``head`` would stop mid-epoch with its run dir unfinished. The
    run matters more than its console: writes from then on go to /dev/null, and the run ends
    as it would have, its results in the run dir.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, (sys.stderr if self.stderr else sys.stdout).fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def _make(stderr: bool) -> _Console:
    """A console that wraps at the terminal's edge, and never off a terminal (pipes, log files)."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty or os.environ.get("COLUMNS"):
        return _Console(stderr=stderr, highlight=False)
    return _Console(stderr=stderr, highlight=False, width=WIDE, soft_wrap=True)


out = _make(stderr=False)
err = _make(stderr=True)


def _record(renderable: Any) -> None:
    """Log what was printed as plain text (bmrun.log); skipped when no handler would keep it."""
    if not _log.isEnabledFor(logging.INFO):
        return
    if isinstance(renderable, str):
        text = Text.from_markup(renderable).plain
    else:
        buffer = io.StringIO()
        Console(file=buffer, width=WIDE, color_system=None, highlight=False).print(renderable)
        text = buffer.getvalue().rstrip()
    _log.info("%s", text)


def show(renderable: Any, *, stderr: bool = True) -> None:
    """Print to the terminal (stderr by default) and record the same text in the run's log."""
    (err if stderr else out).print(renderable)
    _record(renderable)


def print_config(config: Any, *, title: str = "config", full: bool = False) -> None:
    """Show the config as a tree: one branch per group, its values on one line.

    Compact by default: each group's option and the keys that differ from that option's
    defaults. ``full`` (a mapping is always shown in full) lists every key that is set;
    ``bmrun --cfg job`` shows all of them, nulls included.
    """
    tree = Tree(f"[bold]{title}[/]")
    groups = _differences(config) if dataclasses.is_dataclass(config) and not full else None
    values = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config

    def line(node: Mapping[str, Any], prefix: str = "") -> list[str]:
        parts = []
        for key, value in node.items():
            if isinstance(value, Mapping):
                parts += line(value, f"{prefix}{key}.")
            elif value is not None:
                parts.append(f"{prefix}{key}=[green]{value}[/]")
        return parts

    top = []
    for key, value in (groups if groups is not None else values).items():
        if isinstance(value, Mapping):
            if value:  # a group left at its defaults, without an option name (logger): nothing to say
                tree.add(f"[cyan]{key}[/]  " + " ".join(line(value)))
        elif value is not None:
            top.append(f"{key}=[green]{value}[/]")
    if top:
        tree.add(" ".join(top))
    show(tree)


def _differences(config: Any) -> dict[str, Any]:
    """Each group's ``name`` and the keys that differ from its schema's defaults; changed top-level keys."""
    chosen: dict[str, Any] = {}
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value):
            chosen[item.name] = _changed(value, keep=("name",))
        elif item.default is not dataclasses.MISSING and value != item.default:
            chosen[item.name] = value
    return chosen


def _changed(value: Any, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    found = {}
    for item in dataclasses.fields(value):
        current = getattr(value, item.name)
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = dataclasses.MISSING  # a required key (the option's name): always shown
        if dataclasses.is_dataclass(current) and dataclasses.is_dataclass(default):
            nested = _changed(current)
            if nested:
                found[item.name] = nested
        elif item.name in keep or default is dataclasses.MISSING or current != default:
            found[item.name] = current
    return found


def print_error(title: str, message: str) -> None:
    """One paragraph, no traceback."""
    err.print(f"[bold red]bmrun {title}:[/] {message}", soft_wrap=True)
    _record(f"bmrun {title}: {message}")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def fmt_rate(samples_per_s: float) -> str:
    return f"{samples_per_s / 1000:.1f}k/s" if samples_per_s >= 1000 else f"{samples_per_s:.0f}/s"


class TrainingProgress:
    """A rich progress bar over training steps with live loss and throughput.

    Args:
        enabled: False prints only the per-epoch lines (``logger.progress_bar=false``).
        max_epochs: For the "epoch i/N" label.
    """

    def __init__(self, enabled: bool, max_epochs: int):
        self.enabled = enabled
        self.max_epochs = max_epochs
        self._progress: Optional[Progress] = None
        self._task = None

    def __enter__(self) -> "TrainingProgress":
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start_epoch(self, epoch: int, total_steps: int, done_steps: int = 0) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(f"epoch {epoch + 1}/{self.max_epochs}", total=total_steps,
                                             completed=done_steps, loss="-", rate="")

    def advance(self, steps: int, loss: float, samples_per_s: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=steps, loss=f"{loss:.4f}", rate=fmt_rate(samples_per_s))

    def epoch_line(self, epoch: int, train: Mapping[str, float], val: Mapping[str, float],
                   samples_per_s: float, seconds: float, note: str = "") -> None:
        """Print the permanent summary line of one epoch above the bar."""
        parts = [f"[bold]epoch {epoch + 1}/{self.max_epochs}[/]"]
        parts.append("train " + " ".join(f"{k} {fmt(v)}" for k, v in train.items()))
        if val:
            parts.append("val " + " ".join(f"{k} {fmt(val[k])}" for k in _headline(val)))
        parts.append(f"{fmt_rate(samples_per_s)} {seconds:.1f}s{note}")
        show("  |  ".join(parts))


def _headline(metrics: Mapping[str, float]) -> list[str]:
    keys = [k for k in ("loss", "accuracy", "pixel_accuracy", "mean_iou", "dice", "f1", "roc_auc", "pr_auc", "mse",
                        "rmse", "mae", "r2") if k in metrics]
    keys += [k for k in metrics if k.startswith(("recall_at_", "ndcg_at_"))]  # recommenders' ranking view
    keys += [k for k in ("token_accuracy", "exact_match", "bleu", "chrf") if k in metrics]  # text pairs, decoded
    keys += [k for k in ("cer", "wer") if k in metrics]  # speech to text: error rates of the greedy transcripts
    return keys or list(metrics)


def print_results(metrics: Mapping[str, Any], run_dir: str) -> None:
    """The short results table at the end of a run."""
    table = Table(title=f"bmrun results: {metrics.get('status', '?')}", title_justify="left")
    table.add_column("split")
    splits = [s for s in ("train", "val", "test") if isinstance(metrics.get(s), Mapping) and metrics[s]]
    keys: list[str] = []
    for split in splits:
        for key in _headline(metrics[split]) + [k for k in metrics[split] if k.startswith("adv_")]:
            if key not in keys and not isinstance(metrics[split][key], (dict, list)):
                keys.append(key)
    for key in keys:
        table.add_column(key, justify="right")
    for split in splits:
        table.add_row(_split_label(metrics, split), *[fmt(metrics[split].get(key, "")) for key in keys])
    show(table, stderr=False)
    speed = metrics.get("train", {}).get("samples_per_s")
    line = f"epochs {metrics.get('epochs')}  time {metrics.get('duration_s', 0):.1f}s"
    if speed:
        line += f"  speed {fmt_rate(speed)}"
    show(line, stderr=False)


def _split_label(metrics: Mapping[str, Any], split: str) -> str:
    """A results row's name; with trainer.test_with=best, which epoch's weights it shows.

    metrics.json's val is the tested weights' (their epoch's history row), train the last
    epoch's. Runs written before ``tested_epoch`` existed name only the test row's epoch.
    """
    if metrics.get("tested_weights") != "best":
        return split
    tested, last = metrics.get("tested_epoch"), metrics.get("epochs")
    if tested is None:
        best = metrics.get("best_epoch")
        return f"test (epoch {best} weights)" if split == "test" and best else split
    if split == "train":
        return f"train (epoch {last})" if last != tested else split
    return f"{split} (epoch {tested} weights)"


def print_next_steps(run_dir: str, status: str) -> None:
    """The last lines of every run, whatever its end: where it is and what to type next."""
    parent = os.path.dirname(os.path.abspath(run_dir)) or "."
    steps = [f"run dir   {run_dir}"]
    if status == "completed":
        # A text-pair run (it alone exports text_model.keras) reads texts, not files.
        texts = os.path.isfile(os.path.join(run_dir, "model", "text_model.keras"))
        inputs = '--text "..." | --file lines.txt' if texts else "<inputs.npy | images | clips.wav | rows.csv>"
        steps += [f"compare   bmrun-report {parent}",
                  f"predict   bmrun-predict {run_dir} {inputs}",
                  f"explain   bmrun-explain {run_dir}",
                  f"continue  bmrun resume={run_dir} trainer.max_epochs=<more>"]
    elif status in ("interrupted", "diverged"):
        steps.append(f"resume    bmrun resume={run_dir}")
    else:
        steps.append(f"log       {os.path.join(run_dir, 'bmrun.log')}")
    if status != "failed" or os.path.isdir(os.path.join(run_dir, "tensorboard")):
        steps.append(f"curves    tensorboard --logdir {run_dir}")
    steps.append(f"all runs  bmrun-report {parent}" if status != "completed" else "")
    show("\n".join(f"[dim]{step}[/]" for step in steps if step), stderr=status != "completed")


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start
