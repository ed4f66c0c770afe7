"""Self-supervised pretraining (``pretrain=contrastive|autoencoder``): learn a model's backbone
from unlabeled images, then fine-tune it with ``model.init_from=<pretrain run>``.

``config.py`` holds the group's schema (no TensorFlow); ``contrastive.py`` and ``autoencoder.py``
the two pretext tasks (their inputs, heads and losses); ``steps.py`` the pretext model around a
family's backbone, the batch plan and the compiled pretext steps that the training loop runs in
place of the supervised ones.
"""
