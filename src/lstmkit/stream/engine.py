"""``StreamEngine``: step many live streams through one recurrent model, keeping each stream's memory.

For a stream ``s`` and its events ``x_1, x_2, ...`` (each one time step of the model's input), the
engine keeps the recurrent state of every layer, ``(h, c)`` per LSTM layer and ``h`` per GRU or
SimpleRNN layer, between events, in a :class:`~lstmkit.stream.stores.StateStore`:

    state_s(0) = 0,    (y_t, state_s(t)) = model_step(x_t, state_s(t - 1))

so ``y_t`` equals the model's output on the first ``t`` steps run at once (``model.predict`` with
``x_1..x_t``; tested to 1e-5 in float32). Events of different streams are batched into one kernel call
per layer (:mod:`lstmkit.nn.step`); events of one stream are applied one at a time, in order.

**Sequence numbers** make stepping ordered and idempotent: each event carries ``seq`` (``None``: the
next number); the first event of a stream is 1. ``seq == last + 1`` is applied; ``seq == last`` is
answered from the recorded result without stepping again; anything else (a gap, an older number) is a
:class:`SequenceError` and no state changes. A whole :meth:`StreamEngine.step_many` call is checked
before any event is applied, and its new states are written to the store in one atomic save.
:meth:`StreamEngine.step_groups` does the same for several independent groups at once (one per HTTP
request): each is applied or refused as a whole, all are stepped together and saved in one write.

**Stores.** The state is written through to the store on every call, before the call returns. With
a store only this process uses (memory, SQLite: ``store.exclusive``) the engine also keeps the states
it wrote in a cache and reads the store only for streams not in it. With a shared store (Redis,
PostgreSQL) it loads every stream it steps and saves with a compare-and-set on ``seq``; if another
process stepped one of them meanwhile, the call is redone on the fresh states (with a jittered
back-off, up to :data:`CONFLICT_RETRIES` times; then :class:`~lstmkit.stream.stores.ConcurrentUpdateError`).

**Limits.** ``max_streams``: a call that would start more streams than that first deletes the
streams idle for longer than ``ttl`` (when set); if still full, the groups that start new streams
are refused with :class:`CapacityError`; a live stream is never evicted to make room. ``ttl``:
:meth:`evict_idle` deletes the streams idle for longer (the service runs it periodically).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from lstmkit.errors import ConfigError, InputValueError, LstmkitError
from lstmkit.stream.programs import SequentialProgram, StreamProgram, model_signature
from lstmkit.stream.stores import (MAGIC, ConcurrentUpdateError, StateMismatchError, StateStore, check_stream_id,
                                   open_store, unpack_state)


#: how often a call is redone when another process changed one of its streams meanwhile (shared stores)
CONFLICT_RETRIES = 50


class SequenceError(InputValueError):
    """An event's sequence number is neither the next one nor a repeat of the last one."""


class CapacityError(InputValueError):
    """A new stream would exceed ``max_streams``: delete or evict streams first."""


@dataclass
class StreamInfo:
    """What :meth:`StreamEngine.state` returns: the last applied ``seq``, the update time and the
    state tensors (``{name: (H,) float32}``)."""

    stream_id: str
    seq: int
    updated: float | None
    tensors: dict[str, np.ndarray]


def compile_program(model: Any, backend: str = "auto") -> StreamProgram:
    """The program for any streamable lstmkit model: a Sequential (:class:`SequentialProgram`, stepped
    by ``backend``: :func:`lstmkit.stream.programs.step_backend`) or a task model
    (:func:`lstmkit.stream.tasks.task_program`); a program is used as it is."""
    if isinstance(model, StreamProgram):
        return model
    from lstmkit.models import Sequential

    if type(model) is Sequential:
        return SequentialProgram(model, backend)
    if backend not in ("auto", "lstmkit"):
        raise ConfigError(f"backend {backend!r}: only a Sequential steps through ONNX Runtime; task models step "
                          "with lstmkit's kernels")
    from lstmkit.stream.tasks import task_program

    return task_program(model)


