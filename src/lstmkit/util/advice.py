"""Data-aware defaults and the warnings that replace silent failure.

Every estimator (text, sequence and forecasting) sizes the settings the user left unset from the data
it is given, and says so in one line each, for example::

    max_length=38: 95th percentile of 1,204 training texts' token counts (longest 112)
    batch_size=8: 60 training samples; 8 gives 8 steps per epoch

An explicit setting always wins and is recorded as ``given``. When a fit is likely to be useless
(a validation set too small to choose an epoch, a kept model at chance, too few gradient steps, a
column without a name) the estimator raises a :class:`~lstmkit.errors.LstmkitWarning` instead of
staying silent. Both are kept on the estimator (``advice_``) and in the run's report.

This module is pure Python + numpy: the lowest layer, so every task can use it.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from lstmkit.errors import DataError, LstmkitWarning

#: fewer optimizer steps than this over a whole fit draws a warning
MIN_GRADIENT_STEPS = 300


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Choice:
    """One setting: its ``name``, the ``value`` used and why (``reason``; ``"given"`` when explicit)."""

    name: str
    value: Any
    reason: str

    @property
    def given(self) -> bool:
        return self.reason == "given"

    def line(self) -> str:
        return f"{self.name}={self.value}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, (np.integer, np.floating)):
            value = value.item()
        elif not isinstance(value, (int, float, str, bool, type(None), list)):
            value = str(value)
        return {"name": self.name, "value": value, "reason": self.reason}


@dataclass
class Advice:
    """The choices an estimator made from the data and the warnings it raised.

    ``echo`` receives each chosen default's one-line explanation (stderr by default; ``None`` for
    silence). Warnings always go through :mod:`warnings` as :class:`LstmkitWarning`, so
    ``warnings.simplefilter`` and ``pytest.warns`` see them, and the CLI prints each as one line.
    """

    echo: Callable[[str], None] | None = _stderr
    choices: list[Choice] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def choose(self, name: str, explicit: Any, value: Any, reason: str) -> Any:
        """``explicit`` when it is not None (recorded as given), else ``value`` with its ``reason``."""
        if explicit is not None:
            self.choices.append(Choice(name, explicit, "given"))
            return explicit
        choice = Choice(name, value, reason)
        self.choices.append(choice)
        if self.echo is not None:
            self.echo(choice.line())
        return value

    def note(self, name: str, value: Any, reason: str) -> None:
        """Record (and echo) a decision that is not a parameter default, e.g. the model a
        validation window selected."""
        self.choose(name, None, value, reason)

    def warn(self, message: str, stacklevel: int = 3) -> None:
        """Record ``message`` and raise it as a :class:`LstmkitWarning` (one line)."""
        self.warnings.append(message)
        warnings.warn(message, LstmkitWarning, stacklevel=stacklevel)

    def get(self, name: str) -> Any:
        """The value last chosen for ``name`` (KeyError when never chosen)."""
        for choice in reversed(self.choices):
            if choice.name == name:
                return choice.value
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"choices": [c.to_json() for c in self.choices], "warnings": list(self.warnings)}


# ---------------------------------------------------------------------------------------------
# sizing rules


def percentile_length(lengths: Sequence[int] | np.ndarray, q: float = 95.0, low: int = 8,
                      high: int | None = None, what: str = "training texts' token counts") -> tuple[int, str]:
    """A sequence length that covers ``q`` percent of ``lengths``: ``(value, reason)``.

    Rounded up to a multiple of 8 (cheap for the matrix kernels), at least ``low`` and at most
    ``high``. Used for ``max_length`` of texts instead of a fixed 400.
    """
    arr = np.asarray(lengths, dtype=np.int64)
    if arr.size == 0:
        return low, "no lengths to measure"
    raw = int(math.ceil(float(np.percentile(arr, q))))
    value = max(low, int(math.ceil(raw / 8.0) * 8))
    if high is not None:
        value = min(value, high)
    reason = (f"{q:g}th percentile of {arr.size:,} {what} is {raw} (longest {int(arr.max())}), "
              f"rounded up to a multiple of 8")
    if high is not None and value == high and raw > high:
        reason += f", capped at {high}"
    return value, reason


def batch_size_for(n_samples: int, target_steps_per_epoch: int = 16, low: int = 4,
                   high: int = 32) -> tuple[int, str]:
    """A power-of-two batch size that gives small sets at least ``target_steps_per_epoch`` steps.

    ``n // target`` rounded down to a power of two, clipped to ``[low, high]``: 60 samples -> 4,
    500 -> 16, 10,000 -> 32 (``high``).
    """
    n = max(1, int(n_samples))
    raw = max(1, n // max(1, target_steps_per_epoch))
    value = 1 << int(math.floor(math.log2(raw)))
    value = int(min(high, max(low, value)))
    steps = math.ceil(n / value)
    return value, f"{n:,} training samples; {value} gives {steps:,} steps per epoch"


def epochs_for(n_samples: int, batch_size: int, min_steps: int = MIN_GRADIENT_STEPS, low: int = 10,
               high: int = 200) -> tuple[int, str]:
    """Enough epochs for at least ``min_steps`` optimizer steps, within ``[low, high]``."""
    steps_per_epoch = max(1, math.ceil(max(1, n_samples) / max(1, batch_size)))
    value = int(min(high, max(low, math.ceil(min_steps / steps_per_epoch))))
    return value, (f"{steps_per_epoch:,} steps per epoch; {value} epochs give up to "
                   f"{value * steps_per_epoch:,} steps (early stopping may end sooner)")


def patience_for(epochs: int, low: int = 3, fraction: float = 0.2) -> tuple[int, str]:
    """Early-stopping patience: a fifth of the epochs, at least ``low``."""
    value = max(low, int(round(epochs * fraction)))
    return value, f"{fraction:.0%} of {epochs} epochs (at least {low})"


# ---------------------------------------------------------------------------------------------
# validation splits


def class_counts(labels: Iterable[Any]) -> dict[Any, int]:
    values, counts = np.unique(np.asarray(list(labels), dtype=object).astype(str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}


def require_per_class(labels: Sequence[Any], minimum: int, what: str, option: str) -> None:
    """A :class:`DataError` naming the smallest class when any class has fewer than ``minimum``."""
    counts = class_counts(labels)
    if not counts:
        raise DataError(f"{what}: no samples; need at least {minimum} per class")
    small = min(counts, key=lambda k: counts[k])
    if counts[small] < minimum:
        raise DataError(
            f"{what}: class {small!r} has {counts[small]} sample(s); need at least {minimum} per class "
            f"to train and validate ({option})")
    if len(counts) < 2:
        raise DataError(f"{what}: only one class ({small!r}); a classifier needs at least 2")


def stratified_split(labels: Sequence[Any], fraction: float, seed: int = 0,
                     min_per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)``: ``fraction`` of each class held out, at least ``min_per_class``
    of each class in validation (when the class has enough to also keep one for training), and at
    least one of each in training. Deterministic for a ``seed``."""
    y = np.asarray(labels, dtype=object).astype(str)
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for cls in sorted(set(y.tolist())):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(idx.size)]
        k = int(round(idx.size * fraction))
        k = max(k, min(min_per_class, idx.size - 1))
        k = min(k, idx.size - 1)
        valid.extend(idx[:k].tolist())
        train.extend(idx[k:].tolist())
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(valid, dtype=np.int64))


