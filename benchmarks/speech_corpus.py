"""Real speech without a download: espeak-ng reads keywords and digit strings in many voices.

A *voice* is an espeak-ng language voice (English accents, and German and Dutch voices reading
English) with one of its variants (``+m1`` ... ``+m7``, ``+f1`` ... ``+f5``, or none). Each clip
draws its speed, pitch, start offset, loudness and background noise (white noise at 5-30 dB
SNR). A seeded share of the voices is *held out*: their clips are the test split only, so the
test scores speakers the model never heard.

Two trees, each the layout a user would have:

* ``keywords/train/<word>/*.wav`` and ``keywords/test/<word>/*.wav`` (``data=audio_folder``);
* ``digits/*.wav`` with ``digits/transcripts.csv`` (``file,text,split``: ``data.transcripts``).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LANGUAGES = ("en", "en-us", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-us-nyc", "de", "nl")
VARIANTS = ("",) + tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 6))
RATE = 16000


def espeak() -> str | None:
    """The espeak-ng executable, or None where it is not installed."""
    return shutil.which("espeak-ng")


def voices(held_out: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Every language x variant voice, split into (training voices, held-out voices)."""
    every = [f"{lang}+{variant}" if variant else lang for lang in LANGUAGES for variant in VARIANTS]
    order = np.random.default_rng(seed).permutation(len(every))
    n_out = max(1, int(round(held_out * len(every))))
    out = sorted(every[i] for i in order[:n_out])
    return [v for v in every if v not in out], out


def say(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's rendering of ``text`` as float samples at :data:`RATE`, silence trimmed."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as handle:
        subprocess.run([espeak(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", handle.name, text],
                       check=True, capture_output=True)
        with wave.open(handle.name) as clip:
            rate = clip.getframerate()
            samples = np.frombuffer(clip.readframes(clip.getnframes()), "<i2").astype(np.float64) / 32768
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    samples = samples[loud[0]:loud[-1] + 1] if len(loud) else samples
    # Linear interpolation is enough for a 22,050 -> 16,000 Hz copy of synthetic speech.
    times = np.arange(int(len(samples) * RATE / rate)) * rate / RATE
    return np.interp(times, np.arange(len(samples)), samples)


def render(text: str, voice: str, rng: np.random.Generator, lead_s: float = 0.15) -> np.ndarray:
    """One noisy clip: a random speed, pitch, loudness, start offset and noise level."""
    speech = say(text, voice, int(rng.integers(140, 200)), int(rng.integers(25, 75)))
    lead = np.zeros(int(rng.uniform(0, lead_s) * RATE))
    clip = np.concatenate([lead, speech * rng.uniform(0.3, 1.0), np.zeros(int(0.05 * RATE))])
    power = np.mean(speech ** 2) * 10 ** (-rng.uniform(5, 30) / 10)
    return clip + rng.normal(0, np.sqrt(power), len(clip))


def _write(jobs, seed: int) -> None:
    # Imported here: the corpus writer is run from the checkout, bmrun on its path.
    from bmrun.data.wav import write_wav

    def one(job):
        index, (path, text, voice) = job
        rng = np.random.default_rng([seed, index])
        write_wav(path, np.clip(render(text, voice, rng), -1, 1), RATE)

    with ThreadPoolExecutor(max_workers=4) as pool:  # espeak-ng runs as its own process
        list(pool.map(one, enumerate(jobs)))


def write_keywords(root: Path, per_voice: int = 2, seed: int = 0, words=WORDS, voice_split=None) -> Path:
    """``root/{train,test}/<word>/<voice>-<n>.wav``: ``per_voice`` clips of each word by each voice."""
    train, test = voice_split or voices(seed=seed)
    jobs = []
    for split, names in (("train", train), ("test", test)):
        for word in words:
            (root / split / word).mkdir(parents=True, exist_ok=True)
            jobs += [(root / split / word / f"{voice.replace('+', '_')}-{n}.wav", word, voice)
                     for voice in names for n in range(per_voice)]
    _write(jobs, seed)
    return root


def write_digit_strings(root: Path, per_voice: int = 12, seed: int = 0, lengths=(2, 4), voice_split=None) -> Path:
    """``root/<voice>-<n>.wav`` saying 2-4 digit words, and ``root/transcripts.csv`` with a split column."""
    train, test = voice_split or voices(seed=seed)
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows, jobs = [], []
    for split, names in (("train", train), ("test", test)):
        for voice in names:
            for n in range(per_voice):
                text = " ".join(rng.choice(WORDS, size=int(rng.integers(lengths[0], lengths[1] + 1))))
                name = f"{voice.replace('+', '_')}-{n}.wav"
                rows.append((name, text, split))
                jobs.append((root / name, text, voice))
    _write(jobs, seed + 1)
    with open(root / "transcripts.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text", "split"])
        writer.writerows(rows)
    return root
