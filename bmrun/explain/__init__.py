"""Why a trained model predicts what it does: attributions and the pictures that show them.

* :mod:`bmrun.explain.attributions`: integrated gradients, SmoothGrad and Grad-CAM (TensorFlow).
* :mod:`bmrun.explain.figures`: the overlays and bar charts (matplotlib, NumPy).
* :mod:`bmrun.explain.report`: ``explain_run`` — what ``bmrun-explain`` writes into a run dir.

Importing this package imports none of them.
"""

METHODS = ("integrated_gradients", "smoothgrad", "gradcam")
