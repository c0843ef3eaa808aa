"""Ctrl-C during training: the first SIGINT asks for a stop at the next step boundary, a second aborts."""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopFlag:
    """Context manager: installs a SIGINT handler (main thread only) that sets ``stop``.

    The engine checks ``stop`` after every optimizer step, writes a checkpoint and returns. A second
    Ctrl-C raises ``KeyboardInterrupt`` at once (nothing is written then; the last checkpoint stays).
    """

    def __init__(self) -> None:
        self.stop = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc: Any) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


__all__ = ["StopFlag"]
