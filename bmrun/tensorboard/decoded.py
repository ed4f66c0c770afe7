"""TensorBoard's TEXT tab for text-pair runs: sources, references and decoded outputs side by side.

After each validation the first few validation sources are decoded greedily (a handful: it
costs one short decoding loop, not a pass over the split), and after the final test the first
test sources; each table is one ``tf.summary.text`` (Markdown) under the tag ``decoded``, in the
``val`` and ``test`` writers, so TensorBoard's slider shows how the outputs change epoch by
epoch. Nothing is written for other task kinds or when TensorBoard is off.
"""

from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf

from bmrun.specs import SEQ2SEQ

VAL_EXAMPLES, TEST_EXAMPLES = 8, 20


def build_decoded_texts(tensorboard, *, model, pipeline, **_) -> Optional["DecodedTexts"]:
    """The hook of a text-pair run with TensorBoard on, else None."""
    data = pipeline.data
    if data.task.kind != SEQ2SEQ or not tensorboard.enabled:
        return None
    return DecodedTexts(tensorboard, model, data)


class DecodedTexts:
    """Writes the ``decoded`` text tables of one run (see the module docstring)."""

    def __init__(self, tensorboard, model, data):
        self.tensorboard, self.model, self.data = tensorboard, model, data

    def on_epoch_end(self, step: int) -> None:
        self._write("val", VAL_EXAMPLES, step)

    def on_test_end(self, step: int) -> None:
        self._write("test", TEST_EXAMPLES, step)

    def _write(self, split_name: str, count: int, step: int) -> None:
        # the seq2seq task (sacrebleu): text-pair runs only
        from bmrun.tasks.seq2seq import Seq2Seq

        split = getattr(self.data, split_name)
        sources, references = split.texts["source"][:count], split.texts["reference"][:count]
        if not sources:
            return
        outputs = Seq2Seq.decode(self.model, split.x["source"][:count], self.data.columns, batch_size=count)
        with self.tensorboard.writer(split_name).as_default():
            tf.summary.text("decoded", markdown_table(sources, references, outputs, self.data.columns["tokens"]),
                            step=step)


def markdown_table(sources: Sequence[str], references: Sequence[str], outputs: Sequence[str], tokens: str) -> str:
    """A Markdown table, one row per example; each output marked ✓ when it is an exact match."""
    # text-pair runs only
    from bmrun.tasks.vocabulary import normalized

    rows = ["| source | reference | output | |", "|---|---|---|---|"]
    for source, reference, output in zip(sources, references, outputs):
        mark = "✓" if output == normalized(reference, tokens) else "✗"
        rows.append(f"| {_cell(source)} | {_cell(reference)} | {_cell(output)} | {mark} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """A text safe inside a Markdown table cell (pipes escaped, empty shown as such)."""
    return text.replace("|", "\\|") if text else "*(empty)*"
