"""Cross-group checks: does this model read this data, does this loss fit this task?

A family's own checks (the CNN's image size, the transformer's patches) live in its module and
run from here, through the registry.

Runs before any data is loaded or TensorFlow imported, so a bad pairing fails in milliseconds.
"""

from __future__ import annotations

from bmrun import registry
from bmrun.config.schema import TrainConfig, TrainerConfig
from bmrun.data.catalog import BINARY, IMAGE, INTERACTIONS, MULTICLASS, REGRESSION, TABLE, TEXT, describe
from bmrun.errors import ConfigError
from bmrun.methods.catalog import check_options
from bmrun.specs import AUDIO, CTC, FORECAST, MULTIMODAL, SEGMENTATION, SEQ2SEQ

LOSS_FOR_TASK = {MULTICLASS: "cross_entropy", BINARY: "binary_cross_entropy", REGRESSION: "mse",
                 SEGMENTATION: "cross_entropy", FORECAST: "mse", CTC: "ctc",
                 SEQ2SEQ: "token_cross_entropy"}
# Losses a task kind takes besides its natural one.
# The families whose backbone keeps spatial features a dense (per-pixel) head can read.
DENSE_FAMILIES = ("unet", "cnn", "transformer")
OTHER_LOSSES = {SEGMENTATION: ("dice", "dice_ce"), FORECAST: ("mae",)}


def resolved_loss(config: TrainConfig) -> str:
    """The loss a run uses: ``loss.name``, or the task's natural loss for ``auto``."""
    task, _ = describe(config.data)
    return LOSS_FOR_TASK[task.kind] if config.loss.name == "auto" else config.loss.name


def check_compatibility(config: TrainConfig) -> None:
    """Raise ConfigError when the model cannot read the data or the loss does not fit the task."""
    check_options(config)  # first: the option x method matrix names both in one line (bmrun.methods.catalog)
    task, inputs = describe(config.data)
    entry = registry.model(config.model.name)
    if entry.accepts is not None and inputs.kind not in entry.accepts:
        readable = ", ".join(sorted(entry.accepts))
        others = "model=factorization or model=two_tower" if inputs.kind == INTERACTIONS else "model=mlp or model=linear"
        raise ConfigError(
            "model", f"model={config.model.name} cannot read data={config.data.name} ({inputs.kind} inputs); "
            f"it reads {readable} ({entry.how}). Pick another model, e.g. {others}.")
    loss = resolved_loss(config)
    natural = LOSS_FOR_TASK[task.kind]
    if loss != natural and loss not in OTHER_LOSSES.get(task.kind, ()):
        others = "".join(f", loss={name}" for name in OTHER_LOSSES.get(task.kind, ()))
        raise ConfigError(
            "loss", f"loss={loss} does not fit data={config.data.name}, a {task.kind} task; "
            f"use loss={natural}{others} (or loss=auto).")
    if task.kind == SEGMENTATION:
        _check_segmentation(config)
    if config.loss.label_smoothing and task.kind == REGRESSION:
        raise ConfigError("loss.label_smoothing", "applies to classification only")
    if getattr(config.data, "class_weight", "none") != "none" and task.kind == REGRESSION:
        raise ConfigError("data.class_weight", f"weighs classes; data={config.data.name} is a regression task")
    _check_fairness(config, task)
    if task.kind == CTC:
        _check_ctc(config)
    if inputs.kind in (TABLE, TEXT, MULTIMODAL):
        _check_raw_columns(config, inputs)
    entry.check(config, task, _spectrogram(config) if inputs.kind == AUDIO else inputs)
    trainer = config.trainer
    if config.data.feed == "resident" and (config.device.name in ("multi_gpu", "multi_worker")):
        raise ConfigError("data.feed", "resident feeding runs on one device; multi-device runs split batches "
                                       "through tf.data (data.feed=auto or tf_data)")
    if (trainer.adversarial != "none" or trainer.adv_eval_epsilon) and not (
            inputs.kind == IMAGE and task.is_classification):
        key = "trainer.adversarial" if trainer.adversarial != "none" else "trainer.adv_eval_epsilon"
        raise ConfigError(key, f"adversarial examples need image classification data; data={config.data.name} "
                               f"is {task.kind} on {inputs.kind} inputs")
    if config.device.name == "multi_worker" and config.device.logical_cpus:
        raise ConfigError("device.logical_cpus", "is for single-process runs; multi_worker takes its devices from TF_CONFIG")
    _check_augment(config, inputs)
    _check_few_labels(config, task, inputs)


