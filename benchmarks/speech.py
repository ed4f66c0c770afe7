"""Speech by the plain commands, scored on voices the model never heard (espeak-ng, no download).

``benchmarks/speech_corpus.py`` writes ten digit words as a class-folder tree and digit strings
as a transcripts tree, in 104 voices of which a seeded 21 are held out as the test split. Then,
in fresh processes as a user would:

    bmrun data=audio_folder data.path=keywords                       (bar: accuracy >= 0.95)
    bmrun data=audio_folder data.path=digits data.transcripts=transcripts.csv model=rnn
                                                                     (bar: CER <= 0.10)

and the input pipeline: clips/s of reading the WAVs (decode, resample, pad) and of the model's
log-mel front end, against the keyword model's training step (bmrun's own samples/s).

    .venv/bin/python benchmarks/speech.py [--out DIR] [--skip-ctc | --skip-keywords] [extra overrides...]

The digit strings are 32 per voice (``--strings-per-voice``); an existing corpus under ``--out`` is
reused as it is, so delete ``DIR/digits`` after changing it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KEYWORDS = ["data=audio_folder"]
# The plain command: model=rnn with data.transcripts is the bidirectional GRU over every frame, and
# data.duration the longest training clip (tests/test_speech_defaults.py).
CTC = ["data=audio_folder", "data.transcripts=transcripts.csv", "model=rnn"]


def run(name: str, args: list[str], path: Path, work: Path, extra: list[str]) -> dict:
    run_dir = work / f"run_{name}"
    command = [sys.executable, "-m", "bmrun", *args, f"data.path={path}", *extra, "logger.progress_bar=false",
               f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        return {"name": name, "error": proc.stderr.strip()[-800:], "wall_s": wall}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    shown = " ".join(a for a in [*args, f"data.path={path.name}", *extra])
    return {"name": name, "command": f"bmrun {shown}", "wall_s": wall, "epochs": metrics["epochs"],
            "train_s": metrics.get("timings", {}).get("train_s", 0.0),
            "samples_per_s": metrics.get("train", {}).get("samples_per_s"), "test": metrics["test"]}


def pipeline_rates(folder: Path, batches: int = 20, batch_size: int = 32) -> dict:
    """Clips/s of reading the WAVs and of the log-mel front end alone, in this process."""
    import numpy as np

    from bmrun.config import compose, validate
    from bmrun.data.audio_folder import front, layout_of, read_clips

    config = validate(compose(["data=audio_folder", f"data.path={folder}"]))
    paths = layout_of(config.data).splits["train"][0][:batches * batch_size]
    start = time.perf_counter()
    waves, _ = read_clips(paths, config.data)
    decode = len(paths) / (time.perf_counter() - start)

    import tensorflow as tf

    from bmrun.models.audio import LogMel

    layer = LogMel(**front(config.data)["audio"])
    features = tf.function(layer)
    batch = tf.constant(waves[:batch_size])
    features(batch)  # tracing
    start = time.perf_counter()
    for i in range(0, len(waves) - batch_size + 1, batch_size):
        features(tf.constant(waves[i:i + batch_size])).numpy()
    return {"decode_clips_per_s": decode,
            "features_clips_per_s": (len(waves) // batch_size * batch_size) / (time.perf_counter() - start),
            "clips": int(len(paths)), "samples": int(np.prod(waves.shape[1:]))}


def table(rows: list[dict], rates: dict) -> str:
    lines = ["| command | held-out voices | bar | epochs | train s | wall s |", "|---|---|---|---|---|---|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['name']} | failed: {row['error'].splitlines()[-1]} | | | | |")
            continue
        test = row["test"]
        score = (f"accuracy {test['accuracy']:.3f}" if "accuracy" in test and "cer" not in test
                 else f"CER {test['cer']:.3f}, WER {test['wer']:.3f}")
        bar = ">= 0.95" if "cer" not in test else "CER <= 0.10"
        lines.append(f"| `{row['command']}` | {score} | {bar} | {row['epochs']} | {row['train_s']:.0f} | "
                     f"{row['wall_s']:.0f} |")
    step = next((r["samples_per_s"] for r in rows if r.get("name") == "keywords" and r.get("samples_per_s")), None)
    lines += ["", "| input pipeline (1 s clips) | clips/s |", "|---|---|",
              f"| reading WAVs (16-bit PCM at 16 kHz -> float, padded), once per run | {rates['decode_clips_per_s']:.0f} |",
              f"| log-mel front end alone (batches of 32) | {rates['features_clips_per_s']:.0f} |"]
    if step:
        lines.append(f"| the default CNN's training step, front end included (bmrun's samples/s) | {step:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bmrun-speech"))
    parser.add_argument("--per-voice", type=int, default=2, help="clips of each word per voice")
    # 8 strings a voice (664 training clips) never left CTC's all-blank output in 10 epochs; 32 (2,656)
    # give it enough steps and spellings (BENCHMARKS.md, "Speech: held-out espeak-ng voices").
    parser.add_argument("--strings-per-voice", type=int, default=32, help="digit strings per voice")
    parser.add_argument("--skip-ctc", action="store_true")
    parser.add_argument("--skip-keywords", action="store_true", help="speech to text only")
    parser.add_argument("extra", nargs="*", help="more overrides for every run")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    import speech_corpus

    if not speech_corpus.espeak():
        raise SystemExit("benchmarks/speech.py needs espeak-ng (apt-get install espeak-ng)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keywords, digits = args.out / "keywords", args.out / "digits"
    if not (keywords / "test").is_dir():
        speech_corpus.write_keywords(keywords, per_voice=args.per_voice)
    if not (digits / "transcripts.csv").is_file() and not args.skip_ctc:
        speech_corpus.write_digit_strings(digits, per_voice=args.strings_per_voice)
    rows = [] if args.skip_keywords else [run("keywords", KEYWORDS, keywords, args.out, args.extra)]
    if not args.skip_ctc:
        rows.append(run("ctc", CTC, digits, args.out, args.extra))
    print(table(rows, pipeline_rates(keywords)))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
