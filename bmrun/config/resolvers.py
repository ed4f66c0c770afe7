"""The OmegaConf resolvers bmrun's YAML files use (no TensorFlow).

``${if_text_pairs:${data.target_text},A,B}`` is A for text pairs and B otherwise: one dataset
option, ``data=csv``, reads two kinds of data, and ``conf/data/csv.yaml`` trains a table for up
to 100 epochs but text pairs for a few large-batch ones. ``${if_transcripts:${data.transcripts},A,B}``
does the same for ``data=audio_folder``: keyword clips or speech to text. Speech to text's Adam
learning rate and recurrent cell use it too, from the optimizer's and the model's files
(``${if_transcripts:${oc.select:data.transcripts,null},A,B}``, null for every other dataset).

``${if_rnn_pairs:${model.name},${oc.select:data.target_text,null},A,B}`` is A for the RNN
encoder–decoder (``model=rnn`` on text pairs) and B otherwise: Adam's learning rate, which the
recurrent encoder–decoder needs larger than every other model (BENCHMARKS.md, "Sequence to
sequence"). It lives in the optimizer's file because the dataset's file would replace every
optimizer's own default.

``${if_model:${oc.select:model.name,null},unet,A,B}`` is A for that model family and B otherwise:
the device files give ``model=unet`` ``precision: auto`` (bfloat16 where the chip multiplies it
natively: 2.4x faster U-Net training and 240 MiB less at 256x256 on an AVX512-BF16 CPU, the same
Dice; BENCHMARKS.md, "Segmentation against Otsu"), every other family float32.

A key set on the command line replaces the interpolation, so it still wins; a run dir's
``config.yaml`` is saved resolved.
"""

from __future__ import annotations


def register_resolvers() -> None:
    """Register every resolver once (called before any composition)."""
    # OmegaConf only when a config is composed
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("if_text_pairs"):
        OmegaConf.register_new_resolver("if_text_pairs", _if_text_pairs)
    if not OmegaConf.has_resolver("if_rnn_pairs"):
        OmegaConf.register_new_resolver("if_rnn_pairs", _if_rnn_pairs)
    if not OmegaConf.has_resolver("if_transcripts"):
        OmegaConf.register_new_resolver("if_transcripts", _if_text_pairs)
    if not OmegaConf.has_resolver("if_model"):
        OmegaConf.register_new_resolver("if_model", _if_model)


def _if_text_pairs(key, pairs, other):
    # One rule for both resolvers: A when the key that selects the other kind of data is set.
    return pairs if key else other


def _if_rnn_pairs(model_name, target_text, rnn_pairs, other):
    return rnn_pairs if model_name == "rnn" and target_text else other


def _if_model(model_name, family, then, other):
    return then if model_name == family else other
