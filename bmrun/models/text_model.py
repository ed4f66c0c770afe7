"""A text-pair run's model of strings to strings: ``model/text_model.keras``.

``TextToText`` wraps the trained teacher-forced model (token ids in, logits out) with what
``bmrun-predict --text`` does around it, all in-graph: split each string into tokens (the rules
of :func:`bmrun.tasks.vocabulary.split_tokens`), look them up in the run's vocabulary, cut to the
source width and add the end token, decode greedily (:func:`bmrun.tasks.decoding.compiled`), and
join the written tokens up to the end token back into a string. Its config holds the wrapped
model, the vocabulary and the token kind, so it reloads in Keras safe mode:
``keras.saving.load_model("text_model.keras")(tf.constant(["1981"]))``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from bmrun.tasks.vocabulary import END, SPECIAL, UNK

# Python's \w and \s are Unicode-aware; RE2's are ASCII: name the Unicode classes instead.
_PUNCTUATION = r"([^\pL\pN_\s\pZ])"
_SPACES = r"[\s\pZ]+"


@keras.saving.register_keras_serializable(package="bmrun")
class TextToText(keras.Model):
    """Strings ``(batch,)`` in, decoded strings ``(batch,)`` out.

    Args:
        model: The trained encoder–decoder (``{"source", "target_in"}`` ids to logits).
        vocabulary: The run's vocabulary (ids 0-3 are the special tokens).
        tokens: ``char`` or ``word``.
    """

    def __init__(self, model, vocabulary, tokens: str, **kwargs):
        super().__init__(**kwargs)
        self.model, self.vocabulary, self.tokens = model, list(vocabulary), tokens
        self.source_width, self.target_width = int(model.example_shape[0]), int(model.example_shape[-1])
        words = self.vocabulary[len(SPECIAL):]
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(words or [""], tf.string),
                                                tf.range(len(SPECIAL), len(SPECIAL) + max(len(words), 1))),
            default_value=UNK)
        self.built = True  # the wrapped model is built; this one adds no weights

    def call(self, texts):
        texts = tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1])
        if self.tokens == "char":
            pieces = tf.strings.unicode_split(texts, "UTF-8")
        else:  # words and punctuation marks: a space around each mark, then split on spaces
            spaced = tf.strings.regex_replace(tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 "), _SPACES, " ")
            pieces = tf.strings.split(tf.strings.strip(spaced), sep=" ")
        ids = tf.ragged.map_flat_values(self._table.lookup, pieces)[:, :self.source_width - 1]
        ends = tf.fill([tf.shape(texts)[0], 1], END)
        source = tf.concat([ids, ends], axis=1).to_tensor(0, shape=[None, self.source_width])
        from bmrun.tasks.decoding import compiled  # the greedy loop, traced with a dynamic prefix width

        written = compiled(self.model)(tf.cast(source, tf.int32), tf.constant(self.target_width))
        alive = tf.math.cumprod(tf.cast(tf.not_equal(written, END), tf.int32), axis=1)
        keep = tf.logical_and(alive > 0, written > END)
        words = tf.ragged.boolean_mask(tf.gather(tf.constant(self.vocabulary), written), keep)
        return tf.strings.reduce_join(words, axis=1, separator="" if self.tokens == "char" else " ")

    def get_config(self) -> dict:
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.model),
                "vocabulary": self.vocabulary, "tokens": self.tokens}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        return cls(model, config.pop("vocabulary"), config.pop("tokens"), **config)
