"""What a run shows and records: a rich progress bar per epoch (or one line per epoch) and a JSONL log.

``verbose`` as in Keras: 0 silent, 1 a bar per epoch with loss, metrics and ETA (on a terminal;
elsewhere it falls back to 2), 2 one line per epoch. The bar reads the running loss (a host sync)
at most ten times a second.

The JSONL metrics log holds one JSON object per line::

    {"event": "step", "epoch": 1, "step": 100, "loss": 0.6931, "lr": 0.001, "metrics": {...}, "elapsed": 3.2}

``event`` is ``step`` (every ``log_every`` steps; ``loss`` and metrics are means since the previous
step line), ``eval`` (an evaluation; ``metrics`` holds its results) or ``epoch`` (an epoch's end:
its mean loss and metrics, and any evaluation). ``epoch`` is 1-based, ``step`` counts optimizer steps,
``elapsed`` is training seconds.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

from lstmkit.errors import ConfigError

REFRESH_SECONDS = 0.1


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items())


class Progress:
    """The console side of a run (only rank 0 makes one that prints)."""

    def __init__(self, verbose: int, epochs: int | None, console: Any = None) -> None:
        self.verbose = verbose
        self.epochs = epochs
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        self._start = 0.0
        self._steps: int | None = None
        if verbose:
            from rich.console import Console

            self.console = console or Console(highlight=False)
            if verbose == 1 and not self.console.is_terminal:
                self.verbose = 2
        else:
            self.console = None

    def _title(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}/{self.epochs}" if self.epochs else f"Epoch {epoch + 1}"

    def epoch_begin(self, epoch: int, steps: int | None, done: int = 0) -> None:
        self._start = time.monotonic()
        self._steps = steps
        if self.verbose == 1:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.console.print(self._title(epoch))
            self._bar = RichProgress(
                MofNCompleteColumn(), BarColumn(bar_width=30), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), TextColumn("{task.fields[logs]}"), console=self.console, auto_refresh=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("train", total=steps, completed=done, logs="")
            self._last = 0.0

    def due(self) -> bool:
        """Whether a redraw is due (at most ten a second): only then does the engine read the loss back."""
        if self._bar is None:
            return False
        now = time.monotonic()
        if now - self._last >= REFRESH_SECONDS:
            self._last = now
            return True
        return False

    def update(self, done: int, logs_fn: Callable[[], dict[str, float]]) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, logs=format_logs(logs_fn()))
            self._bar.refresh()

    def epoch_end(self, epoch: int, done: int, logs: dict[str, float]) -> None:
        seconds = time.monotonic() - self._start
        if self._bar is not None:
            self._bar.update(self._task, completed=done, logs=format_logs(logs))
            self._bar.refresh()
            self._bar.stop()
            self._bar = None
        elif self.verbose == 2:
            per_step = seconds / max(1, done) * 1000
            self.console.print(f"{self._title(epoch)} - {seconds:.0f}s - {per_step:.0f}ms/step - {format_logs(logs)}")

    def line(self, text: str) -> None:
        if self.verbose:
            if self._bar is not None:
                self._bar.console.print(text)
            else:
                self.console.print(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else (1e308 if v > 0 else -1e308)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    return v


class MetricsLog:
    """An append-only JSONL file of events (see the module docstring). ``append=False`` starts it afresh."""

    def __init__(self, path: Any, append: bool = False) -> None:
        path = Path(os.fspath(path)).expanduser()
        if path.is_dir():
            raise ConfigError(f"log_path: expected a file path, found the directory {str(path)!r}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._f = path.open("a" if append else "w", encoding="utf-8", buffering=1)
        except OSError as e:
            raise ConfigError(f"log_path: cannot write {str(path)!r} ({e.strerror or e})") from None
        self.path = path

    def write(self, event: str, *, epoch: int, step: int, loss: float | None, lr: float,
              metrics: dict[str, float], elapsed: float) -> None:
        record = {"event": event, "epoch": epoch, "step": step, "loss": loss, "lr": lr,
                  "metrics": metrics, "elapsed": round(elapsed, 4)}
        self._f.write(json.dumps(_clean(record)) + "\n")

    def close(self) -> None:
        self._f.close()


def read_log(path: Any) -> list[dict[str, Any]]:
    """The events of a JSONL metrics log."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


__all__ = ["Progress", "MetricsLog", "read_log", "format_logs", "REFRESH_SECONDS"]
