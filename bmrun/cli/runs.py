"""``bmrun-runs [DIR…]``: every run in one table; ``bmrun-runs diff A B``; ``bmrun-runs export --mlflow``.

Reads config.yaml and metrics.json only (see :mod:`bmrun.tracking`), so it answers without
TensorFlow; ``diff --plot`` loads matplotlib and ``export`` MLflow, each only when asked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from bmrun import console
from bmrun.cli.guard import console_script
from bmrun.tracking.query import QueryError
from bmrun.tracking import query, table
from bmrun.tracking.index import find_run_dirs, load_runs
import difflib
from bmrun.tracking.diff import load_run, plot, print_diff
from bmrun.tracking.mlflow_sink import default_uri, export_run_dirs

_EXAMPLES = """examples:
  bmrun-runs                                   every run under outputs/, newest first
  bmrun-runs --where "model.name=cnn and test.accuracy>0.9" --sort test.accuracy --top 5
  bmrun-runs --status completed --since 2d --md
  bmrun-runs diff outputs/A outputs/B --plot diff.png
  bmrun-runs export --mlflow [--uri sqlite:///mlflow.db]"""


def _list_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bmrun-runs", epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Every bmrun run under DIR (run dirs and sweeps, searched recursively) in one table: "
                    "status, date, duration, objective, metrics and the config keys that differ between "
                    "the runs shown. Subcommands: diff RUN_A RUN_B, export --mlflow.")
    parser.add_argument("dirs", nargs="*", metavar="DIR", default=["outputs"], help="folders to search (default: outputs)")
    parser.add_argument("--where", metavar="EXPR", help='filter, e.g. "model.name=cnn and test.accuracy>0.9" '
                        "(and, or, not, parentheses; = != < <= > >=)")
    parser.add_argument("--status", action="append", metavar="STATUS",
                        help="only runs with this status (completed, failed, unreadable, ...); repeatable")
    parser.add_argument("--since", metavar="AGE", help="only runs started within AGE, e.g. 12h, 2d, 1w")
    parser.add_argument("--sort", metavar="KEY", help="best first by KEY, e.g. test.accuracy, objective, "
                        "duration_s (default: newest first)")
    parser.add_argument("--reverse", action="store_true", help="reverse the order")
    parser.add_argument("--top", metavar="N", type=int, help="show only the first N runs")
    parser.add_argument("--metric", action="append", metavar="KEY",
                        help="metric columns to show (default: test/val accuracy or mse); repeatable")
    parser.add_argument("--all-keys", action="store_true", help="show every config key, not only those that differ")
    parser.add_argument("--no-index", action="store_true", help="read every run dir again; write no index")
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--md", dest="fmt", action="store_const", const="md", help="Markdown table")
    formats.add_argument("--csv", dest="fmt", action="store_const", const="csv", help="CSV")
    formats.add_argument("--json", dest="fmt", action="store_const", const="json",
                         help="JSON: every run with its metrics and whole config")
    return parser


def _roots(dirs: Sequence[str]) -> list[Path]:
    roots = [Path(d).expanduser() for d in dirs]
    for root in roots:
        if not root.is_dir():
            raise QueryError(f"{root}: no such folder; pass the folder of your runs, e.g. outputs")
    return roots


def list_runs(argv: Sequence[str]) -> None:
    args = _list_parser().parse_args(argv)
    if args.top is not None and args.top < 1:
        raise QueryError(f"--top must be >= 1, got {args.top}")
    roots = _roots(args.dirs)
    runs = load_runs(roots, use_index=not args.no_index)
    everything = len(runs)
    if args.where:
        predicate = query.where(args.where, runs)
        runs = [run for run in runs if predicate(run)]
    if args.status:
        wanted = {status for item in args.status for status in item.split(",")}
        runs = [run for run in runs if run.status in wanted]
    if args.since:
        start = query.since(args.since)
        runs = [run for run in runs if run.date is not None and run.date >= start]
    if args.sort and runs and not any(run.has(args.sort) for run in runs):
        close = difflib.get_close_matches(args.sort, query.known_keys(runs), n=1, cutoff=0.5)
        raise QueryError(f"--sort: no run has the key {args.sort!r}" + (f"; did you mean {close[0]}?" if close else ""))
    runs = query.sort_runs(runs, args.sort, reverse=args.reverse)
    shown = runs[:args.top] if args.top else runs
    metrics = [key.replace("/", ".") for item in args.metric or () for key in item.split(",")]
    names = table.columns(shown, metrics, args.all_keys, args.sort)
    if args.fmt == "json":
        sys.stdout.write(table.json_text(shown))
    elif args.fmt == "csv":
        sys.stdout.write(table.csv_text(shown, names))
    elif args.fmt == "md":
        sys.stdout.write(table.markdown(shown, names))
    else:
        where = ", ".join(str(root) for root in roots)
        title = f"{where}: {len(shown)} of {everything} run{'s' if everything != 1 else ''}"
        console.out.print(table.rich_table(shown, names, title))
        note = table.shared_line(shown, args.all_keys)
        if note:
            console.out.print(f"[dim]{note}[/]")


def diff(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="bmrun-runs diff",
                                     description="The config keys and results that differ between two runs, "
                                                 "and their objective epoch by epoch.")
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    parser.add_argument("--plot", metavar="PNG", help="also draw the objective by epoch of both runs into PNG")
    args = parser.parse_args(argv)
    a, b = load_run(args.run_a), load_run(args.run_b)
    label_a, label_b = ("A: " + Path(args.run_a).name, "B: " + Path(args.run_b).name)
    print_diff(a, b, label_a, label_b)
    if args.plot:
        plot(a, b, label_a, label_b, Path(args.plot))
        console.out.print(f"plot {args.plot}")


def export(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="bmrun-runs export",
                                     description="Log finished run dirs to an MLflow tracking store (params, "
                                                 "metrics by epoch, tags, artifacts). A run exported before is "
                                                 "updated, not duplicated.")
    parser.add_argument("dirs", nargs="*", metavar="DIR", default=["outputs"], help="folders to search (default: outputs)")
    parser.add_argument("--mlflow", action="store_true", required=True, help="export to MLflow (the one target)")
    parser.add_argument("--uri", help="tracking URI (default: sqlite:///<folder of outputs>/mlflow.db)")
    args = parser.parse_args(argv)
    roots = _roots(args.dirs)
    run_dirs = [run_dir for root in roots for run_dir in find_run_dirs(root)]
    uri = args.uri or default_uri(roots[0])
    count = export_run_dirs(run_dirs, uri)
    console.out.print(f"{count} run{'s' if count != 1 else ''} exported to {uri}")


@console_script
def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point of ``bmrun-runs``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "diff":
        diff(argv[1:])
    elif argv and argv[0] == "export":
        export(argv[1:])
    else:
        list_runs(argv)


if __name__ == "__main__":
    main()
