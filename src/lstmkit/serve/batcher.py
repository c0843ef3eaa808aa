"""Bounded-wait batching of concurrent requests into one engine call.

Each ``POST /v1/streams/{id}/events`` request becomes one *group* (its events, applied atomically).
:meth:`Batcher.submit` queues the group and awaits its result. One batcher task per event loop:

1. takes what is queued;
2. waits for more, at most ``max_delay`` seconds, and stops early once the batch holds as many
   requests as were lately inside the server at once (the clients' concurrency, which decays by 10%
   per batch when clients go away) or ``max_batch_events`` events. A lone client never waits; eight
   busy connections are stepped eight requests at a time (the engine steps one round per event of a
   stream, whatever the number of streams in the round, and writes the store once per call, so a
   fuller batch costs little more than a thin one); requests that arrive while an engine call runs
   make up the next batch;
3. calls :meth:`StreamEngine.step_groups` once, in its single worker thread (one call at a time, so
   the event loop keeps reading requests meanwhile), and resolves every request's future.

Groups are taken in arrival order and the engine applies them in that order, so the requests of one
stream stay in arrival order. A group refused by the engine (a gap in ``seq``, a bad input, the
capacity) gets its :class:`~lstmkit.errors.LstmkitError`; the other groups of the batch are applied.
When the engine call fails as a whole, every group of the batch gets the same answer: the engine's
own error (e.g. :class:`~lstmkit.stream.stores.StoreUnavailableError`, 503), a :class:`StepFailure`
503 for a store client's error, or 500 for anything else (a bug, logged).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Sequence

from lstmkit.errors import LstmkitError
from lstmkit.stream.stores import StoreUnavailableError

log = logging.getLogger("lstmkit.serve")

Group = Sequence[tuple[str, Any, "int | None"]]


class StepFailure(Exception):
    """An engine call failed as a whole: ``status`` 503 (the store) or 500 (anything else)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def is_store_error(error: BaseException) -> bool:
    """Whether ``error`` comes from the store (its server or file), not from the engine's own code."""
    if isinstance(error, (StoreUnavailableError, sqlite3.Error, OSError)):
        return True
    return any(k.__module__.split(".")[0] in ("redis", "psycopg", "psycopg2", "psycopg_pool", "sqlite3")
               for k in type(error).__mro__)


