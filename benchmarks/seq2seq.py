"""Sequence to sequence on a pair set that needs grammar: numbers to French words.

``benchmarks/seq2seq.py`` writes ``numbers_fr.csv``: each integer from 0 to 19,999 in digits
(``en``) and in French words (``fr``), whose rules are irregular (``vingt et un`` but
``vingt-deux``; ``soixante-dix`` for 70, ``quatre-vingts`` for 80 but ``quatre-vingt-un``;
``deux cents`` but ``deux cent un``; ``mille`` never takes an s). Each number appears once, so the
test split's numbers (a seeded 20%) were never seen in training: the model must have learnt the
rules. Then it trains the transformer and the RNN encoder–decoder side by side in fresh
processes, as a user would, and prints a Markdown table (exact match, BLEU, chrF, wall time)
with a copy baseline's BLEU (the output is the source itself).

    .venv/bin/python benchmarks/seq2seq.py [--out DIR] [--epochs N]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UNITS = ("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
         "dix-sept dix-huit dix-neuf").split()
TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def below_hundred(n: int) -> str:
    """0-99 in French words (1990 spelling conventions left aside: the traditional hyphenation)."""
    if n < 20:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix..., quatre-vingt-dix...: 60 or 80 plus 10-19
        base = "soixante" if tens == 7 else "quatre-vingt"
        rest = 10 + unit
        joiner = " et " if (tens == 7 and unit == 1) else "-"
        return base + joiner + UNITS[rest]
    if tens == 8:
        return "quatre-vingts" if unit == 0 else "quatre-vingt-" + UNITS[unit]
    if unit == 0:
        return TENS[tens]
    return TENS[tens] + (" et un" if unit == 1 else "-" + UNITS[unit])


def below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return below_hundred(rest)
    head = "cent" if hundreds == 1 else UNITS[hundreds] + (" cents" if rest == 0 else " cent")
    return head if rest == 0 else head + " " + below_hundred(rest)


def french(n: int) -> str:
    """``n`` (0-999,999) in French words: ``quatre-vingts`` and ``cents`` lose their s before more."""
    thousands, rest = divmod(n, 1000)
    if thousands == 0:
        return below_thousand(rest)
    head = "mille" if thousands == 1 else below_thousand(thousands).replace("vingts", "vingt").replace(
        "cents", "cent") + " mille"
    return head if rest == 0 else head + " " + below_thousand(rest)


def write_pairs(path: Path, count: int = 20000) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["en", "fr"])
        writer.writerows((str(n), french(n)) for n in range(count))
    return path


FAMILIES = {
    "transformer": ["model=transformer", "model.decoder_layers=2"],
    "rnn": ["model=rnn", "model.decoder=attention"],
}


def run(family: str, pairs: Path, work: Path, extra: list[str]) -> dict:
    run_dir = work / family
    command = [sys.executable, "-m", "bmrun", *FAMILIES[family], "data=csv", f"data.path={pairs}",
               "data.source=en", "data.target_text=fr", *extra, f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        return {"family": family, "error": proc.stderr.strip()[-500:], "wall_s": wall}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    shown = " ".join(c for c in command[3:] if not c.startswith(("hydra.", "data.path=")))
    timings = metrics.get("timings", {})
    return {"family": family, "command": f"bmrun {shown}", "wall_s": wall, "epochs": metrics["epochs"],
            "train_s": timings.get("train_s", 0.0), "test_s": timings.get("test_s", 0.0),
            **{k: metrics["test"].get(k) for k in ("exact_match", "bleu", "chrf", "token_accuracy")}}


def copy_baseline(pairs: Path) -> float:
    """BLEU of writing the source (the digits) as the output, on the same test split."""
    import sacrebleu

    from bmrun.config import compose, validate
    from bmrun.data.pairs import load_pairs

    config = validate(compose(["model=transformer", "model.decoder_layers=2", "data=csv", f"data.path={pairs}",
                               "data.source=en", "data.target_text=fr"]))
    raw = load_pairs(config.data)
    return float(sacrebleu.corpus_bleu(list(raw.x_test), [list(raw.y_test)]).score)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--families", default="transformer,rnn")
    parser.add_argument("extra", nargs="*", help="more overrides for every run")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bmrun-seq2seq-"))
    work.mkdir(parents=True, exist_ok=True)
    pairs = write_pairs(work / "numbers_fr.csv")
    rows = [run(f, pairs, work, args.extra) for f in args.families.split(",")]
    print("| command | exact match | BLEU | chrF | epochs | train s | test (decoding) s | wall s |\n"
          "|---|---|---|---|---|---|---|---|")
    for row in rows:
        if "error" in row:
            print(f"| {row['family']} | failed: {row['error']} |")
            continue
        print(f"| `{row['command']}` | {row['exact_match']:.3f} | {row['bleu']:.1f} | {row['chrf']:.1f} | "
              f"{row['epochs']} | {row['train_s']:.0f} | {row['test_s']:.0f} | {row['wall_s']:.0f} |")
    print(f"| copy baseline (output = source) | 0.000 | {copy_baseline(pairs):.1f} | | | | | |")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
