"""Learning-rate schedules, written once: constant, cosine with warm-up, reduce-on-plateau, step decay.

Each schedule computes the learning rate ``lr(t)`` of the optimizer's first parameter group from
its base value ``lr_0``; other groups keep their ratio to the first. The engine asks for the rate
before every optimizer step, and tells the schedule about every evaluation (``on_eval``) and every
finished epoch (``on_epoch_end``). Every schedule has ``state_dict`` / ``load_state_dict`` (plain
JSON), saved in training checkpoints.

Notation: ``t`` is the number of optimizer steps done (0 before the first), ``T`` the run's total
steps, ``s`` the elapsed training seconds and ``S`` the time budget, ``e`` the number of finished epochs.

>>> s = Cosine(warmup_steps=0, floor=0.1); s.start(1e-3, total_steps=100)
>>> round(s.lr(step=0), 6), round(s.lr(step=100), 6)
(0.001, 0.0001)
"""

from __future__ import annotations

import math
from typing import Any

from lstmkit.errors import ConfigError
from lstmkit.train.monitor import Monitor


def _number(name: str, value: Any, low: float, high: float | None = None, *, open_low: bool = False,
            open_high: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (
            high is None or (value < high if open_high else value <= high))
    if not ok:
        lo = f"{'(' if open_low else '['}{low:g}"
        hi = f"{high:g}{')' if open_high else ']'}" if high is not None else "inf)"
        raise ConfigError(f"{name}: expected a number in {lo}, {hi}, found {value!r}")
    return float(value)


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name}: expected an integer >= {low}, found {value!r}")
    return int(value)


