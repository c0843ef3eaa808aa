"""Watching a metric for improvement: shared by early stopping and reduce-on-plateau."""

from __future__ import annotations

import math
from typing import Any, Sequence

from lstmkit.errors import ConfigError


def _auto_mode(name: str) -> str:
    return "max" if ("acc" in name or "auc" in name or name.endswith("f1")) else "min"


class Monitor:
    """The best value so far of one metric (or a tuple of metrics, compared in order).

    ``monitor``: a name, or a sequence of names for tie-breaks (e.g. ``("val_accuracy", "val_loss")``:
    higher accuracy wins, equal accuracy is decided by lower loss). ``mode``: ``"min"``, ``"max"`` or
    ``"auto"`` (max for names with ``acc``/``auc``/``f1``, else min), one or one per name.
    ``min_delta`` applies to the first name: a value improves when it beats the best by more than
    ``min_delta``, or equals it on the first name and beats it on the tie-breaks. NaN never improves.
    """

    def __init__(self, monitor: str | Sequence[str], mode: str | Sequence[str] = "auto", min_delta: float = 0.0,
                 owner: str = "monitor") -> None:
        names = [monitor] if isinstance(monitor, str) else list(monitor) if isinstance(monitor, (list, tuple)) else None
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"monitor: expected a metric name or a list of names, found {monitor!r}")
        modes = [mode] * len(names) if isinstance(mode, str) else list(mode)
        if len(modes) != len(names):
            raise ConfigError(f"mode: expected one mode or {len(names)} (one per monitored name), found {mode!r}")
        for m in modes:
            if m not in ("auto", "min", "max"):
                raise ConfigError(f"mode: expected 'auto', 'min' or 'max', found {m!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise ConfigError(f"min_delta: expected a number >= 0, found {min_delta!r}")
        self.names = names
        self.modes = [(_auto_mode(n) if m == "auto" else m) for n, m in zip(names, modes)]
        self.min_delta = float(min_delta)
        self.owner = owner
        self.best: list[float] | None = None  # as logged (not sign-adjusted)

    @property
    def name(self) -> str:
        return self.names[0]

    def value(self, logs: dict[str, float]) -> list[float]:
        missing = [n for n in self.names if n not in logs]
        if missing:
            hint = " (val_ metrics need an evaluate function)" if missing[0].startswith("val_") else ""
            raise ConfigError(
                f"monitor: {self.owner} watches {missing[0]!r}, which this run does not log; available: "
                f"{sorted(logs)}{hint}"
            )
        return [float(logs[n]) for n in self.names]

    def _score(self, values: list[float]) -> list[float]:
        return [v if m == "max" else -v for v, m in zip(values, self.modes)]

    def improves(self, values: list[float]) -> bool:
        if any(math.isnan(v) for v in values):
            return False
        if self.best is None:
            return True
        s, b = self._score(values), self._score(self.best)
        if s[0] > b[0] + self.min_delta:
            return True
        return s[0] == b[0] and s[1:] > b[1:]

    def update(self, logs: dict[str, float], *, track_small_gains: bool = False) -> bool:
        """Whether ``logs`` improves on the best so far (then it becomes the best).

        ``track_small_gains``: a gain smaller than ``min_delta`` still moves the best (without counting as
        an improvement), so the reference is the true best (what reduce-on-plateau uses).
        """
        values = self.value(logs)
        better = self.improves(values)
        if better:
            self.best = values
        elif track_small_gains and self.best is not None and not any(math.isnan(v) for v in values):
            if self._score(values) > self._score(self.best):
                self.best = values
        return better

    def config(self) -> dict[str, Any]:
        return {"monitor": self.names[0] if len(self.names) == 1 else self.names,
                "mode": self.modes[0] if len(self.modes) == 1 else self.modes, "min_delta": self.min_delta}

    def state_dict(self) -> Any:
        return self.best

    def load_state_dict(self, state: Any) -> None:
        self.best = None if state is None else [float(v) for v in state]


__all__ = ["Monitor"]
