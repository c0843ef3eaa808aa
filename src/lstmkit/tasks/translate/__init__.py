"""Machine translation.

* :mod:`~lstmkit.tasks.translate.decode`: greedy decoding and batched beam search (GNMT length
  normalisation) for any model with the encoder-decoder interface of
  :class:`lstmkit.nn.seq2seq.Seq2SeqLSTM` and :class:`lstmkit.nn.transformer.TransformerSeq2Seq`.
"""

from __future__ import annotations

__all__ = ["decode"]


def __getattr__(name: str):
    # The Translator is imported on first use (it pulls in the data readers and the training engine).
    if name in ("Translator", "TranslatorConfig"):
        from lstmkit.tasks.translate import translator

        return getattr(translator, name)
    raise AttributeError(f"module 'lstmkit.tasks.translate' has no attribute {name!r}")
