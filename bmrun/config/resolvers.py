"""The OmegaConf resolvers bmrun's YAML files use (no TensorFlow).

``${if_text_pairs:${data.target_text},A,B}`` is A for text pairs and B otherwise: one dataset
option, ``data=csv``, reads two kinds of data, and ``conf/data/csv.yaml`` trains a table for up
to 100 epochs but text pairs for a few large-batch ones. ``${if_transcripts:${data.transcripts},A,B}``
does the same for ``data=audio_folder``: keyword clips or speech to text. A key set on the command line replaces
the interpolation, so it still wins; a run dir's ``config.yaml`` is saved resolved.
"""

from __future__ import annotations


def register_resolvers() -> None:
    """Register every resolver once (called before any composition)."""
    # OmegaConf only when a config is composed
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("if_text_pairs"):
        OmegaConf.register_new_resolver("if_text_pairs", _if_text_pairs)
    if not OmegaConf.has_resolver("if_transcripts"):
        OmegaConf.register_new_resolver("if_transcripts", _if_text_pairs)


def _if_text_pairs(key, pairs, other):
    # One rule for both resolvers: A when the key that selects the other kind of data is set.
    return pairs if key else other
