"""What a task and an input are: the kinds, :class:`TaskSpec` and :class:`InputSpec` (no TensorFlow).

A foundation: the datasets produce these specs, the families and config checks read them, and
:mod:`bmrun.outputs` and :mod:`bmrun.fairness` decode outputs by task kind, so they live below
all of them. :mod:`bmrun.data.catalog` gives each dataset's specs (``describe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MULTICLASS, BINARY, REGRESSION = "multiclass", "binary", "regression"
# A class index for every pixel of an image (bmrun.tasks.segmentation): labels are [H, W] masks.
SEGMENTATION = "segmentation"
IMAGE, TOKENS, SEQUENCE, TABULAR = "image", "tokens", "sequence", "tabular"
# One (user id, item id) pair per example, ids kept as strings; the recommender families map them
# to embedding rows themselves (see bmrun.data.ratings).
INTERACTIONS = "interactions"
# Raw inputs that the model encodes itself (data=csv): a dict of named columns (numbers with
# NaN for missing, strings for categories), or one string per example.
TABLE, TEXT = "table", "text"
# Forecasting (data=timeseries): windows of (steps, columns) whose first columns are the targets;
# the model reads them relative to the last observed target values (see bmrun.models.series).
FORECAST, SERIES = "forecast", "series"


@dataclass(frozen=True)
class ForecastSpec:
    """What a forecast predicts: ``horizon`` steps of each target, and how its errors are scaled.

    Attributes:
        horizon: Steps ahead, forecast directly (one output per step and target).
        targets: The target columns (the first columns of each window).
        season: The seasonal-naive baseline's period (1: the naive forecast).
        mase_scale: Per target, the training block's mean absolute seasonal-naive error (MASE's
            denominator).
    """

    horizon: int
    targets: tuple[str, ...]
    season: int = 1
    mase_scale: tuple[float, ...] = ()
# Raw mono waveforms (samples,) that the model turns into a log-mel spectrogram itself
# (data=audio_folder; see bmrun.models.audio).
AUDIO = "audio"
# Speech to text (data=audio_folder data.transcripts=...): per-frame character logits, CTC loss.
CTC = "ctc"
# Several modalities at once (data=csv with data.images / a list of data.text): a dict of raw
# columns, image columns decoded to pixels (NaN where the image is absent). shape: (columns,).
MULTIMODAL = "multimodal"
# Text to text (data.target_text): one text in, one text out; the examples are token ids of both
# sides, {"source", "target_in"} (see bmrun.data.tokens), and the labels the target's ids.
SEQ2SEQ, TOKEN_PAIRS = "seq2seq", "token_pairs"


@dataclass(frozen=True)
class TaskSpec:
    """What the labels are.

    Attributes:
        kind: ``multiclass``, ``binary``, ``regression`` or ``ctc``.
        num_classes: Classes of a multiclass task (2 for binary; for ctc the blank and each
            character), else None.
        class_names: Human names for the classes, if any.
    """

    kind: str
    num_classes: Optional[int] = None
    class_names: Optional[tuple[str, ...]] = None
    forecast: Optional[ForecastSpec] = None  # forecast tasks only

    @property
    def is_classification(self) -> bool:
        return self.kind in (MULTICLASS, BINARY)

    @property
    def num_outputs(self) -> int:
        """Width of the model's last layer: one logit per class, one for binary or regression."""
        if self.forecast is not None:  # one value per horizon step and target
            return self.forecast.horizon * len(self.forecast.targets)
        return self.num_classes if self.kind in (MULTICLASS, SEGMENTATION, CTC, SEQ2SEQ) else 1


@dataclass(frozen=True)
class InputSpec:
    """What one example looks like.

    Attributes:
        kind: ``image`` (H, W, C), ``tokens`` (length,), ``sequence`` (steps, features),
            ``tabular`` (features,), ``table`` (a dict of raw columns; shape: (columns,)),
            ``text`` (one raw string; shape: (tokens,) after the model's own vectorisation),
            ``interactions`` ((2,): a user id and an item id, as strings) or ``audio``
            ((samples,): a waveform; the model computes its spectrogram) or ``token_pairs``
            ((source width, target width): ids of both sides of a text pair).
        shape: Shape of one example, without the batch axis.
        vocab_size: Token vocabulary size (``tokens`` only).
        dense: The body keeps its spatial features (feature maps, patch tokens) instead of
            pooling them: a dense head reads them (segmentation).
        spectrogram: An ``image`` that is the model's own log-mel spectrogram of a waveform
            (time x mel bands x 1), so a family may read it as sound rather than as a picture.
    """

    kind: str
    shape: tuple[int, ...]
    vocab_size: Optional[int] = None
    dense: bool = False
    spectrogram: bool = False
