"""Everything bmrun writes for TensorBoard, in one package.

* :mod:`bmrun.tensorboard.scalars`: train/val/test scalar writers, event truncation on resume.
* :mod:`bmrun.tensorboard.insight`: the training hook for pictures and histograms (``logger=images``).
* :mod:`bmrun.tensorboard.pictures`: how the pictures are drawn (NumPy and Pillow only).
* :mod:`bmrun.tensorboard.hparams`: the HParams session of a finished run.
* :mod:`bmrun.tensorboard.decoded`: text pairs' decoded outputs in the Text tab.
* :mod:`bmrun.tensorboard.audio`: speech runs' spectrograms of test clips and the clips to listen to.

Importing this package imports none of them (the writers import TensorFlow).
"""