class Schedule:
    """Base class: a constant rate. Subclasses override :meth:`lr` and the event hooks."""

    name = "constant"

    def __init__(self) -> None:
        self.base_lr = 0.0
        self.total_steps: int | None = None
        self.budget_seconds: float | None = None

    def start(self, base_lr: float, total_steps: int | None = None, budget_seconds: float | None = None) -> None:
        """Called by the engine before training: ``lr_0``, ``T`` (None: unknown) and ``S`` (None: no time budget)."""
        self.base_lr = float(base_lr)
        self.total_steps = total_steps
        self.budget_seconds = budget_seconds

    def lr(self, step: int, elapsed: float = 0.0) -> float:
        """The rate for the optimizer step after ``step`` steps, ``elapsed`` training seconds in."""
        return self.base_lr

    def on_eval(self, logs: dict[str, float]) -> None:
        """After an evaluation (epoch end, or every ``eval_every`` steps)."""

    def on_epoch_end(self, epochs_done: int, logs: dict[str, float]) -> None:
        """After epoch ``epochs_done`` (1-based) ends."""

    def config(self) -> dict[str, Any]:
        """The settings (part of a checkpoint's fingerprint)."""
        return {"name": self.name}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr(t) = lr_0``."""


class Cosine(Schedule):
    r"""Cosine decay with a linear warm-up and a floor.

    .. math::

        lr(t) = lr_0 \cdot \min\left(1, \frac{t + 1}{W}\right) \cdot
                \left(f + (1 - f) \cdot \tfrac12 \left(1 + \cos(\pi p)\right)\right)

    ``W = warmup_steps`` (0: no warm-up factor), ``f = floor`` (the final rate as a fraction of
    ``lr_0``), and the progress ``p`` in ``[0, 1]`` is ``t / T`` over steps (``over="steps"``),
    ``min(1, s / S)`` over the time budget (``over="time"``), or with ``over="auto"``: over steps
    when the run has a step count (epochs or ``max_steps``), else over time. ``T`` may be given
    here (``total_steps``) or comes from the run.
    """

    name = "cosine"

    def __init__(self, warmup_steps: int = 0, floor: float = 0.0, over: str = "auto",
                 total_steps: int | None = None) -> None:
        super().__init__()
        self.warmup_steps = _int("warmup_steps", warmup_steps, 0)
        self.floor = _number("floor", floor, 0.0, 1.0)
        if over not in ("auto", "steps", "time"):
            raise ConfigError(f"over: expected 'auto', 'steps' or 'time', found {over!r}")
        self.over = over
        self.fixed_total = None if total_steps is None else _int("total_steps", total_steps, 1)

    def start(self, base_lr: float, total_steps: int | None = None, budget_seconds: float | None = None) -> None:
        super().start(base_lr, self.fixed_total or total_steps, budget_seconds)
        over = self.over
        if over == "auto":
            over = "steps" if self.total_steps is not None else "time"
        if over == "steps" and self.total_steps is None:
            raise ConfigError("schedule 'cosine' over steps: the run has no step count; give epochs, max_steps or total_steps")
        if over == "time" and self.budget_seconds is None:
            raise ConfigError("schedule 'cosine' over time: the run has no time budget; give minutes")
        self._by_time = over == "time"

    def progress(self, step: int, elapsed: float) -> float:
        if self._by_time:
            return min(1.0, elapsed / self.budget_seconds)
        return min(1.0, step / self.total_steps)

    def lr(self, step: int, elapsed: float = 0.0) -> float:
        lr = self.base_lr
        if self.warmup_steps:
            lr *= min(1.0, (step + 1) / self.warmup_steps)
        p = self.progress(step, elapsed)
        return lr * (self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * p)))

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "warmup_steps": self.warmup_steps, "floor": self.floor, "over": self.over,
                "total_steps": self.fixed_total}


class ReduceOnPlateau(Schedule):
    r"""Multiply the rate by ``factor`` after ``patience`` evaluations without improvement.

    .. math::  lr = \max(lr_{min},\ lr_0 \cdot factor^{k})

    where ``k`` counts the reductions so far. An evaluation *improves* when the monitored value
    beats the best seen so far by more than ``min_delta`` (lower for ``mode="min"``, higher for
    ``"max"``; ``"auto"``: max for accuracy/AUC names, else min). After a reduction the count of
    evaluations without improvement starts again. Evaluations happen at epoch ends by default
    (and every ``eval_every`` steps if the run asks for it); without an ``evaluate`` function the
    monitor can watch the training ``loss``.
    """

    name = "plateau"

    def __init__(self, monitor: str = "val_loss", factor: float = 0.5, patience: int = 1, min_delta: float = 1e-4,
                 mode: str = "auto", min_lr: float = 0.0) -> None:
        super().__init__()
        self.monitor = Monitor(monitor, mode, min_delta, owner="schedule 'plateau'")
        self.factor = _number("factor", factor, 0.0, 1.0, open_low=True)
        self.patience = _int("patience", patience, 1)
        self.min_lr = _number("min_lr", min_lr, 0.0)
        self.scale = 1.0
        self.wait = 0

    def lr(self, step: int, elapsed: float = 0.0) -> float:
        return max(self.min_lr, self.base_lr * self.scale)

    def on_eval(self, logs: dict[str, float]) -> None:
        if self.monitor.update(logs, track_small_gains=True):
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.scale *= self.factor
            self.wait = 0

    def config(self) -> dict[str, Any]:
        return {"name": self.name, **self.monitor.config(), "factor": self.factor, "patience": self.patience,
                "min_lr": self.min_lr}

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "wait": self.wait, "best": self.monitor.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.wait = int(state["wait"])
        self.monitor.load_state_dict(state["best"])


class StepDecay(Schedule):
    r"""Multiply the rate by ``factor`` at the end of every epoch from epoch ``start_epoch`` on.

    .. math::  lr(e) = lr_0 \cdot factor^{\max(0,\ e - \max(k, 1) + 1)}

    with ``e`` the finished epochs and ``k = start_epoch``: with ``k = 4`` epochs 1-4 run at
    ``lr_0``, epoch 5 at ``lr_0 \cdot factor``, epoch 6 at ``lr_0 \cdot factor^2`` ...
    """

    name = "step"

    def __init__(self, factor: float = 0.5, start_epoch: int = 4) -> None:
        super().__init__()
        self.factor = _number("factor", factor, 0.0, 1.0, open_low=True)
        self.start_epoch = _int("start_epoch", start_epoch, 0)
        self.epochs_done = 0

    def lr(self, step: int, elapsed: float = 0.0) -> float:
        k = max(0, self.epochs_done - max(self.start_epoch, 1) + 1)
        return self.base_lr * self.factor ** k

    def on_epoch_end(self, epochs_done: int, logs: dict[str, float]) -> None:
        self.epochs_done = epochs_done

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "factor": self.factor, "start_epoch": self.start_epoch}

    def state_dict(self) -> dict[str, Any]:
        return {"epochs_done": self.epochs_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs_done = int(state["epochs_done"])


SCHEDULES = {"constant": Constant, "cosine": Cosine, "plateau": ReduceOnPlateau, "step": StepDecay}
_SCHEDULE_ALIASES = {"none": "constant", "reduce_on_plateau": "plateau", "reduce-on-plateau": "plateau",
                     "step_decay": "step", "step-decay": "step", "cos": "cosine"}


def make_schedule(schedule: Any = None, **options: Any) -> Schedule:
    """A :class:`Schedule` from a name (``constant``, ``cosine``, ``plateau``, ``step``) and its options.

    ``None`` is constant; a :class:`Schedule` object is returned as is (options must then be empty).
    """
    if schedule is None:
        schedule = "constant"
    if isinstance(schedule, Schedule):
        if options:
            raise ConfigError(f"schedule: options {sorted(options)} given with a Schedule object; pass them to it")
        return schedule
    if not isinstance(schedule, str):
        raise ConfigError(f"schedule: expected a name or a Schedule, found {type(schedule).__name__}")
    key = _SCHEDULE_ALIASES.get(schedule.strip().lower(), schedule.strip().lower())
    if key not in SCHEDULES:
        raise ConfigError(f"schedule: expected one of {', '.join(SCHEDULES)}, found {schedule!r}")
    try:
        return SCHEDULES[key](**options)
    except TypeError as e:
        raise ConfigError(f"schedule {key!r}: {e}") from None


__all__ = ["Schedule", "Constant", "Cosine", "ReduceOnPlateau", "StepDecay", "SCHEDULES", "make_schedule"]
