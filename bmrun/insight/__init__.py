"""What a model does, as pictures: confusion matrices, misclassified examples, saliency maps,
regression scatter plots and weight/gradient histograms in TensorBoard (``logger=images``).

:mod:`bmrun.insight.images` draws (NumPy and Pillow only); :mod:`bmrun.insight.tensorboard_images`
is the training hook that computes predictions and writes the summaries.
"""
