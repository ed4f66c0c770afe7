"""Optimizers with learning-rate schedules, gradient clipping and float16 loss scaling."""

from __future__ import annotations

import keras


def make_schedule(cfg, total_steps: int, steps_per_epoch: int):
    """The learning rate as a float or a Keras schedule over optimizer steps.

    ``warmup_epochs`` ramps linearly from 0 to ``lr``; decaying schedules end at
    ``lr * min_lr_ratio`` after ``total_steps``.
    """
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
    total = max(total_steps, warmup + 1)
    if cfg.schedule == "constant" and not warmup:
        return cfg.lr
    if cfg.schedule == "linear":  # decays over the steps after warm-up, like the cosine schedules
        decay = keras.optimizers.schedules.PolynomialDecay(cfg.lr, total - warmup,
                                                           end_learning_rate=cfg.lr * cfg.min_lr_ratio)
        return decay if not warmup else _Warmup(decay, cfg.lr, warmup)
    alpha = 1.0 if cfg.schedule == "constant" else cfg.min_lr_ratio  # constant + warmup: no decay
    if warmup:
        return keras.optimizers.schedules.CosineDecay(0.0, total - warmup, alpha=alpha, warmup_target=cfg.lr,
                                                      warmup_steps=warmup)
    return keras.optimizers.schedules.CosineDecay(cfg.lr, total, alpha=alpha)


@keras.saving.register_keras_serializable(package="bmrun")
class _Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` over ``warmup_steps``, then ``after`` (shifted)."""

    def __init__(self, after, peak: float, warmup_steps: int):
        self.after, self.peak, self.warmup_steps = after, peak, warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        ramp = self.peak * (step + 1.0) / self.warmup_steps
        return keras.ops.where(step < self.warmup_steps, ramp, self.after(step - self.warmup_steps))

    def get_config(self):
        return {"after": keras.saving.serialize_keras_object(self.after), "peak": self.peak,
                "warmup_steps": self.warmup_steps}


def make_optimizer(cfg, *, total_steps: int, steps_per_epoch: int, precision: str):
    """Build the Keras optimizer named by ``cfg.name``.

    Args:
        cfg: Validated ``optimizer`` config group.
        total_steps: Optimizer steps of the whole run (for decaying schedules).
        steps_per_epoch: Steps in one epoch (warm-up is given in epochs).
        precision: Keras policy name; ``mixed_float16`` wraps the optimizer in a
            ``LossScaleOptimizer`` (the loop calls ``scale_loss`` and ``apply``).
    """
    lr = make_schedule(cfg, total_steps, steps_per_epoch)
    common = dict(learning_rate=lr, global_clipnorm=cfg.clip_norm, clipvalue=cfg.clip_value)
    if cfg.name == "sgd":
        optimizer = keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov,
                                         weight_decay=cfg.weight_decay or None, **common)
    elif cfg.name == "adam":
        optimizer = keras.optimizers.Adam(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon,
                                          weight_decay=cfg.weight_decay or None, **common)
    else:
        optimizer = keras.optimizers.AdamW(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon,
                                           weight_decay=cfg.weight_decay, **common)
    if precision == "mixed_float16":  # float16 gradients underflow without dynamic loss scaling
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
