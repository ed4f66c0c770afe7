"""``data=audio_folder data.path=<dir>``: your own WAV clips, one subfolder per class.

The folder's layout and split are those of an image folder (:func:`bmrun.data.image_files.scan_folder`:
``train/``/``test/`` (and ``val/``) folders, or a fixed stratified split); class names are the
subfolder names. Every clip is read once (:mod:`bmrun.data.wav`: mixed down to mono, resampled
to ``data.sample_rate``, padded with silence or cut to ``data.duration`` seconds: by default 1 s
for class folders, and for speech to text the longest training clip, so no transcript is cut) and kept
resident as float32 waveforms, or, when they would take more than ``data.memory_budget``, read
again from disk in the tf.data pipeline every epoch (:mod:`bmrun.data.audio_stream`). The examples are raw waveforms: the model computes its own
log-mel spectrogram (:mod:`bmrun.models.audio`), so a saved model takes audio samples.

An unreadable clip (not a WAV, no samples, a compressed encoding) stops the run naming it,
unless ``data.on_bad_file=skip`` (then clips are left out and counted).
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional
from pathlib import Path

import numpy as np

from bmrun.data.arrays import RawData
from bmrun.data.audio_stream import FileClips
from bmrun.data.catalog import BINARY, IMAGE, MULTICLASS, InputSpec
from bmrun.data.dataset import DataConfig
from bmrun.data.image_files import FileKind, scan_folder
from bmrun.data.image_folder import class_task, parse_bytes
from bmrun.errors import ConfigError, DataError
from bmrun.rules import at_least, choice, in_unit_interval
from bmrun.specs import AUDIO, CTC, TaskSpec
from bmrun.data.transcripts import encode, read_transcripts
from bmrun.data.wav import BadClip, fit_length, header_length, read_wav

log = logging.getLogger("bmrun")
CLIPS = FileKind("clips", (".wav",), "WAV", "audio_folder", "an audio folder")


@dataclass
class AudioFolderConfig(DataConfig):
    """``data=audio_folder``.

    Attributes:
        sample_rate: Every clip is resampled to this rate (Hz).
        duration: Every clip is padded with silence or cut to this many seconds; null: the longest
            training clip, rounded up to 0.1 s (the default of speech to text, whose transcripts a
            cut would lose). Cut clips are counted in the run's notes.
        n_mels: Mel bands of the log-mel spectrogram the model computes from the waveform.
        frame_ms, hop_ms: Length and step of the spectrogram's analysis frames (milliseconds).
        test_fraction: Share of each class set aside as the test split (folders without ``test/``).
        memory_budget: Largest size of the float32 waveforms of all splits held in memory; above
            it the clips are read from disk every epoch (streaming).
        on_bad_file: ``error`` (stop, naming the file) or ``skip`` (leave it out and count it).
        task: ``auto`` (two class folders: binary; more: multiclass), ``binary`` or ``multiclass``.
        transcripts: A CSV of ``file``, ``text`` rows (relative to ``data.path``): speech to text,
            a ``ctc`` task (see :mod:`bmrun.data.transcripts`), instead of class folders.
    """

    batch_size: int = 32
    eval_batch_size: int = 128
    sample_rate: int = 16000
    duration: Optional[float] = 1.0  # null: the longest training clip (speech to text's default)
    n_mels: int = 40
    frame_ms: float = 25.0
    hop_ms: float = 10.0
    test_fraction: float = 0.2
    memory_budget: str = "2GiB"
    on_bad_file: str = "error"  # error | skip
    task: str = "auto"  # auto | binary | multiclass
    transcripts: Optional[str] = None  # a CSV of file,text rows: speech to text (ctc)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.path:
            raise ConfigError("path", "data=audio_folder needs data.path=<folder> (one subfolder per class "
                              "holding .wav clips, optionally under train/ and test/)")
        at_least("sample_rate", self.sample_rate, 1000)
        at_least("n_mels", self.n_mels, 1)
        if self.duration is not None and not self.duration > 0:
            raise ConfigError("duration", f"is the length of every clip in seconds, > 0 (or null: the longest "
                              f"training clip); got {self.duration}")
        if not 0 < self.hop_ms <= self.frame_ms:
            raise ConfigError("hop_ms", f"must be > 0 and at most frame_ms={self.frame_ms}; got {self.hop_ms}")
        if self.duration is not None and clip_samples(self) < frame_samples(self)[0]:
            raise ConfigError("duration", f"{self.duration} s is shorter than one {self.frame_ms} ms frame")
        choice("on_bad_file", self.on_bad_file, ("error", "skip"))
        choice("task", self.task, ("auto", BINARY, MULTICLASS))
        in_unit_interval("test_fraction", self.test_fraction)
        parse_bytes(self.memory_budget)



# Functions of the config rather than properties: they also read a run dir's plain config.
def clip_samples(cfg) -> int:
    """Samples per clip."""
    return int(round(cfg.sample_rate * clip_seconds(cfg)))


def clip_seconds(cfg) -> float:
    """``data.duration``, or when it is null the longest training clip rounded up to 0.1 s."""
    if cfg.duration is not None:
        return float(cfg.duration)
    key = (*_layout_key(cfg), int(cfg.sample_rate))
    if key not in _longest:
        lengths = [header_length(p, cfg.sample_rate) for p in layout_of(cfg).splits["train"][0]]
        longest = max((n for n in lengths if n), default=1) / cfg.sample_rate
        # round() first: 1.2 s must stay 1.2, not become 1.3 through 12.000000001 tenths
        _longest[key] = max(1, math.ceil(round(longest * 10, 6))) / 10
    return _longest[key]


def frame_samples(cfg) -> tuple[int, int]:
    """The spectrogram's analysis window and hop, in samples."""
    return max(2, int(round(cfg.sample_rate * cfg.frame_ms / 1000))), max(1, int(round(cfg.sample_rate * cfg.hop_ms / 1000)))


