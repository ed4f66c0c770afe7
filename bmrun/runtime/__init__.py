"""Process-level setup for training: importing TensorFlow quietly, devices, precision, seeds."""