def _check_fairness(config: TrainConfig, task) -> None:
    """``data.sensitive`` needs a table; the penalty needs a binary task and one of its columns."""
    sensitive = list(getattr(config.data, "sensitive", None) or [])
    if sensitive and config.data.name != "csv":
        raise ConfigError("data.sensitive", f"names columns of a table; data={config.data.name} has none. Fairness "
                          f"metrics need data=csv with the group column in the file (e.g. data=csv "
                          f"data.path=people.csv data.target=income data.sensitive=[sex]).")
    if sensitive and task.kind == REGRESSION:
        raise ConfigError("data.sensitive", f"fairness metrics compare groups' selection rates, error rates and "
                          f"accuracy, which need a classification task; data.target={config.data.target} is a "
                          f"regression target (data.task=binary or multiclass if its values are classes).")
    loss = config.loss
    if loss.fairness_group is not None and loss.fairness_group not in sensitive:
        listed = f"data.sensitive={sensitive}" if sensitive else "data.sensitive is empty"
        raise ConfigError("loss.fairness_group", f"{loss.fairness_group!r} is not a sensitive column ({listed}); "
                          f"add it: data.sensitive=[{loss.fairness_group}].")
    if loss.fairness_penalty > 0:
        if task.kind != BINARY:
            raise ConfigError("loss.fairness_penalty", f"the demographic-parity penalty compares each group's mean "
                              f"predicted positive probability, which needs a binary task; data={config.data.name} "
                              f"is {task.kind}. Use loss.fairness_penalty=0 (the fairness metrics are still reported).")
        if loss.fairness_group is None:
            hint = f"loss.fairness_group={sensitive[0]}" if sensitive else "data.sensitive=[<column>] loss.fairness_group=<column>"
            raise ConfigError("loss.fairness_group", f"loss.fairness_penalty={loss.fairness_penalty} needs the group "
                              f"column the penalty compares: {hint}.")
    _check_fairness_bound(config, task, sensitive)


def _check_fairness_bound(config: TrainConfig, task, sensitive: list) -> None:
    """``fairness.max_gap`` bounds a binary task's demographic-parity gap over one group column."""
    bound = config.fairness.max_gap
    if bound is None:
        return
    if task.kind != BINARY:
        raise ConfigError("fairness.max_gap", f"bounds the demographic-parity gap (the groups' rates of predicting "
                          f"the positive class), which needs a binary task; data={config.data.name} is {task.kind}.")
    if config.loss.fairness_group is None:
        hint = f"loss.fairness_group={sensitive[0]}" if sensitive else "data.sensitive=[<column>] loss.fairness_group=<column>"
        raise ConfigError("fairness.max_gap", f"fairness.max_gap={bound} needs the group column whose gap it bounds: {hint}.")
    if not getattr(config.data, "val_fraction", 1.0):
        raise ConfigError("fairness.max_gap", "is met on the validation split, which this run does not have; "
                                              "set data.val_fraction above 0.")


def _check_augment(config: TrainConfig, inputs) -> None:
    """Augmentation transforms pixels: refuse it for other inputs, and shifts past the image."""
    augment = config.augment
    if augment.tta != "none" and inputs.kind != IMAGE:
        raise ConfigError("augment.tta", f"test-time augmentation mirrors images, but data={config.data.name} has "
                          f"{inputs.kind} inputs; use augment.tta=none (the default) for this dataset.")
    if not augment.enabled:
        return
    if inputs.kind == AUDIO:  # SpecAugment's masks (bmrun.data.audio_augment); the pixel keys are ignored
        return
    if inputs.kind != IMAGE:
        raise ConfigError("augment", f"augment={augment.name} transforms images, but data={config.data.name} has "
                          f"{inputs.kind} inputs; use augment=none (the default) for this dataset.")
    side = min(inputs.shape[:2])
    if augment.shift >= side:
        raise ConfigError("augment.shift", f"{augment.shift} pixels would move a {inputs.shape[0]}x{inputs.shape[1]} "
                          f"image of data={config.data.name} out of its frame; use fewer than {side}.")


