"""Text: classification (:mod:`.classifier`, :mod:`.sentiment`, :mod:`.lm_pretraining`) and language models
(:mod:`.language_model` with its network :mod:`.lm_network`)."""

from __future__ import annotations

__all__ = ["classifier", "sentiment", "lm_pretraining", "language_model", "lm_network"]