def check_validation_size(advice: Advice, n_valid: int, n_classes: int | None = None,
                          minimum: int = 30, option: str = "--valid-fraction") -> bool:
    """Warn (and return False) when a validation set is too small to choose an epoch reliably."""
    need = minimum if n_classes is None else max(minimum, 5 * n_classes)
    if n_valid < need:
        advice.warn(f"the validation set has {n_valid} samples, too few to choose the epoch reliably "
                    f"(want at least {need}); the choice is noisy. Give more data, a larger {option}, "
                    f"or a separate validation file")
        return False
    return True


# ---------------------------------------------------------------------------------------------
# checks after a fit


def chance_level(labels: Sequence[Any]) -> float:
    """Accuracy of always predicting the most frequent class."""
    counts = class_counts(labels)
    total = sum(counts.values())
    return max(counts.values()) / total if total else 0.0


def check_not_chance(advice: Advice, accuracy: float, labels: Sequence[Any], where: str,
                     margin: float = 0.05) -> bool:
    """Warn (and return False) when ``accuracy`` is within ``margin`` of the majority-class rate."""
    chance = chance_level(labels)
    if accuracy <= chance + margin:
        advice.warn(f"the kept model's {where} accuracy {accuracy:.3f} is at or near chance "
                    f"({chance:.3f}, the most frequent class); it has not learned. Try more epochs, "
                    f"another model, or check the labels")
        return False
    return True


def check_gradient_steps(advice: Advice, steps: int, minimum: int = MIN_GRADIENT_STEPS,
                         remedy: str = "raise --epochs or lower --batch-size") -> bool:
    """Warn (and return False) when a fit took fewer than ``minimum`` optimizer steps."""
    if steps < minimum:
        advice.warn(f"training took {steps} gradient steps, fewer than {minimum}; the model may be "
                    f"under-trained ({remedy})")
        return False
    return True


def check_column_names(advice: Advice, names: Sequence[Any], source: str) -> bool:
    """Warn about empty or duplicated column names in a table read from ``source``."""
    ok = True
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        text = "" if name is None else str(name).strip()
        if text == "" or text.lower().startswith("unnamed:"):
            advice.warn(f"{source}: column {i + 1} has an empty name (an index column?); it is not "
                        f"used as a target unless named explicitly")
            ok = False
        if text in seen and text != "":
            advice.warn(f"{source}: column name {text!r} appears twice (columns {seen[text] + 1} and "
                        f"{i + 1})")
            ok = False
        seen.setdefault(text, i)
    return ok


def check_non_negative_bounds(advice: Advice, history: np.ndarray, lower_bounds: np.ndarray,
                              column: str, option: str = "--transform log") -> bool:
    """Warn when a series that never goes below zero gets interval bounds below zero."""
    hist = np.asarray(history, dtype=np.float64)
    low = np.asarray(lower_bounds, dtype=np.float64)
    if hist.size and np.nanmin(hist) >= 0 and low.size and np.nanmin(low) < 0:
        advice.warn(f"{column}: the data is never negative but interval bounds go down to "
                    f"{np.nanmin(low):.4g}; bounds are clipped at 0 (use {option} to model it "
                    f"on a log scale)")
        return False
    return True


__all__ = [
    "MIN_GRADIENT_STEPS",
    "Advice",
    "Choice",
    "percentile_length",
    "batch_size_for",
    "epochs_for",
    "patience_for",
    "class_counts",
    "require_per_class",
    "stratified_split",
    "check_validation_size",
    "chance_level",
    "check_not_chance",
    "check_gradient_steps",
    "check_column_names",
    "check_non_negative_bounds",
]
