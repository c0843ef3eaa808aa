"""Sequence classification of sensor and speech data: the
:class:`~lstmkit.tasks.sequences.classifier.SequenceClassifier` estimator and its networks."""

from __future__ import annotations

__all__ = ["classifier"]
