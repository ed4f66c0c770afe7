"""Why a trained model predicts what it does: attributions and the pictures that show them.

* :mod:`bmrun.explain.attributions`: integrated gradients, SmoothGrad and Grad-CAM (TensorFlow).
* :mod:`bmrun.explain.inner`: integrated gradients at an inner layer's output (TensorFlow).
* :mod:`bmrun.explain.columns`: a CSV model's attributions by the user's columns.
* :mod:`bmrun.explain.text`: a text model's attributions by token.
* :mod:`bmrun.explain.regions`: a segmentation model's Grad-CAM for a class over a region (TensorFlow).
* :mod:`bmrun.explain.audio`: a speech model's saliency on its log-mel spectrogram (TensorFlow).
* :mod:`bmrun.explain.spectrograms`: pictures of spectrograms, captioned or under their saliency.
* :mod:`bmrun.explain.figures`: the one home of matplotlib: overlays, bar charts, figure helpers.
* :mod:`bmrun.explain.report`: ``explain_run`` — what ``bmrun-explain`` writes into a run dir.

Importing this package imports none of them.
"""

METHODS = ("integrated_gradients", "smoothgrad", "gradcam")
