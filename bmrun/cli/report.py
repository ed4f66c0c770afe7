"""``bmrun-report [DIR]``: compare finished runs, best first (see :mod:`bmrun.sweep.report`)."""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Optional, Sequence

from bmrun import console
from bmrun.cli.guard import console_script
from bmrun.errors import BmrunError
from bmrun.sweep.ablation import print_contributions
from bmrun.sweep.report import draw_frontier, print_report
from bmrun.sweep.summary import collect


class ReportError(BmrunError):
    title = "report error"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bmrun-report",
        description="Compare bmrun runs: one row per run dir (a folder with metrics.json) under DIR, "
                    "best first. Works on single runs, sweeps and folders of both.")
    parser.add_argument("dir", nargs="?", default="outputs", help="folder to search for runs (default: outputs)")
    parser.add_argument("--sort", metavar="KEY",
                        help="column to rank by, e.g. test/accuracy, val/loss, duration_s "
                             "(default: the runs' objective, usually val/accuracy or val/mse)")
    parser.add_argument("--reverse", action="store_true", help="worst first")
    parser.add_argument("--top", metavar="N", type=int, help="show only the N best")
    parser.add_argument("--format", choices=("table", "csv", "markdown"), default="table",
                        help="table (rich, default), csv (every column) or markdown")
    parser.add_argument("--importance", action="store_true",
                        help="rank the swept config keys by their effect on the objective (Optuna's fANOVA, "
                             "PED-ANOVA where available) and draw parallel coordinates")
    parser.add_argument("--plot", metavar="PNG", help="where --importance draws (default: DIR/parallel_coordinates.png)")
    return parser


def importance(root: Path, plot: Optional[str]) -> None:
    """``--importance``: the ranking table and the parallel-coordinates picture."""
    # the importance ranking and its picture: only for --importance (scikit-learn, matplotlib when drawn)
    from bmrun.explain.figures import pyplot
    from bmrun.sweep.importance import draw, print_importance, rank
    from bmrun.tracking.index import load_runs

    runs = load_runs([root])
    try:
        result = ranked_beside(rank, runs, prepare=pyplot)
    except ImportError as error:
        raise ReportError(f"--importance needs Optuna and scikit-learn ({error.name} is missing): "
                          f'pip install "bmrun[sweeps]"') from None
    print_importance(result)
    path = Path(plot) if plot else root / "parallel_coordinates.png"
    draw(runs, result, path)
    console.out.print(f"parallel coordinates {path}")


def ranked_beside(rank, runs, prepare):
    """``rank(runs)`` in a forked child while ``prepare()`` runs here.

    The ranking imports scikit-learn (about a second) and the picture imports matplotlib: on a
    second core they overlap, which keeps a 1,000-trial ``--importance`` under 2 s. Only on Linux
    (fork after NumPy is unsafe with some BLAS builds elsewhere) and only with nothing threaded yet;
    anything the child cannot send back is ranked again here, so errors surface as they would.
    """
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        prepare()
        return rank(runs)
    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: rank, send the result (or the error) back, leave without cleanup
        os.close(read)
        try:
            payload = pickle.dumps(("ok", rank(runs)))
        except ImportError as error:
            payload = pickle.dumps(("import", error.name))
        except BaseException:  # every other outcome is reproduced in the parent, which reports it
            payload = b""
        with os.fdopen(write, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write)
    prepare()
    with os.fdopen(read, "rb") as answer:
        payload = answer.read()
    os.waitpid(pid, 0)
    if not payload:
        return rank(runs)
    status, value = pickle.loads(payload)
    if status == "import":
        raise ImportError(f"No module named {value!r}", name=value)
    return value


@console_script
def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console-script entry point of ``bmrun-report``."""
    args = _parser().parse_args(argv)
    root = Path(args.dir).expanduser()
    if not root.is_dir():
        raise ReportError(f"{args.dir}: no such folder")
    if args.top is not None and args.top < 1:
        raise ReportError(f"--top must be >= 1, got {args.top}")
    if args.importance:
        importance(root, args.plot)
        return
    rows = collect(root)
    if not rows:
        error = ReportError(f"no runs under {args.dir} (a run dir holds metrics.json)")
        error.exit_code = 1
        raise error
    if args.sort and not any(args.sort in row for row in rows):
        known = sorted({key for row in rows for key in row} - {"job", "run_dir", "error", "overrides"})
        raise ReportError(f"--sort {args.sort}: no run has that column; try one of {', '.join(known)}")
    print_report(root, rows, sort_key=args.sort, top=args.top, reverse=args.reverse, fmt=args.format)
    if args.format == "table":  # runs measured for fairness (data.sensitive): their accuracy/gap frontier
        drawn = draw_frontier(root, rows)
        if drawn is not None:
            console.out.print(f"accuracy/fairness frontier {drawn}")
    print_contributions(rows, args.format)  # a data.drop_modality sweep: what each modality brings


if __name__ == "__main__":
    main()
