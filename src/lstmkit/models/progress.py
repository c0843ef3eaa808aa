"""Console output of ``fit``/``evaluate``: a throttled rich progress bar (verbose=1) or one line per epoch (verbose=2)."""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

REFRESH_SECONDS = 0.1  # at most ten bar updates a second: each one reads the running loss (a host sync)


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgressReporter:
    """``verbose``: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.

    A bar only makes sense on a terminal: when output goes to a file or a pipe (CI logs, ``| tee``),
    ``verbose=1`` prints the one line per epoch of ``verbose=2`` instead.
    """

    def __init__(self, verbose: int, epochs: int, steps: int, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        if verbose == 1 and not self.console.is_terminal:
            verbose = 2
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._progress: Progress | None = None
        self._task = None
        self._last = 0.0
        self._start = 0.0

    def epoch_begin(self, epoch: int) -> None:
        self._start = time.monotonic()
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
            self._progress = Progress(
                MofNCompleteColumn(), BarColumn(bar_width=30), TimeElapsedColumn(), TextColumn("{task.fields[logs]}"),
                console=self.console, auto_refresh=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.steps, logs="")
            self._last = 0.0

    def batch_end(self, step: int, logs_fn: Callable[[], dict[str, float]]) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if now - self._last >= REFRESH_SECONDS or step + 1 == self.steps:
            self._last = now
            self._progress.update(self._task, completed=step + 1, logs=format_logs(logs_fn()))
            self._progress.refresh()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        seconds = time.monotonic() - self._start
        if self._progress is not None:
            self._progress.update(self._task, completed=self.steps, logs=format_logs(logs))
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
        elif self.verbose == 2:
            per_step = seconds / max(1, self.steps) * 1000
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.0f}s - {per_step:.0f}ms/step - {format_logs(logs)}", flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
