"""Stream programs for the task models (Forecaster, SequenceClassifier, TextClassifier, language models)."""

from __future__ import annotations

from typing import Any

from lstmkit.errors import ConfigError
from lstmkit.stream.programs import StreamProgram


def task_program(model: Any) -> StreamProgram:
    """The :class:`StreamProgram` of a task model; a model that cannot be stepped is a ConfigError saying why."""
    raise ConfigError(f"model: a {type(model).__name__} cannot be stepped by StreamEngine yet")


__all__ = ["task_program"]
