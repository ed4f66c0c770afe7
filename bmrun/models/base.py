"""What every model family shares: the input, its normalisation, the head and serialisation.

A family subclasses :class:`BasicModel` and hands it a ``body`` function mapping the normalised
input tensor to features. The resulting model is a Keras functional model that takes *raw*
examples (pixel values, token ids, unscaled features) and returns logits, or values in the
target's own units for regression, so a saved ``.keras`` file is self-contained.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import keras
import numpy as np

IMAGE, TOKENS, SEQUENCE, TABULAR = "image", "tokens", "sequence", "tabular"


def _as_list(value: Any) -> Optional[list]:
    if value is None:
        return None
    return np.asarray(value, dtype=np.float32).tolist()


class BasicModel(keras.Model):
    """Base of all bmrun models (functional, keras-hub style: config = constructor arguments).

    Args:
        body: Maps the normalised input tensor to a feature tensor (family-specific).
        input_shape: Shape of one example, without the batch axis.
        input_kind: ``image``, ``tokens``, ``sequence`` or ``tabular``.
        num_outputs: Logits (classes) or 1 (binary, regression).
        vocab_size: Token vocabulary size, for ``tokens`` inputs.
        input_mean, input_variance: Training-split statistics for input normalisation.
        target_mean, target_std: For regression: the head predicts standardised targets and a
            fixed rescaling returns them in the original units.
        head_dropout_rate: Dropout before the head.
    """

    def __init__(self, body: Callable, *, input_shape: Sequence[int], input_kind: str, num_outputs: int,
                 vocab_size: Optional[int] = None, input_mean: Any = None, input_variance: Any = None,
                 target_mean: Optional[float] = None, target_std: Optional[float] = None,
                 head_dropout_rate: float = 0.0, name: Optional[str] = None, **kwargs):
        input_shape = tuple(int(d) for d in input_shape)
        inputs = keras.Input(shape=input_shape, dtype="int32" if input_kind == TOKENS else "float32", name="inputs")
        x = inputs
        if input_mean is not None and input_kind != TOKENS:
            x = keras.layers.Normalization(axis=None if np.ndim(input_mean) == 0 else -1, mean=input_mean,
                                           variance=input_variance, name="normalize")(x)
        x = body(x)
        if head_dropout_rate:
            x = keras.layers.Dropout(head_dropout_rate, name="head_dropout")(x)
        # float32 head: with mixed precision the logits and the loss stay in full precision.
        outputs = keras.layers.Dense(num_outputs, dtype="float32", name="head")(x)
        if target_mean is not None:
            outputs = keras.layers.Rescaling(scale=float(target_std), offset=float(target_mean),
                                             dtype="float32", name="target_scale")(outputs)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.example_shape = list(input_shape)
        self.input_kind = input_kind
        self.num_outputs = num_outputs
        self.vocab_size = vocab_size
        self.input_mean = _as_list(input_mean)
        self.input_variance = _as_list(input_variance)
        self.target_mean = target_mean
        self.target_std = target_std
        self.head_dropout_rate = head_dropout_rate

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_shape": self.example_shape,
            "input_kind": self.input_kind,
            "num_outputs": self.num_outputs,
            "vocab_size": self.vocab_size,
            "input_mean": self.input_mean,
            "input_variance": self.input_variance,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
            "head_dropout_rate": self.head_dropout_rate,
        }

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def backbone_layers(self) -> list:
        """Every layer except the head (and the fixed output rescaling): what transfer freezes."""
        return [layer for layer in self.layers if layer.name not in ("head", "target_scale")]


def flatten_input(x, input_kind: str, vocab_size: Optional[int]):
    """A flat feature vector for dense families: images and sequences flattened, tokens as a
    multi-hot bag of words (the classic linear text classifier)."""
    if input_kind == TOKENS:
        return keras.layers.CategoryEncoding(num_tokens=vocab_size, output_mode="multi_hot", name="bag_of_words")(x)
    if len(x.shape) > 2:
        return keras.layers.Flatten(name="flatten")(x)
    return x
