"""The model's own encoding of raw columns (``table`` and ``text`` inputs, ``data=csv``).

:func:`column_front` turns the fitted encoding of :mod:`bmrun.data.columns` into Keras inputs
and layers, so the saved model takes raw values: a dict of columns keyed by their safe internal
names (:func:`bmrun.data.columns.column_keys`; numbers, NaN where missing; strings for
categories, ``""`` where missing) or one string per example. Imports Keras at the
top: :mod:`bmrun.models.base` imports it only for these inputs.
"""

from __future__ import annotations

import keras
from keras import ops

from bmrun.data.catalog import TABULAR, TABLE, TOKENS, InputSpec
from bmrun.data.columns import column_key


@keras.saving.register_keras_serializable(package="bmrun")
class ImputeStandardize(keras.layers.Layer):
    """Numeric columns -> standardised values, missing (NaN) ones replaced by the training mean,
    plus a 0/1 "was missing" feature for each column flagged in ``indicator``.

    Args:
        mean, variance: Training statistics, one per column.
        indicator: Per column: append a "was missing" feature.
    """

    def __init__(self, mean, variance, indicator, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(m) for m in mean]
        self.variance = [float(v) for v in variance]
        self.indicator = [bool(i) for i in indicator]

    def call(self, columns):
        x = ops.cast(ops.stack(list(columns), axis=-1), "float32")
        missing = ops.isnan(x)
        mean = ops.convert_to_tensor(self.mean, "float32")
        x = (ops.where(missing, mean, x) - mean) / ops.sqrt(ops.convert_to_tensor(self.variance, "float32"))
        flagged = [i for i, flag in enumerate(self.indicator) if flag]
        if flagged:
            x = ops.concatenate([x, ops.cast(ops.take(missing, flagged, axis=1), "float32")], axis=-1)
        return ops.cast(x, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(self.mean) + sum(self.indicator))

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "variance": self.variance, "indicator": self.indicator}


def column_front(columns: dict, input_kind: str, vocab_size):
    """Keras inputs for raw columns and the encoded tensor the family's body reads.

    Returns:
        ``(inputs, x, spec)``: a dict of ``keras.Input`` keyed by column key (table) or one
        string input (text), the encoded features, and the :class:`InputSpec` of those features
        (``tabular`` or ``tokens``) for the body.
    """
    if input_kind != TABLE:
        text = columns["text"]
        inputs = keras.Input(shape=(), dtype="string", name=column_key(text))
        vectorize = keras.layers.TextVectorization(vocabulary=text["vocabulary"] or ["[none]"],
                                                   output_sequence_length=int(text["max_len"]), name="vectorize")
        tokens = ops.cast(vectorize(inputs), "int32")
        return inputs, tokens, InputSpec(TOKENS, (int(text["max_len"]),), vocab_size=int(vocab_size))
    inputs, parts = {}, []
    numeric = columns.get("numeric", [])
    for column in numeric:
        inputs[column_key(column)] = keras.Input(shape=(), dtype="float32", name=column_key(column))
    if numeric:
        parts.append(ImputeStandardize([c["mean"] for c in numeric], [c["variance"] for c in numeric],
                                       [c["indicator"] for c in numeric], name="numeric")(
            [inputs[column_key(c)] for c in numeric]))
    for i, column in enumerate(columns.get("categorical", [])):
        key = column_key(column)
        inputs[key] = keras.Input(shape=(), dtype="string", name=key)
        # "" (missing) is a category of the vocabulary; index 0 is the out-of-vocabulary bucket.
        lookup = keras.layers.StringLookup(vocabulary=column["vocabulary"], num_oov_indices=1,
                                           output_mode="one_hot", name=f"categories_{i}")
        parts.append(lookup(inputs[key]))
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="columns")(parts)
    return inputs, x, InputSpec(TABULAR, (int(x.shape[-1]),))
