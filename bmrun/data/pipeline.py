"""tf.data input pipelines over arrays kept resident in memory.

The arrays live in CPU-side ``tf.Variable``s (captured by handle, never copied into a graph) and
each batch is one vectorised ``tf.gather`` of a slice of a per-epoch permutation. The order of
epoch ``e`` is a pure function of ``(seed, e)``, so a resumed run can skip exactly the batches
it already trained on and see the same examples next. Augmentation (``augment=``) is keyed
on ``(seed, epoch, batch index)`` for the same reason.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import tensorflow as tf

from bmrun.data.arrays import PreparedData, Split, take
from bmrun.data.audio_stream import FileClips, clip_dataset
from bmrun.data.augment import Augmenter
from bmrun.data.image_decode import cached_dataset, column_dataset, file_dataset

AUTOTUNE = tf.data.AUTOTUNE


class DataPipeline:
    """Builds the train/val/test datasets of one run.

    Args:
        data: Prepared splits.
        batch_size: Global training batch size.
        eval_batch_size: Batch size for validation and test.
        shuffle: Shuffle the training split every epoch.
        seed: Seed of the per-epoch permutations.
        limit_train_batches: Cap on training batches per epoch (0 = all).
        augment: The ``augment`` config group (random transforms of training images), or None.
        batch_plan: ``plan(x, y, epoch, index) -> batch``: turns each (augmented) training batch
            into the tuple the compiled step takes, in-graph (semi-supervised training adds an
            unlabeled batch and its views; pretraining makes the pretext inputs). None: ``(x, y)``.
        train_groups: The group id of each training example (``loss.fairness_group``), or None.
            Given, every training batch is ``(x, y, group_ids)``: the ids travel beside the
            labels for the fairness penalty and never reach the model.
    """

    def __init__(self, data: PreparedData, *, batch_size: int, eval_batch_size: int, shuffle: bool,
                 seed: int, limit_train_batches: int = 0, augment=None, batch_plan=None,
                 train_groups: Optional[np.ndarray] = None):
        self.data = data
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.augmenter = Augmenter.from_config(augment, seed)
        self.batch_plan = batch_plan
        full = math.ceil(len(data.train) / batch_size)
        self.steps_per_epoch = min(full, limit_train_batches) if limit_train_batches else full
        # Image or audio files too big to hold (image or audio folders over data.memory_budget) are read from
        # disk every epoch instead: train_dataset and eval_dataset decode them, batch_at cannot.
        # A table's image columns over data.memory_budget likewise (bmrun.data.image_column).
        self.streaming = _streamed(data.train.x)
        self._train_groups = None
        if not self.streaming:
            with tf.device("/cpu:0"):
                self._train_x, self._train_y = _resident(data.train)
                if train_groups is not None:
                    self._train_groups = tf.Variable(np.asarray(train_groups, np.int32), trainable=False,
                                                     name="train_groups")
        self._eval_tensors: dict = {}
        self._label_tensors: dict = {}  # streamed splits' labels (see _labels)

    def order(self, epoch: int) -> np.ndarray:
        """The training example order of ``epoch`` (0-based)."""
        n = len(self.data.train)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        return np.random.default_rng([self.seed, epoch]).permutation(n).astype(np.int64)

    def train_dataset(self, epoch: int, skip_batches: int = 0) -> tf.data.Dataset:
        """Batches of epoch ``epoch``, starting after ``skip_batches`` already-trained ones."""
        batch = self.batch_size
        order = self.order(epoch)[: self.steps_per_epoch * batch]
        if self.streaming:  # the same examples in the same order, decoded from their files
            return self._streamed_train(order[skip_batches * batch:], epoch, skip_batches)
        order = tf.constant(order[skip_batches * batch:])
        num_batches = self.steps_per_epoch - skip_batches
        x_var, y_var, groups = self._train_x, self._train_y, self._train_groups

        def gather(i):
            idx = order[i * batch:(i + 1) * batch]
            examples = (as_model_input(_gather(x_var, idx)), _gather(y_var, idx))
            return examples if groups is None else examples + (_gather(groups, idx),)

        dataset = tf.data.Dataset.range(num_batches).map(gather, num_parallel_calls=AUTOTUNE, deterministic=True)
        return self._finished(dataset, epoch, skip_batches).prefetch(AUTOTUNE).with_options(_options())

    def _streamed_train(self, order: np.ndarray, epoch: int, skip_batches: int) -> tf.data.Dataset:
        dataset = self._file_batches(self.data.train, self._labels("train"), order, self.batch_size)
        return self._finished(dataset, epoch, skip_batches).prefetch(AUTOTUNE).with_options(_options())

    def _finished(self, dataset: tf.data.Dataset, epoch: int, skip_batches: int) -> tf.data.Dataset:
        """Training batches augmented and planned (:meth:`finish`); indices count from the epoch's start."""
        if self.augmenter is None and self.batch_plan is None:
            return dataset
        return dataset.enumerate(start=skip_batches).map(
            lambda i, batch: self.finish(batch[0], batch[1], epoch, i, *batch[2:]), num_parallel_calls=AUTOTUNE,
            deterministic=True)

    def finish(self, x, y, epoch, index, *extra) -> tuple:
        """A gathered training batch as the step takes it: augmented (``augment=``), then planned.

        ``extra`` (the fairness group ids) travels unchanged after the planned batch.
        """
        if self.augmenter is not None and y.shape.rank == 3:  # masks (segmentation) move with their images
            x, y = self.augmenter.with_masks(x, y, epoch, tf.cast(index, tf.int64))
        elif self.augmenter is not None:
            x = self.augmenter(x, epoch, tf.cast(index, tf.int64))
        if self.batch_plan is not None:
            return tuple(self.batch_plan(x, y, tf.cast(epoch, tf.int64), tf.cast(index, tf.int64))) + extra
        return (x, y, *extra)

    def _labels(self, split: str):
        """A streamed split's labels as one CPU tensor, made once; its NumPy array becomes a view of
        it. Every epoch's dataset captures that tensor instead of copying the labels again, which
        for segmentation are masks, as large as the images' grey channel."""
        if split not in self._label_tensors:
            part: Split = getattr(self.data, split)
            if not (isinstance(part.y, np.ndarray) and part.y.dtype.kind in "biuf"):
                return part.y  # strings or ragged texts: each dataset converts them itself
            with tf.device("/cpu:0"):
                self._label_tensors[split] = tf.constant(part.y)
            part.y = np.asarray(self._label_tensors[split])
        return self._label_tensors[split]

    @staticmethod
    def _file_batches(part: Split, labels, order: np.ndarray, batch: int) -> tf.data.Dataset:
        if isinstance(part.x, dict):  # a table whose image columns are streamed: the other columns gathered
            dataset = column_dataset(part.x, labels, order, batch)
        elif isinstance(part.x, FileClips):  # audio folders: WAV clips read and resampled
            dataset = clip_dataset(part.x, labels, order, batch)
        elif part.x.cache is not None:  # data.cache: decoded rows from one memory-mapped file
            dataset = cached_dataset(part.x.cache, part.x.rows, labels, part.x.shape, order, batch)
        else:
            dataset = file_dataset(part.x.paths, labels, part.x.shape, order, batch)
        return dataset.map(lambda x, y: (as_model_input(x), y), num_parallel_calls=AUTOTUNE, deterministic=True)

    def order_tensor(self, epoch: int) -> tf.Tensor:
        """The epoch's example order as an int32 tensor, for :meth:`batch_at` (same shape every epoch)."""
        return tf.constant(self.order(epoch)[: self.steps_per_epoch * self.batch_size].astype(np.int32))

    def batch_at(self, order: tf.Tensor, epoch: tf.Tensor, index: tf.Tensor) -> tuple:
        """Batch ``index`` of an epoch, gathered in-graph: the same batch ``train_dataset`` yields
        (with its group ids when the pipeline has them)."""
        batch = self.batch_size
        idx = order[index * batch:(index + 1) * batch]
        extra = () if self._train_groups is None else (_gather(self._train_groups, idx),)
        return self.finish(as_model_input(_gather(self._train_x, idx)), _gather(self._train_y, idx), epoch, index,
                           *extra)

    def eval_tensors(self, split: str) -> tuple[tf.Tensor, tf.Tensor]:
        """``val`` or ``test`` as tensors (made once per run, then reused), in their stored dtypes:
        images stay uint8 and each batch goes through :func:`as_model_input` when it is used (a
        float32 copy of a split of 256x256 images would be four times their size)."""
        if split not in self._eval_tensors:
            part: Split = getattr(self.data, split)
            with tf.device("/cpu:0"):
                x = tf.nest.map_structure(tf.constant, part.x)
                self._eval_tensors[split] = (x, tf.constant(part.y))
            _share(part, *self._eval_tensors[split])
        return self._eval_tensors[split]

    def eval_dataset(self, split: str, limit: Optional[int] = None) -> tf.data.Dataset:
        """Sequential batches of ``val`` or ``test`` (optionally only the first ``limit`` examples)."""
        part: Split = getattr(self.data, split)
        if self.streaming:  # never cached: a split too big to hold is read again each time
            count = len(part) if limit is None else min(limit, len(part))
            dataset = self._file_batches(part, self._labels(split), np.arange(count), self.eval_batch_size)
            return dataset.prefetch(AUTOTUNE).with_options(_options())
        x, y = (part.x, part.y) if limit is None else (take(part.x, slice(0, limit)), part.y[:limit])
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(self.eval_batch_size)
        dataset = dataset.map(lambda a, b: (as_model_input(a), b), num_parallel_calls=AUTOTUNE)
        return dataset.cache().prefetch(AUTOTUNE).with_options(_options())


