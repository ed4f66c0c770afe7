"""Example bmrun plugin: ``model=tinyres`` (a small residual CNN) and ``data=bars`` (synthetic).

Neither module imports Keras or TensorFlow at import time, so ``bmrun --cfg job model=tinyres``
and ``bmrun --help`` stay fast.
"""
