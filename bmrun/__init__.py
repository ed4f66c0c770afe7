"""bmrun: train basic models (linear, MLP, CNN, RNN, Transformer) from composed Hydra configs.

Importing this package is cheap: TensorFlow is imported only on the training path.
"""

__version__ = "0.1.0"
