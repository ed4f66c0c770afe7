"""Learning methods: how a run learns from its data, as parts the one train step composes.

A *method* (supervised, FixMatch consistency, contrastive or autoencoder pretraining) declares its
batch plan, its loss terms, the state it checkpoints, the metrics it logs and the options it
supports. :mod:`bmrun.methods.catalog` holds those declarations without TensorFlow, so config
validation refuses an unsupported option x method pair in milliseconds; the implementations
(:mod:`~bmrun.methods.supervised`, :mod:`~bmrun.methods.consistency`, :mod:`~bmrun.methods.pretext`)
are loaded only by the training job.
"""

from bmrun.methods.catalog import METHODS, OPTIONS, MethodSpec, Option, check_options, matrix_markdown, method_name

__all__ = ["METHODS", "OPTIONS", "MethodSpec", "Option", "check_options", "matrix_markdown", "method_name"]
