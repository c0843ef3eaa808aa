"""The text classifier's data-aware defaults: the rules :class:`~lstmkit.tasks.text.classifier.TextClassifier`
applies to the settings a user leaves unset (``None``), each returning ``(value, reason)``.

The general rules (length percentile, batch size, epochs, patience, stratified split, warnings) are
:mod:`lstmkit.util.advice`; this module holds the ones that belong to text classification:

* :func:`max_length_for`: the 95th percentile of the training texts' token counts, rounded up to a
  multiple of 8, between 8 and :data:`MAX_LENGTH_CAP`;
* :func:`embedding_dim_for`: the embedding size from the number of training tokens (a small embedding
  overfits less when there is little text);
* :func:`valid_fraction_for`: how much of the training data to hold out for early stopping and the
  architecture choice when no validation data is given;
* :func:`architecture_candidates` / :func:`selection_epochs`: which (pooling, bidirectional) pairs
  are tried on the validation split, and for how many epochs each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lstmkit.util.advice import percentile_length

#: Longest ``max_length`` chosen from the data (an explicit ``max_length`` may be longer). Each token
#: is one LSTM step, so training time grows with it; 1,024 keeps ~95% of a long review (mean 750 words).
MAX_LENGTH_CAP = 1024

#: The validation split aims for this many texts (fraction between the bounds below).
VALID_TARGET = 500
VALID_MIN_FRACTION = 0.1
VALID_MAX_FRACTION = 0.2

#: (pooling, bidirectional) pairs tried when both are left unset, cheapest first (ties go to the
#: earlier one). ``("last", False)`` is the fast path: one direction, the last state only.
CANDIDATES: tuple[tuple[str, bool], ...] = (("last", False), ("mean", True))

#: Poolings tried when only ``bidirectional`` is given, and bidirectionality tried when only ``pooling`` is.
POOLING_CANDIDATES = ("last", "mean")


def max_length_for(lengths: Sequence[int] | np.ndarray, cap: int = MAX_LENGTH_CAP) -> tuple[int, str]:
    """``max_length`` from the token counts of the training texts (95th percentile, multiple of 8)."""
    return percentile_length(lengths, 95.0, low=8, high=cap, what="training texts' token counts")


#: ``(fewer training tokens than this, embedding_dim)``, first match wins; beyond the last: :data:`EMBEDDING_DIM_LARGE`.
EMBEDDING_DIM_STEPS: tuple[tuple[int, int], ...] = ((500_000, 32), (10_000_000, 64))
EMBEDDING_DIM_LARGE = 128


def embedding_dim_for(n_tokens: int) -> tuple[int, str]:
    """``embedding_dim`` from the training tokens the model reads (after ``max_length``): 32 below 500k,
    64 below 10M, else 128. Each vocabulary word gets ``embedding_dim`` weights learned from its own
    occurrences only, so with little text a wide embedding memorises rare words (measured on two
    development sets: docs/text.md)."""
    n = int(n_tokens)
    for limit, dim in EMBEDDING_DIM_STEPS:
        if n < limit:
            return dim, f"{n:,} training tokens, fewer than {limit:,}: a small embedding overfits less on little text"
    return EMBEDDING_DIM_LARGE, f"{n:,} training tokens, at least {EMBEDDING_DIM_STEPS[-1][0]:,}"


def valid_fraction_for(n_texts: int) -> tuple[float, str]:
    """The fraction of the training texts held out: enough for about :data:`VALID_TARGET` texts,
    between 10% and 20%. ``n_texts=300 -> 0.2``, ``2,500 -> 0.2``, ``5,000 -> 0.1``."""
    n = max(1, int(n_texts))
    raw = VALID_TARGET / n
    value = float(min(VALID_MAX_FRACTION, max(VALID_MIN_FRACTION, raw)))
    value = round(value, 2)
    held = int(round(n * value))
    return value, (f"{held:,} of {n:,} training texts held out (stratified by class) to choose the epoch"
                   f" and the architecture; aims at {VALID_TARGET} texts, between "
                   f"{VALID_MIN_FRACTION:.0%} and {VALID_MAX_FRACTION:.0%}")


def architecture_candidates(pooling: str | None, bidirectional: bool | None) -> list[tuple[str, bool]]:
    """The (pooling, bidirectional) pairs to try: only the unset parts vary."""
    if pooling is None and bidirectional is None:
        return list(CANDIDATES)
    if pooling is None:
        return [(p, bool(bidirectional)) for p in POOLING_CANDIDATES]
    if bidirectional is None:
        return [(pooling, False), (pooling, True)]
    return [(pooling, bool(bidirectional))]


def describe(pooling: str, bidirectional: bool) -> str:
    return f"{'bidirectional' if bidirectional else 'one-direction'} LSTM, {pooling} pooling"


def selection_epochs(epochs: int, steps_per_epoch: int, min_steps: int = 150) -> int:
    """Epochs each candidate trains before the choice: about a quarter of ``epochs`` and at least
    ``min_steps`` optimizer steps (so the comparison is not of untrained models), at most ``epochs``."""
    by_steps = math.ceil(min_steps / max(1, steps_per_epoch))
    return int(max(1, min(epochs, max(math.ceil(epochs / 4), by_steps))))


__all__ = ["MAX_LENGTH_CAP", "CANDIDATES", "POOLING_CANDIDATES", "max_length_for", "valid_fraction_for", "embedding_dim_for",
           "architecture_candidates", "selection_epochs", "describe"]