def _streamed(x) -> bool:
    """Whether ``x`` (an array, or a dict of columns) holds images read from files every epoch."""
    columns = x.values() if isinstance(x, dict) else [x]
    return any(getattr(column, "streamed", False) for column in columns)


def _resident(split: Split) -> tuple[tf.Variable, tf.Variable]:
    # Table inputs are a dict of columns (strings for categories): one variable per column.
    x = tf.nest.map_structure(lambda column: tf.Variable(column, trainable=False, name="train_x"), split.x)
    y = tf.Variable(split.y, trainable=False, name="train_y")
    # The variables are never assigned again, so reading them aliases their buffers.
    _share(split, tf.nest.map_structure(lambda v: v.read_value(), x), y.read_value())
    return x, y


def _share(split: Split, x, y) -> None:
    """Point ``split``'s arrays at the CPU buffers of the tensors made from them.

    ``np.asarray`` of a CPU tensor is a read-only view of its buffer, not a copy, so the split's
    values are held once instead of twice (2,000 masked scans of 256x256: 260 MB less). Strings
    and other object columns are left as they are: their NumPy form is not a view of the tensor.
    """
    def view(array, tensor):
        if isinstance(array, np.ndarray) and array.dtype.kind in "biuf" and tensor.device.endswith("CPU:0"):
            return np.asarray(tensor)
        return array

    split.x = {name: view(column, x[name]) for name, column in split.x.items()} if isinstance(split.x, dict) \
        else view(split.x, x)
    split.y = view(split.y, y)


def _gather(x, idx):
    """Rows ``idx`` of a variable (or a dict of them), read densely first. ``tf.gather`` on the
    variable itself is a sparse access, and TensorFlow copies the whole buffer before the first
    one when anything else holds it, as the split's NumPy view does (:func:`_share`): the training
    split would be held twice from the first step on. A dense read of a variable that is never
    assigned aliases its buffer."""
    return tf.nest.map_structure(lambda v: tf.gather(v.read_value(), idx), x)


def as_model_input(x):
    """Images travel as uint8 (4x less memory traffic); tokens stay int32; strings (raw CSV
    columns and texts) stay strings; the rest float32. A dict of columns is converted per column."""
    if isinstance(x, dict):
        return {name: as_model_input(column) for name, column in x.items()}
    if x.dtype == tf.string:
        return x
    if x.dtype == tf.uint8:
        return tf.cast(x, tf.float32)
    if x.dtype == tf.string:  # interaction ids: the recommender looks them up itself
        return x
    if x.dtype.is_integer:
        return tf.cast(x, tf.int32)
    return tf.cast(x, tf.float32)


def _options() -> tf.data.Options:
    options = tf.data.Options()
    # Our datasets are built from ranges and arrays, not files: shard by data across workers.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options
