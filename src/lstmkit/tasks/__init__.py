"""Whole jobs built on lstmkit (the sentiment demo ...). Each task is a plain Python API; the CLI only prints."""

from __future__ import annotations

__all__ = ["sentiment"]