# One stream's state as the engine holds it, a plain tuple (cheapest to make):
# (seq, flat state float32, last raw output float32, update time)
_Stream = tuple


_ID_OK: set[str] = set()  # ids already checked (bounded below)


def _check_id(sid: Any) -> str:
    if sid.__class__ is str and sid in _ID_OK:
        return sid
    check_stream_id(sid)
    if len(_ID_OK) > 200_000:
        _ID_OK.clear()
    _ID_OK.add(sid)
    return sid


class StreamEngine:
    """Keeps each stream's recurrent state between events (see the module docstring).

    ``model``: a Sequential (or a task model, see :mod:`lstmkit.stream.tasks`). ``store``: a
    :class:`StateStore` or a URL for :func:`~lstmkit.stream.stores.open_store` (default
    ``memory://``). ``max_streams``, ``ttl``: the limits above. ``cache_size``: the most states kept
    in the cache of an exclusive store (the oldest written are dropped first; they stay in the store).
    ``backend``: how a Sequential is stepped, ``"auto"`` (lstmkit's kernels, the faster; see
    :func:`lstmkit.stream.programs.step_backend`), ``"lstmkit"`` or ``"onnxruntime"`` (its ONNX export).
    """

    def __init__(self, model: Any, store: StateStore | str | None = None, *, max_streams: int | None = None,
                 ttl: float | None = None, cache_size: int = 200_000, backend: str = "auto") -> None:
        self.model = model
        self.program: StreamProgram = compile_program(model, backend)
        self.signature = self.program.signature
        self.plan = getattr(self.program, "plan", [])
        if max_streams is not None and (isinstance(max_streams, bool) or not isinstance(max_streams, int) or max_streams < 1):
            raise ConfigError(f"max_streams: expected a positive integer or None, found {max_streams!r}")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0):
            raise ConfigError(f"ttl: expected a positive number of seconds or None, found {ttl!r}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigError(f"cache_size: expected an integer >= 0, found {cache_size!r}")
        self.store = open_store(store) if isinstance(store, str) else (store if store is not None else open_store("memory://"))
        self.max_streams, self.ttl, self.cache_size = max_streams, ttl, cache_size
        # a store shared by two engines of this process is not exclusive to either
        engines = getattr(self.store, "_lstmkit_engines", 0) + 1
        self.store._lstmkit_engines = engines  # type: ignore[attr-defined]
        self._lock = threading.Lock()
        self._hot: dict[str, _Stream] = {}
        self._count: int | None = None  # streams in an exclusive store, kept up to date
        self.last_seqs: list[int] = []
        self.group_seqs: list[list[int]] = []

    @property
    def _cached(self) -> bool:
        return bool(self.store.exclusive) and getattr(self.store, "_lstmkit_engines", 1) == 1 and self.cache_size > 0

    # ------------------------------------------------------------------ stepping
    def step(self, stream_id: str, x: Any, seq: int | None = None, *, trace: bool = False) -> Any:
        """One event of one stream; returns that step's output (the model's output on the first t steps).

        With ``trace=True`` returns ``(output, gates)``: ``{layer name: {gate name: (H,) array}}``
        (``input_gate, forget_gate, candidate, output_gate, cell_state, hidden_state`` for an LSTM).
        A repeated ``seq`` has no trace (nothing is stepped): its gates are ``{}``.
        """
        return self.step_many([(stream_id, x, seq)], trace=trace)[0]

    def step_many(self, events: Sequence[tuple[str, Any, int | None]], *, trace: bool = False) -> list[Any]:
        """Events of many streams, batched: outputs in the order of ``events``. Checked as a whole
        before any is applied; the new states are saved in one atomic write."""
        result = self.step_groups([events], trace=trace)[0]
        if isinstance(result, LstmkitError):
            raise result
        self.last_seqs = self.group_seqs[0]
        return result

    def step_groups(self, groups: Sequence[Sequence[tuple[str, Any, int | None]]], *,
                    trace: bool = False) -> list[list[Any] | LstmkitError]:
        """Several independent groups of events (e.g. one per HTTP request), stepped together.

        Each group is applied atomically or refused as a whole: its item in the returned list is
        either the list of its outputs (in order) or the :class:`~lstmkit.errors.LstmkitError` that
        refused it (nothing of that group applied). Groups are applied in the given order, so a
        later group of the same stream sees the sequence numbers of the earlier ones. After the call
        :attr:`group_seqs` holds the number each event got. A failure of the store itself
        (:class:`~lstmkit.stream.stores.StoreUnavailableError`) is raised: nothing was applied.
        """
        with self._lock:
            for attempt in range(CONFLICT_RETRIES):
                try:
                    return self._apply(groups, trace)
                except ConcurrentUpdateError:
                    if attempt == CONFLICT_RETRIES - 1:
                        raise
                    time.sleep(random.uniform(0, min(0.02, 0.001 * (attempt + 1))))  # jittered back-off
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse(self, group: Sequence[Any]) -> tuple[list[str], Any, list[int | None]]:
        if not isinstance(group, (list, tuple)):
            raise InputValueError(f"events: expected a list of (stream_id, x, seq), found {type(group).__name__}")
        ids: list[str] = []
        xs: list[Any] = []
        seqs: list[int | None] = []
        for k, ev in enumerate(group):
            if ev.__class__ is not tuple and not isinstance(ev, (tuple, list)) or len(ev) not in (2, 3):
                raise InputValueError(f"event {k}: expected (stream_id, x, seq), found {ev!r}"[:200])
            sid = _check_id(ev[0])
            seq = ev[2] if len(ev) == 3 else None
            if seq is not None and (seq.__class__ is not int and (isinstance(seq, bool) or not isinstance(seq, (int, np.integer)))
                                    or seq < 1):
                raise SequenceError(f"stream {sid!r}: seq must be a positive integer or None, found {seq!r}")
            ids.append(sid)
            xs.append(ev[1])
            seqs.append(None if seq is None else int(seq))
        try:
            return ids, self.program.encode_many(xs, ids) if xs else None, seqs
        except LstmkitError:
            raise
        except (TypeError, ValueError, OverflowError, KeyError, IndexError) as e:  # never a 5xx for an input
            raise InputValueError(f"input: not a valid input for this model ({type(e).__name__}: {e})"[:300]) from None

    def _load(self, ids: list[str]) -> dict[str, _Stream]:
        """The current state of ``ids`` that exist (cache first for an exclusive store)."""
        cached = self._cached
        found: dict[str, _Stream] = {}
        missing = ids
        if cached:
            hot = self._hot
            missing = [i for i in ids if i not in hot]
            found = {i: hot[i] for i in ids if i in hot}
        if missing:
            for sid, row in self.store.load_raw(missing).items():
                _, signature, seq, updated, output, blob = row
                if signature != self.signature:
                    raise StateMismatchError(
                        f"stream {sid!r} in {self.store.url}: its state was written by another model "
                        f"(signature {signature[:12]}..., this model {self.signature[:12]}...); delete the stream "
                        f"or use another store")
                where = f"{self.store.url}, stream {sid!r}"
                packed = unpack_state(blob, where)
                if packed is not None:
                    state, out = packed[0].copy(), packed[1].copy()
                else:  # a record of an earlier version: safetensors by name, the output as JSON
                    from lstmkit.stream.stores import decode_tensors

                    state = self.program.flatten_named(decode_tensors(blob, where))
                    out = np.asarray(json.loads(output), np.float32) if output else np.zeros(0, np.float32)
                if state.size != self.program.state_size:
                    raise StateMismatchError(f"stream {sid!r} in {self.store.url}: stored state has {state.size} "
                                             f"values, this model {self.program.state_size}")
                found[sid] = (int(seq), state, out, float(updated))
        return found

    def _apply(self, groups: Sequence[Sequence[Any]], trace: bool) -> list[list[Any] | LstmkitError]:
        results: list[list[Any] | LstmkitError] = [None] * len(groups)  # type: ignore[list-item]
        seqs_out: list[list[int]] = [[] for _ in groups]
        parsed: list[tuple[int, list[str], Any, list[int | None]]] = []
        for g, group in enumerate(groups):
            try:
                ids, x, seqs = self._parse(group)
                parsed.append((g, ids, x, seqs))
            except LstmkitError as e:
                results[g] = e
        all_ids = list(dict.fromkeys(i for _, ids, _, _ in parsed for i in ids))
        current = self._load(all_ids)
        last = {i: c[0] for i, c in current.items()}
        nxt = dict(last)
        cap = self.max_streams
        known = self._stream_count() if cap is not None and any(i not in current for i in all_ids) else 0
        new_streams: set[str] = set()
        # plan each group against the numbers left by the groups before it
        applied: list[tuple[int, int, str, int, Any]] = []   # (group, position, id, seq, x row index)
        for g, ids, x, seqs in parsed:
            mine: dict[str, int] = {}
            plan: list[tuple[int, str, int, bool]] = []
            try:
                for k, (sid, seq) in enumerate(zip(ids, seqs)):
                    prev = mine.get(sid, nxt.get(sid, 0))
                    want = prev + 1
                    seq = want if seq is None else seq
                    if seq == want:
                        plan.append((k, sid, seq, True))
                        mine[sid] = seq
                    elif seq == prev and seq >= 1:
                        plan.append((k, sid, seq, False))
                    else:
                        raise SequenceError(f"stream {sid!r}: seq {seq} refused; the next is {want} "
                                            f"(last applied {prev}); nothing was applied")
                starting = [i for i in mine if i not in current and i not in new_streams]
                if cap is not None and starting and known + len(new_streams) + len(starting) > cap:
                    if self.ttl is not None and self._evict(time.time(), keep=set(all_ids)):
                        known = self._stream_count()
                    if known + len(new_streams) + len(starting) > cap:
                        raise CapacityError(f"stream {starting[0]!r}: max_streams={cap} reached "
                                            f"({known + len(new_streams)} kept); delete or evict streams first")
            except LstmkitError as e:
                results[g] = e
                continue
            new_streams.update(i for i in mine if i not in current)
            nxt.update(mine)
            results[g] = [None] * len(ids)
            seqs_out[g] = [seq for _, _, seq, _ in plan]
            for k, sid, seq, step in plan:
                applied.append((g, k, sid, seq, step))
        # run: round r holds the r-th new event of every stream (usually one round)
        state = {i: c[1] for i, c in current.items()}
        output = {i: c[2] for i, c in current.items()}
        xrows = {g: x for g, _, x, _ in parsed}
        todo = [a for a in applied if a[4]]
        repeats = len(todo) != len(applied)
        rounds: list[list[tuple[int, int, str, int, bool]]]
        if len({a[2] for a in todo}) == len(todo):
            rounds = [todo] if todo else []
        else:
            seen: dict[str, int] = {}
            rounds = []
            for a in todo:
                r = seen.get(a[2], 0)
                seen[a[2]] = r + 1
                if r == len(rounds):
                    rounds.append([])
                rounds[r].append(a)
        zeros = self.program.zeros()
        ns = self.program.state_size
        stepped: dict[tuple[str, int], np.ndarray] = {}
        traced: dict[tuple[int, int], Any] = {}
        for batch in rounds:
            s = np.stack([state.get(a[2], zeros) for a in batch])
            first = xrows[batch[0][0]]
            if len(parsed) == 1 and len(batch) == len(first):
                x = first
            elif len(parsed) == 1:
                x = first[[a[1] for a in batch]]
            else:
                x = np.stack([xrows[a[0]][a[1]] for a in batch])
            y, s_new, traces = self.program.run(x, s, trace)
            packed = np.concatenate([s_new, y.reshape(len(batch), -1)], axis=1)
            for n, a in enumerate(batch):
                row = packed[n].copy()   # one small array per stream: no call's batch is kept alive
                sid = a[2]
                state[sid], output[sid] = row[:ns], row[ns:]
                results[a[0]][a[1]] = row[ns:]  # type: ignore[index]
                if repeats:
                    stepped[(sid, a[3])] = row[ns:]
                if traces is not None:
                    traced[(a[0], a[1])] = {layer: {k: v[n].copy() for k, v in gates.items()}
                                            for layer, gates in traces.items()}
        # save every changed stream in one write, then make it visible
        now = time.time()
        changed = [i for i in nxt if nxt[i] != last.get(i, 0)]
        if changed:
            head = MAGIC + ns.to_bytes(4, "little")
            sig = self.signature
            rows = [(i, sig, nxt[i], now, None,
                     head + state[i].tobytes() + output[i].tobytes()) for i in changed]
            self.store.save_raw(rows, None if self._cached else {i: last.get(i, 0) for i in changed})
            if self._cached:
                hot = self._hot
                for i in changed:
                    hot[i] = (nxt[i], state[i], output[i], now)
                if len(hot) > self.cache_size:
                    for i in list(hot)[: len(hot) - self.cache_size]:
                        del hot[i]
            if self._count is not None:
                self._count += len(new_streams)
        # answers: repeats get the recorded result of that seq, without stepping again
        decode = self.program.decode if type(self.program).decode is not StreamProgram.decode else None
        for g, k, sid, seq, step in applied:
            if not step:
                y = stepped.get((sid, seq))
                results[g][k] = np.array(current[sid][2] if y is None else y, copy=True)  # type: ignore[index]
            if decode is not None:
                results[g][k] = decode(results[g][k])  # type: ignore[index]
            if trace:
                results[g][k] = (results[g][k], traced.get((g, k), {}))  # type: ignore[index]
        self.group_seqs = seqs_out
        return results

    # ------------------------------------------------------------------ management
    def _stream_count(self) -> int:
        if self._cached:
            if self._count is None:
                self._count = self.store.count()
            return self._count
        return self.store.count()

    def state(self, stream_id: str) -> StreamInfo:
        """The stream's last applied ``seq`` (0 for a stream never stepped), update time and state."""
        sid = check_stream_id(stream_id)
        with self._lock:
            got = self._load([sid]).get(sid)
        if got is None:
            return StreamInfo(sid, 0, None, self.program.split(self.program.zeros()))
        return StreamInfo(sid, got[0], got[3], self.program.split(got[1]))

    def reset(self, stream_id: str) -> None:
        """Forget the stream's memory (its next event is seq 1 again)."""
        self.delete(stream_id)

    def delete(self, stream_id: str) -> bool:
        sid = check_stream_id(stream_id)
        with self._lock:
            self._hot.pop(sid, None)
            n = self.store.delete([sid])
            if self._count is not None:
                self._count -= n
            return n > 0

    def streams(self) -> list[str]:
        return self.store.ids()

    def _evict(self, now: float, keep: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
        assert self.ttl is not None
        ids = self.store.ids()
        rows = self.store.load_raw(ids)
        old = sorted(i for i, r in rows.items() if now - float(r[3]) > self.ttl and i not in keep)
        if old:
            n = self.store.delete(old)
            for i in old:
                self._hot.pop(i, None)
            if self._count is not None:
                self._count -= n
        return old

    def evict_idle(self, now: float | None = None) -> list[str]:
        """Delete the streams idle for longer than ``ttl`` seconds; returns their ids."""
        if self.ttl is None:
            return []
        with self._lock:
            return self._evict(time.time() if now is None else now)

    def info(self) -> dict[str, Any]:
        """What the model takes and gives, JSON-ready (``GET /v1/model``)."""
        return {**self.program.info(), "store": self.store.url, "max_streams": self.max_streams, "ttl": self.ttl}


def open_engine(model_path: Any, store: str | None = None, *, max_streams: int | None = None,
                ttl: float | None = None) -> StreamEngine:
    """Load any lstmkit model file (:func:`lstmkit.load`) and wrap it in a :class:`StreamEngine`.

    ``store``: a store URL; ``None`` means SQLite in a file beside the model (``MODEL.streams.db``).
    """
    from pathlib import Path

    from lstmkit.util.registry import load

    model = load(model_path)
    return StreamEngine(model, open_store(store, default_path=Path(str(model_path) + ".streams.db")),
                        max_streams=max_streams, ttl=ttl)


__all__ = ["open_engine", "StreamEngine", "StreamInfo", "SequenceError", "CapacityError", "model_signature"]
