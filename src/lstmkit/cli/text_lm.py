"""``lstmkit text train-lm | generate``: thin commands over :mod:`lstmkit.tasks`."""

from __future__ import annotations

import typer


def register(text_app: typer.Typer) -> None:
    """Add the language-model commands to ``lstmkit text``."""