class _Pending:
    __slots__ = ("group", "n", "future")

    def __init__(self, group: Group, future: asyncio.Future) -> None:
        self.group = group
        self.n = len(group)
        self.future = future


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class Batcher:
    """Collects concurrent groups of events and steps them with one engine call (module docstring).

    ``max_delay``: seconds a batch may wait for more requests (0: never waits).
    ``max_batch_events``: events per engine call (a single larger group still goes alone).
    ``max_queue_events``: events waiting; beyond it a request is answered 503 (overloaded).
    ``metrics``: a :class:`~lstmkit.serve.metrics.Metrics` or None.
    """

    def __init__(self, engine: Any, *, max_delay: float = 0.002, max_batch_events: int = 8192,
                 max_queue_events: int = 65536, metrics: Any = None) -> None:
        self.engine = engine
        self.max_delay = float(max_delay)
        self.max_batch_events = int(max_batch_events)
        self.max_queue_events = int(max_queue_events)
        self.metrics = metrics
        self.inside = 0            # events requests inside the app, not yet answered
        self.peak = 0.0            # requests seen inside at once lately (decays as clients go away)
        self.closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmkit-step")
        self._queue: deque[_Pending] = deque()
        self._queued_events = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._waiter: asyncio.Future | None = None

    # ------------------------------------------------------------------ arrivals
    def arrived(self) -> list[bool]:
        """A request for the events route entered the app; returns its token for :meth:`left`."""
        self.inside += 1
        if self.inside > self.peak:
            self.peak = float(self.inside)
        return [True]

    def left(self, token: list[bool]) -> None:
        """The request is answered; idempotent per token."""
        if token[0]:
            token[0] = False
            self.inside -= 1
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ submitting
    async def submit(self, group: Group) -> tuple[list[Any], list[int]]:
        """Queue ``group`` and wait for its outputs and sequence numbers. Raises the engine's
        :class:`~lstmkit.errors.LstmkitError` when the group is refused, :class:`StepFailure` when the
        engine call failed as a whole."""
        loop = asyncio.get_running_loop()
        if self.closed:
            raise StepFailure(503, "server: shutting down; send the events again to another instance or later")
        if self._queued_events and self._queued_events + len(group) > self.max_queue_events:
            raise StepFailure(503, f"server: overloaded ({self._queued_events} events queued, limit "
                                   f"{self.max_queue_events}); retry later")
        future = loop.create_future()
        self._queue.append(_Pending(group, future))
        self._queued_events += len(group)
        if self._task is None or self._loop is not loop:
            self._loop = loop
            self._task = loop.create_task(self._run())
        else:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        outcome = await future
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking engine call (state, reset, delete, evict) in the worker thread, in turn with
        the batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    # ------------------------------------------------------------------ the batcher task
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                await self._gather(loop)
                batch = self._take()
                groups = [p.group for p in batch]
                try:
                    results, seqs, seconds = await loop.run_in_executor(self._executor, self._step, groups)
                except Exception as e:  # the call failed as a whole: every request of the batch is told
                    failure = self._failure(e, len(batch))
                    for p in batch:
                        if not p.future.done():
                            p.future.set_result(failure)
                    continue
                events = 0
                for k, p in enumerate(batch):
                    if p.future.done():  # its request was cancelled (server shutting down)
                        continue
                    result = results[k]
                    if isinstance(result, BaseException):
                        if isinstance(result, StoreUnavailableError) and self.metrics is not None:
                            self.metrics.store_errors.inc()
                        p.future.set_result(result)
                    else:
                        events += p.n
                        p.future.set_result((result, seqs[k] if seqs is not None else [s for _, _, s in p.group]))
                if self.metrics is not None:
                    self.metrics.batch(len(batch), sum(p.n for p in batch), seconds)
                    self.metrics.events.inc(events)
                # fewer clients than before: expect fewer per batch (10% less per batch, down to those inside)
                self.peak = max(float(self.inside), self.peak * 0.9)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait, at most ``max_delay``, until the batch holds as many requests as were lately inside
        the app at once (the clients' concurrency: with 8 connections, each batch waits for the 8,
        which returned their previous answers moments ago), or ``max_batch_events`` events. A lone
        client never waits: it is the only one expected."""
        if self.max_delay <= 0:
            return
        deadline = loop.time() + self.max_delay
        expected = max(1, int(self.peak + 0.5))
        while len(self._queue) < expected and self._queued_events < self.max_batch_events:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(remaining, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None

    def _take(self) -> list[_Pending]:
        first = self._queue.popleft()
        batch, events = [first], first.n
        while self._queue and events + self._queue[0].n <= self.max_batch_events:
            p = self._queue.popleft()
            batch.append(p)
            events += p.n
        self._queued_events -= events
        return batch

    def _step(self, groups: list[Group]) -> tuple[list[Any], list[list[int]] | None, float]:
        start = time.perf_counter()
        results = self.engine.step_groups(groups)
        seqs = getattr(self.engine, "group_seqs", None)
        if seqs is not None and len(seqs) != len(groups):
            seqs = None
        return results, seqs, time.perf_counter() - start

    def _failure(self, error: BaseException, requests: int) -> BaseException:
        """What every request of a batch whose engine call failed as a whole is answered with: the
        engine's own :class:`~lstmkit.errors.LstmkitError` (e.g. the store is unavailable, or another
        process changed a stream meanwhile), a :class:`StepFailure` 503 for a store client's error,
        500 for anything else (a bug, logged with its traceback)."""
        if isinstance(error, LstmkitError):
            if isinstance(error, StoreUnavailableError):
                if self.metrics is not None:
                    self.metrics.store_errors.inc(requests)
                log.warning("store unavailable, %d request(s) answered 503: %s", requests, one_line(error))
            return error
        if is_store_error(error):
            if self.metrics is not None:
                self.metrics.store_errors.inc(requests)
            log.warning("store failure, %d request(s) answered 503: %s", requests, one_line(error))
            return StepFailure(503, f"store: unavailable ({type(error).__name__}: {one_line(error)}); the events "
                                    "may or may not have been applied: send them again with the same seq numbers")
        log.error("engine call failed, %d request(s) answered 500", requests, exc_info=error)
        return StepFailure(500, f"internal error ({type(error).__name__}); see the server log")

    # ------------------------------------------------------------------ shutdown
    async def drain(self) -> None:
        """Refuse new groups (503) and wait until every queued one is answered."""
        self.closed = True
        while self._task is not None and not self._task.done() and self._loop is asyncio.get_running_loop():
            await asyncio.wait({self._task})

    def close(self) -> None:
        """Stop the worker thread (after its current call)."""
        self.closed = True
        self._executor.shutdown(wait=True)


__all__ = ["Batcher", "StepFailure", "is_store_error", "one_line"]
