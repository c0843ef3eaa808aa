"""``lstmkit text train-classifier | classify | evaluate``: thin commands over :mod:`lstmkit.tasks`."""

from __future__ import annotations

import typer


def register(text_app: typer.Typer) -> None:
    """Add the text-classification commands to ``lstmkit text``."""
