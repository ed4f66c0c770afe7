"""Every random stream's salt, in one place.

Each stream of random numbers a run draws (augmentation, the labeled share, the unlabeled batches,
pretext views, PGD's random start) is keyed on the run's seed *and* its own salt, so streams drawn
from one seed stay independent and each is a pure function of ``(seed, salt, epoch, batch)``: the
reason resumes are exact. A new stream takes a new salt here; ``tests/test_streams.py`` keeps them
distinct.
"""

AUGMENT = 0x6A06  # training-batch augmentation (bmrun.data.augment)
LABEL_FRACTION = 0x1ABE1  # which training examples keep their labels (bmrun.data.label_fraction)
UNLABELED = 0x55F1  # FixMatch's unlabeled batches and their views (bmrun.methods.consistency)
PRETEXT_VIEWS = 0x5E1F  # pretraining views of each training batch (bmrun.methods.pretext)
PRETEXT_EVAL = 0x5E1E  # the one fixed draw of validation and test views (bmrun.methods.pretext)
PGD_START = 20150  # PGD's random start, with the optimizer step (bmrun.training.steps)

ALL = {name: value for name, value in dict(globals()).items() if name.isupper()}