def _check_few_labels(config: TrainConfig, task, inputs) -> None:
    """pretrain= and trainer.semi_supervised learn from unlabeled images: refuse what they cannot do."""
    pretrain, mode = config.pretrain.name, config.trainer.semi_supervised
    for key, value, what in (("pretrain", pretrain, "pretrain=" + pretrain),
                             ("trainer.semi_supervised", mode, "trainer.semi_supervised=" + mode)):
        if value != "none" and inputs.kind != IMAGE:
            raise ConfigError(key, f"{what} learns from unlabeled images (random crops, flips, masks); "
                                   f"data={config.data.name} has {inputs.kind} inputs. Use it with an image dataset "
                                   f"(mnist, fashion_mnist, digits, image_folder), or drop it.")
    if pretrain != "none" and mode != "none":
        raise ConfigError("pretrain", f"pretrain={pretrain} ignores labels, so trainer.semi_supervised={mode} has "
                                      f"nothing to do in the same run: pretrain first, then run "
                                      f"model.init_from=<pretrain run> trainer.semi_supervised={mode}.")
    if pretrain != "none":
        for key in ("confusion_matrix", "misclassified", "saliency"):
            if getattr(config.logger, key, False):
                raise ConfigError(f"logger.{key}", f"draws a classifier's predictions; pretrain={pretrain} trains "
                                                   f"no classifier. Use logger=tensorboard.")
    strong_view_set = {"trainer.strong_view": config.trainer.strong_view != TrainerConfig.strong_view,
                       "trainer.randaugment_ops": config.trainer.randaugment_ops != TrainerConfig.randaugment_ops}
    if mode != "consistency" and any(strong_view_set.values()):
        key = next(name for name, used in strong_view_set.items() if used)
        raise ConfigError(key, f"shapes consistency training's strong view, and this run has none "
                               f"(trainer.semi_supervised={mode}): set trainer.semi_supervised=consistency, "
                               f"or drop it.")
    if config.trainer.strong_view == "mild" and strong_view_set["trainer.randaugment_ops"]:
        raise ConfigError("trainer.randaugment_ops", "counts RandAugment's operations, and trainer.strong_view=mild "
                                                     "uses none: set trainer.strong_view=randaugment, or drop it.")
    if mode != "none":
        if task.kind != MULTICLASS:
            hint = (" (two class folders are binary; data.task=multiclass trains them as a softmax pair, which "
                    "consistency training accepts)") if config.data.name == "image_folder" and task.kind == BINARY else ""
            raise ConfigError("trainer.semi_supervised", f"turns confident class predictions into targets; "
                                                         f"data={config.data.name} is a {task.kind} task{hint}")
        if config.data.label_fraction >= 1.0:
            raise ConfigError("trainer.semi_supervised", f"{mode} trains on an unlabeled pool, and with "
                              f"data.label_fraction=1 every training image keeps its label: there is none. Set "
                              f"data.label_fraction below 1 (e.g. 0.1), or use trainer.semi_supervised=none.")


def _check_raw_columns(config: TrainConfig, inputs) -> None:
    """Raw CSV columns and texts are encoded by string layers inside the model: no XLA, no TFLite."""
    what = "texts" if inputs.kind == TEXT else "CSV columns"
    if config.device.xla:
        raise ConfigError("device.xla", f"XLA cannot compile the string lookups that encode raw {what} inside "
                                        f"the model (data={config.data.name}); use device.xla=false.")
    if config.logger.tflite:
        raise ConfigError("logger.tflite", f"TFLite has no string lookups to encode raw {what} "
                                           f"(data={config.data.name}); use logger.tflite=[].")
    for key in ("misclassified", "saliency"):  # pictures of inputs: there are none to draw
        if getattr(config.logger, key, False):
            raise ConfigError(f"logger.{key}", f"draws input images; data={config.data.name} has raw {what}. "
                                               f"Use logger=tensorboard (logger.confusion_matrix works).")


def _check_segmentation(config: TrainConfig) -> None:
    """What a mask per pixel cannot do: options made for one label per image."""
    refused = {
        "augment.tta": (config.augment.tta != "none", "averages an image's outputs with its mirror's, which "
                        "would need the predicted masks mirrored back; use augment.tta=none"),
        "data.classes": (bool(config.data.classes), "keeps some image labels; masks' classes come from their "
                         "indices (classes.txt names them)"),
        "data.label_fraction": (config.data.label_fraction < 1.0, "withholds image labels; segmentation trains "
                                "on every mask"),
        "pretrain": (config.pretrain.name != "none", "pretrains an image classifier's backbone; train model=unet "
                     "directly"),
        "model.freeze": (config.model.freeze != "none", "freezes a classifier's backbone; segmentation trains "
                         "the whole network"),
    }
    for key in ("confusion_matrix", "misclassified", "saliency"):
        refused[f"logger.{key}"] = (bool(getattr(config.logger, key, False)), "draws a classifier's pictures; "
                                    "segmentation runs draw image | truth | prediction (logger.segmentation)")
    if config.model.name not in DENSE_FAMILIES:
        refused["model"] = (True, f"model={config.model.name} has no spatial features for a mask; use "
                            f"model=unet|cnn|transformer")
    for key, (used, why) in refused.items():
        if used:
            raise ConfigError(key, f"{why} (data={config.data.name} data.masks=... is a segmentation task).")


def _spectrogram(config: TrainConfig):
    """What a family reads of audio inputs: the log-mel image its model computes (frames x mels x 1)."""
    # here, not at the top: only audio runs read it, and config validation stays light
    from bmrun.data.audio_folder import spectrogram_spec

    return spectrogram_spec(config.data)


def _check_ctc(config: TrainConfig) -> None:
    """CTC reads one feature vector per frame: a recurrent model that keeps every step."""
    model = config.model
    if model.name != "rnn" or getattr(model, "pooling", None) != "none":
        # model=rnn's own default with data.transcripts is pooling=none: only a value the user set gets here
        what = f"model.pooling={model.pooling}" if model.name == "rnn" else f"model={model.name}"
        raise ConfigError("model", f"data.transcripts trains speech to text (CTC over the frames), which needs one "
                          f"output per frame: use model=rnn model.pooling=none (its default with transcripts); "
                          f"{what} pools the clip into one vector.")
    for key in ("label_smoothing",):
        if getattr(config.loss, key, 0):
            raise ConfigError(f"loss.{key}", "applies to classification only; data.transcripts trains CTC")
