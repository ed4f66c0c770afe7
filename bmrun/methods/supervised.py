"""Supervised learning: every training example has its label (the default method)."""

from __future__ import annotations

from bmrun.methods.base import Method


class Supervised(Method):
    """The labeled batch through the model, the task's loss on its outputs."""

    @classmethod
    def from_config(cls, config, data) -> "Supervised":
        return cls()