def front(cfg) -> dict:
    """The model's own audio front end (saved with the model, read back by ``bmrun-predict``)."""
    length, step = frame_samples(cfg)
    return {"audio": {"sample_rate": int(cfg.sample_rate), "frame_length": length, "frame_step": step,
                      "n_mels": int(cfg.n_mels)}}


def spectrogram_spec(cfg) -> InputSpec:
    """The image the model's families read: ``(frames, n_mels, 1)`` (see :mod:`bmrun.models.audio`)."""
    return InputSpec(IMAGE, (-(-clip_samples(cfg) // frame_samples(cfg)[1]), int(cfg.n_mels), 1), spectrogram=True)


_layouts: dict = {}  # (path, test_fraction, ...) -> FolderLayout: validation and loading scan once
_longest: dict = {}  # (path, ..., sample_rate) -> seconds of data.duration=null: headers read once


def _layout_key(cfg) -> tuple:
    return str(Path(cfg.path).expanduser().resolve()), cfg.test_fraction, cfg.transcripts, cfg.on_bad_file


def layout_of(cfg):
    """The folder's :class:`FolderLayout`, or with ``data.transcripts`` its :class:`TranscriptLayout`."""
    key = _layout_key(cfg)
    if key not in _layouts:
        _layouts.clear()
        if cfg.transcripts:
            _layouts[key] = read_transcripts(cfg.path, cfg.transcripts, cfg.test_fraction, cfg.on_bad_file)
        else:
            _layouts[key] = scan_folder(cfg.path, cfg.test_fraction, CLIPS)
    return _layouts[key]


def read_clips(paths, cfg, keep: bool = True) -> tuple[Optional[np.ndarray], list]:
    """Every clip of ``paths`` as a ``(clips, samples)`` float32 array, and the unreadable ones.

    Args:
        keep: False: only check that every clip reads (a streamed folder); no array is returned.

    Returns:
        The waveforms of the readable clips (in order; None unless ``keep``) and
        ``[(index, message), ...]`` of the rest.
    """

    def one(path):
        try:
            wave = fit_length(read_wav(path, cfg.sample_rate), clip_samples(cfg))
            return wave if keep else None
        except BadClip as error:
            return error

    with ThreadPoolExecutor(max_workers=4) as pool:  # FFT resampling and file reads release the GIL
        results = list(pool.map(one, paths))
    bad = [(i, str(r)) for i, r in enumerate(results) if isinstance(r, BadClip)]
    if not keep:
        return None, bad
    good = [r for r in results if not isinstance(r, BadClip)]
    waves = np.stack(good).astype(np.float32) if good else np.zeros((0, clip_samples(cfg)), np.float32)
    return waves, bad


def load(cfg, seed: int) -> RawData:
    """Read every clip once: resident float32 waveforms, or :class:`FileClips` to stream above the budget."""
    layout = layout_of(cfg)
    names = list(layout.splits)
    paths = np.concatenate([layout.splits[s][0] for s in names])
    if cfg.transcripts:
        texts = [t for s in names for t in layout.splits[s][1]]
        labels = encode(texts, layout.alphabet)
        what = f"transcribed clips ({len(layout.alphabet)} characters)"
        if layout.skipped:
            log.warning("skipped %d transcript rows; the first: %s", len(layout.skipped), layout.skipped[0])
    else:
        labels = np.concatenate([layout.splits[s][1] for s in names])
        what = f"clips of {len(layout.classes)} classes"
    size = len(paths) * clip_samples(cfg) * 4  # the float32 waveforms of every split
    stream = size > parse_bytes(cfg.memory_budget)
    waves, bad = read_clips(paths, cfg, keep=not stream)
    fitted = "the longest training clip, " if cfg.duration is None else ""
    notes = [f"{len(paths)} {what} from {layout.root} ({fitted}{clip_seconds(cfg)} s at {cfg.sample_rate} Hz)"]
    note_cut(paths, cfg, notes)
    if stream:
        notes.append(f"streamed from disk (decoded size {size / 2**20:.0f} MiB > data.memory_budget="
                     f"{cfg.memory_budget})")
    if cfg.transcripts and layout.skipped:
        notes.append(f"skipped {len(layout.skipped)} transcript rows (data.on_bad_file=skip)")
    ok = np.ones(len(paths), bool)
    if bad:
        skip_bad(bad, cfg, notes)
        ok[[i for i, _ in bad]] = False
    split_of = np.concatenate([[i] * len(layout.splits[s][0]) for i, s in enumerate(names)])[ok]
    if stream:
        waves = FileClips(paths[ok], int(cfg.sample_rate), clip_samples(cfg))
    kept = labels[ok]
    arrays = {}
    for i, name in enumerate(names):
        mask = split_of == i
        if not mask.any():
            raise DataError(f"every clip of the {name} split of {layout.root} is unreadable.")
        arrays[name] = (waves[mask], kept[mask])
    val = arrays.get("val", (None, None))
    return RawData(*arrays["train"], *arrays["test"], val[0], val[1], notes="; ".join(notes))


def note_cut(paths, cfg, notes: list) -> None:
    """Count the clips longer than ``data.duration`` (their ends are cut) in the run's notes.

    Speech to text also warns: the words at the end of a cut clip are in its transcript but no
    longer in its audio, which teaches the model to write what it never heard.
    """
    lengths = [header_length(p, cfg.sample_rate) or 0 for p in paths]
    cut = sum(n > clip_samples(cfg) for n in lengths)
    if not cut:
        return
    line = (f"cut {cut} clips longer than data.duration={clip_seconds(cfg)} s (the longest: "
            f"{max(lengths) / cfg.sample_rate:.2f} s)")
    notes.append(line)
    if cfg.transcripts:
        log.warning("%s: their transcripts may name words the cut audio lost; data.duration=null fits the "
                    "longest training clip", line)


def skip_bad(bad: list, cfg, notes: list) -> None:
    """Stop on unreadable clips (one paragraph naming them), or count them with ``on_bad_file=skip``."""
    first = bad[0][1]
    more = f" ({len(bad) - 1} more unreadable clip{'s' if len(bad) > 2 else ''} after it)" if len(bad) > 1 else ""
    if cfg.on_bad_file == "error":
        raise DataError(f"{first}{more} Fix or remove {'them' if len(bad) > 1 else 'it'}, or pass "
                        f"data.on_bad_file=skip to leave unreadable clips out.")
    notes.append(f"skipped {len(bad)} unreadable clips (data.on_bad_file=skip)")
    log.warning("skipped %d unreadable clips; the first: %s", len(bad), first)


class AudioFolderDataset:
    """The ``audio_folder`` option: its specs come from the folder named by ``data.path``."""

    name = "audio_folder"
    config = AudioFolderConfig
    summary = "your WAV clips: data.path=<folder>/<class>/*.wav (train/, test/ optional)"
    package = "bmrun"
    builtin = True

    def specs(self, cfg):
        layout = layout_of(cfg)
        inputs = InputSpec(AUDIO, (clip_samples(cfg),))
        if cfg.transcripts:
            return TaskSpec(CTC, len(layout.alphabet) + 1, layout.class_names()), inputs
        return class_task(layout.classes, cfg.task), inputs

    def load(self, cfg, seed: int) -> RawData:
        raw = load(cfg, seed)
        raw.columns = front(cfg)
        return raw


DATASET = AudioFolderDataset()
