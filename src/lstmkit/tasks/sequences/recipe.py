"""The sequence classifier's data-aware defaults and its preprocessing, each choice echoed in one line.

Every setting :class:`~lstmkit.tasks.sequences.classifier.SequenceClassifier` leaves at ``None`` is
chosen here from the training data, through :class:`lstmkit.util.advice.Advice` (which prints
``name=value: reason`` and records it); an explicit setting always wins. The rules, for the
convolutional models (``lstm_fcn``, ``alstm_fcn``; the plain ``lstm`` keeps its own defaults):

* ``normalize``: ``"series"`` (each series z-normalised on its own, per channel) when the series'
  scales differ a lot (the 90th percentile of the per-series standard deviation is more than
  :data:`SCALE_SPREAD` times the 10th, median over channels), else ``"feature"`` (one per-channel
  mean and deviation from all training steps, which keeps the level differences between series
  that often carry the class, e.g. speaker formants).
* ``downsample``: series whose mean length exceeds :data:`TARGET_LENGTH` are shortened by piecewise
  aggregate approximation (PAA: the mean of each run of ``k`` steps), ``k = ceil(mean / 256)``.
* ``batch_size``: about 16 steps per epoch, a power of two in ``[8, 32]`` (the batch-norm statistics
  need a few series per batch).
* ``epochs``: enough for :data:`FCN_STEPS` optimizer steps (the convolutions need far more than an
  LSTM's 300), within a compute budget of :data:`BUDGET` series-steps per fit (one series-step: one
  time step of one series through the network, plus :data:`STEP_OVERHEAD` for every optimizer step).
* ``ensemble``: as many seeds as fit in the same budget, 1 to :data:`MAX_ENSEMBLE`; their
  probabilities are averaged.
* ``selection``: hold out 10% (stratified) and keep the epoch with the best validation accuracy only
  when every class then has at least :data:`HOLDOUT_MIN_PER_CLASS` validation series; otherwise
  train on all the data and keep the epoch with the lowest training loss, the protocol of the
  deep-learning time-series literature for small sets (Wang et al. 2017; Fawaz et al. 2019, "Deep
  learning for time series classification: a review"; Karim et al. 2018), with the learning rate
  decaying to 0 on a cosine over the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmkit.util.advice import Advice, batch_size_for, class_counts, epochs_for, patience_for

#: per-series scale spread (90th / 10th percentile of the series' standard deviations) above which
#: each series is normalised on its own
SCALE_SPREAD = 10.0
#: mean length the convolutional models are shortened to (by PAA) when the series are longer
TARGET_LENGTH = 256
#: optimizer steps the convolutional models aim for
FCN_STEPS = 2000
#: fewest optimizer steps when the budget is tight
MIN_STEPS = 300
#: series-steps one fit may cost (all ensemble members together)
BUDGET = 9_000_000
#: series-step equivalents of one optimizer step's fixed cost (the recurrent branch, Python, Adam)
STEP_OVERHEAD = 2000
#: most seeds in the default ensemble
MAX_ENSEMBLE = 5
#: validation series per class a hold-out needs to choose the epoch
HOLDOUT_MIN_PER_CLASS = 5
#: hold-out fraction when one is used
HOLDOUT_FRACTION = 0.1


# --------------------------------------------------------------------------------- preprocessing
def series_normalize(sequence: np.ndarray) -> np.ndarray:
    """Each channel of one ``(T, F)`` series minus its mean over time, divided by its standard deviation
    (a constant channel becomes 0)."""
    x = np.asarray(sequence, dtype=np.float64)
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True)
    scale = np.where(std > 1e-8 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    return ((x - mean) / scale).astype(np.float32)


def paa(sequence: np.ndarray, factor: int) -> np.ndarray:
    """Piecewise aggregate approximation: the mean of each run of ``factor`` steps of a ``(T, F)`` series
    (the last run may be shorter), ``(ceil(T / factor), F)``."""
    if factor <= 1:
        return sequence
    x = np.asarray(sequence, dtype=np.float64)
    t = x.shape[0]
    full = (t // factor) * factor
    parts = [x[:full].reshape(t // factor, factor, x.shape[1]).mean(axis=1)] if full else []
    if full < t:
        parts.append(x[full:].mean(axis=0, keepdims=True))
    return np.concatenate(parts, axis=0).astype(np.float32)


def scale_spread(sequences: Sequence[np.ndarray]) -> float:
    """Median over channels of (90th / 10th percentile of the per-series standard deviations)."""
    std = np.stack([np.asarray(s, dtype=np.float64).std(axis=0) for s in sequences])  # (N, F)
    low = np.percentile(std, 10, axis=0)
    high = np.percentile(std, 90, axis=0)
    ratio = np.where(low > 0, high / np.maximum(low, 1e-300), np.where(high > 0, np.inf, 1.0))
    return float(np.median(ratio))


# ------------------------------------------------------------------------------------------ choices
def _fmt(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e4:
        return f"{n / 1e3:.0f}k"
    return f"{n:,.0f}"


def choose_normalize(advice: Advice, explicit: str | None, model: str, standardize: bool,
                     sequences: Sequence[np.ndarray]) -> str:
    if explicit is None and not standardize:
        return advice.choose("normalize", "none", "none", "given")  # standardize=False: the old spelling
    if model == "lstm":
        return advice.choose("normalize", explicit, "feature",
                             "model=lstm: per-feature mean and deviation of the training data")
    if explicit is not None:
        return advice.choose("normalize", explicit, explicit, "given")
    spread = scale_spread(sequences)
    if spread > SCALE_SPREAD:
        return advice.choose("normalize", None, "series",
                             f"the series' standard deviations span {spread:,.3g}x (10th to 90th percentile), "
                             f"so each series is z-normalised on its own")
    return advice.choose("normalize", None, "feature",
                         f"the series' scales are alike ({spread:.3g}x from the 10th to the 90th percentile), so "
                         "one per-feature scaling keeps the level differences between series")


def choose_downsample(advice: Advice, explicit: int | None, model: str, lengths: Sequence[int]) -> int:
    mean = float(np.mean(lengths))
    if model == "lstm":
        return advice.choose("downsample", explicit, 1, "model=lstm reads every step")
    if explicit is not None:
        return advice.choose("downsample", explicit, explicit, "given")
    factor = max(1, math.ceil(mean / TARGET_LENGTH))
    if factor == 1:
        return advice.choose("downsample", None, 1, f"mean training length {mean:,.0f} steps; every step is read")
    return advice.choose("downsample", None, factor,
                         f"mean training length {mean:,.0f} steps; the mean of each {factor} steps (PAA) "
                         f"gives {mean / factor:,.0f}, within the compute budget")


def choose_batch_size(advice: Advice, explicit: int | None, model: str, n: int) -> int:
    if model == "lstm":
        value, reason = batch_size_for(n)
    else:
        value, reason = batch_size_for(n, low=8)
    return advice.choose("batch_size", explicit, value, reason)


def epoch_cost(n: int, mean_length: float, batch_size: int) -> float:
    """Series-steps of one epoch: ``n * mean_length`` plus :data:`STEP_OVERHEAD` per optimizer step."""
    return n * mean_length + math.ceil(n / batch_size) * STEP_OVERHEAD


def choose_epochs(advice: Advice, explicit: int | None, model: str, n: int, batch_size: int,
                  mean_length: float) -> int:
    steps = max(1, math.ceil(n / batch_size))
    if model == "lstm":
        value, reason = epochs_for(n, batch_size)
        return advice.choose("epochs", explicit, value, reason)
    want = max(10, math.ceil(FCN_STEPS / steps))
    per_epoch = epoch_cost(n, mean_length, batch_size)
    affordable = int(BUDGET // per_epoch)
    floor = max(10, math.ceil(MIN_STEPS / steps))
    if want <= affordable:
        value = want
        reason = (f"{steps:,} steps per epoch ({n:,} series, batch {batch_size}); {value} epochs give "
                  f"{value * steps:,} gradient steps, the learning rate decaying on a cosine over them")
    else:
        value = max(floor, affordable)
        reason = (f"{steps:,} steps per epoch; {want} epochs ({FCN_STEPS:,} steps) would cost "
                  f"{_fmt(want * per_epoch)} series-steps, over the budget of {_fmt(BUDGET)}, so {value} epochs "
                  f"({value * steps:,} steps)")
    return advice.choose("epochs", explicit, value, reason)


def choose_ensemble(advice: Advice, explicit: int | None, model: str, member_cost: float) -> int:
    if model == "lstm":
        return advice.choose("ensemble", explicit, 1, "model=lstm: one network")
    count = int(min(MAX_ENSEMBLE, max(1, BUDGET // max(member_cost, 1.0))))
    reason = (f"one network costs about {_fmt(member_cost)} series-steps; {count} seed{'s' if count > 1 else ''} "
              f"fit the budget of {_fmt(BUDGET)} (probabilities averaged)")
    return advice.choose("ensemble", explicit, count, reason)


def choose_selection(advice: Advice, selection: str, validation_split: float | None, has_valid: bool,
                     labels: Sequence[Any]) -> tuple[str, float]:
    """``(mode, fraction)``: ``mode`` is ``holdout``, ``train_loss`` or ``none``; ``fraction`` the hold-out share."""
    counts = class_counts(labels)
    smallest = min(counts.values())
    if has_valid:
        return advice.choose("selection", selection if selection != "auto" else None, "holdout",
                             "a validation set was given: the epoch with the best validation accuracy is kept"), 0.0
    if selection != "auto":
        fraction = validation_split if validation_split is not None else HOLDOUT_FRACTION
        if selection == "holdout":
            advice.choose("validation_split", validation_split, fraction, "the hold-out share (stratified)")
        return advice.choose("selection", selection, selection, "given"), fraction
    if validation_split is not None:
        mode = "holdout" if validation_split > 0 else "none"
        return advice.choose("selection", None, mode, f"validation_split={validation_split:g} was given"), validation_split
    per_class = int(round(smallest * HOLDOUT_FRACTION))
    if per_class >= HOLDOUT_MIN_PER_CLASS:
        advice.choose("validation_split", None, HOLDOUT_FRACTION,
                      f"every class keeps at least {per_class} validation series")
        return advice.choose("selection", None, "holdout",
                             "the epoch with the best accuracy on the held-out series is kept"), HOLDOUT_FRACTION
    return advice.choose(
        "selection", None, "train_loss",
        f"the smallest class has {smallest} series, so a {HOLDOUT_FRACTION:.0%} hold-out would keep {per_class} "
        f"of it (fewer than {HOLDOUT_MIN_PER_CLASS}, too few to choose an epoch); trains on all of them and keeps "
        "the epoch with the lowest training loss"), 0.0


def choose_patience(advice: Advice, explicit: int | None, epochs: int) -> int:
    value, reason = patience_for(epochs)
    return advice.choose("patience", explicit, value, reason)


__all__ = [
    "SCALE_SPREAD", "TARGET_LENGTH", "FCN_STEPS", "MIN_STEPS", "BUDGET", "STEP_OVERHEAD", "MAX_ENSEMBLE",
    "HOLDOUT_MIN_PER_CLASS", "HOLDOUT_FRACTION", "series_normalize", "paa", "scale_spread", "epoch_cost",
    "choose_normalize", "choose_downsample", "choose_batch_size", "choose_epochs", "choose_ensemble",
    "choose_selection", "choose_patience",
]
