"""The training side of bmrun: losses, optimizers, the compiled loop and its bookkeeping."""
