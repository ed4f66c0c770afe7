"""An exponential moving average of the weights (``optimizer.ema_decay``), the model evaluated.

Training updates the raw weights; after every optimizer step the average follows them,
``average = d * average + (1 - d) * weight``. The average of the last few hundred steps is a
better model than the last step's weights when the learning rate is still high or the
gradients noisy (short schedules, few labels): Polyak averaging. The decay warms up as
``min(d, (1 + t) / (10 + t))`` at step t, so early averages do not remember the random
initialisation.

Every evaluation sees the average: validation swaps it in for the epoch's checks (metrics, the
best weights, pictures) and back for the checkpoint, which keeps both, so a resume continues
exactly; at the end of training the average replaces the raw weights for the test, the pictures
and the exported model. Every floating-point variable of the model is averaged, batch-norm
statistics included.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf
import keras


class WeightAverage:
    """The moving average of ``model``'s floating-point variables.

    Args:
        model: The trained Keras model (built, its variables created under the strategy scope).
        decay: ``d`` in (0, 1): how much of the average each step keeps.
        shadow: Hold the average in a clone of ``model`` (:attr:`shadow`), which can then predict
            with the averaged weights: the teacher of semi-supervised training (``trainer.teacher=ema``).
    """

    def __init__(self, model, decay: float, *, shadow: bool = False):
        self.decay = float(decay)
        self.targets = [v for v in model.variables if _floating(v)]
        self.shadow = None
        if shadow:
            self.shadow = keras.models.clone_model(model)
            self.shadow.set_weights(model.get_weights())
            self.variables = [v for v in self.shadow.variables if _floating(v)]
            if [tuple(v.shape) for v in self.variables] != [tuple(v.shape) for v in self.targets]:
                raise ValueError("the clone of the model does not list its variables like the model")
        else:
            self.variables = [tf.Variable(_value(v), trainable=False, name=f"ema_{i}",
                                          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                              for i, v in enumerate(self.targets)]

    def update(self, step) -> None:
        """Move the average towards the current weights (in the compiled step, after ``apply``).

        Args:
            step: The optimizer's step count after this update (a scalar tensor).
        """
        step = tf.cast(step, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + step) / (10.0 + step))
        for average, weight in zip(self.variables, self.targets):
            average.assign(decay * average + (1.0 - decay) * tf.cast(_value(weight), average.dtype))

    def _swap(self) -> None:
        for average, weight in zip(self.variables, self.targets):
            held = tf.identity(average)
            average.assign(_value(weight))
            weight.assign(held)

    @contextlib.contextmanager
    def swapped_in(self):
        """The average is the model's weights inside the block; the raw weights come back after."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def copy_to_model(self) -> None:
        """The average becomes the model's weights for good (the end of training)."""
        for average, weight in zip(self.variables, self.targets):
            weight.assign(average)

    def trackables(self) -> dict:
        """The averages, for the checkpoint (a resume continues the same average)."""
        return {"ema_variables": list(self.variables)}


def _value(variable) -> tf.Tensor:
    """The current value of a Keras variable (or a plain ``tf.Variable``)."""
    return tf.convert_to_tensor(variable.value if hasattr(variable, "value") else variable)


def _floating(variable) -> bool:
    return tf.as_dtype(variable.dtype).is_floating
