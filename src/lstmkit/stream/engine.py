"""``StreamEngine``: step many live streams through one recurrent model, keeping each stream's memory.

For a stream ``s`` and its events ``x_1, x_2, ...`` (each one time step of the model's input), the
engine keeps the recurrent state of every layer, ``(h, c)`` per LSTM layer and ``h`` per GRU or
SimpleRNN layer, between events, in a :class:`~lstmkit.stream.stores.StateStore`:

    state_s(0) = 0,    (y_t, state_s(t)) = model_step(x_t, state_s(t - 1))

so ``y_t`` equals the model's output on the first ``t`` steps run at once (``model.predict`` with
``x_1..x_t``; tested to 1e-5 in float32). Events of different streams are batched into one kernel call
per layer; events of one stream are applied one at a time, in order.

Sequence numbers make stepping ordered and idempotent: each event carries ``seq`` (``None``: the
next number); the first event of a stream is 1. ``seq == last + 1`` is applied; ``seq == last`` is
answered from the recorded result without stepping again; anything else (a gap, an older number) is a
:class:`SequenceError` and no state changes. A whole :meth:`StreamEngine.step_many` call is checked
before any event is applied, and its new states are written to the store in one atomic save.

This first version steps :class:`~lstmkit.models.Sequential` models built from ``Input``,
``Embedding``, ``LSTM`` / ``GRU`` / ``SimpleRNN`` (forward direction), ``Dropout`` (identity at
inference) and ``Dense`` layers.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from lstmkit.errors import ConfigError, InputValueError, LstmkitError, ShapeError
from lstmkit.stream.stores import StateStore, StreamState, check_stream_id, open_store


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


def _plan(model: Any) -> list[tuple[str, Any]]:
    from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, Input, SimpleRNN

    plan: list[tuple[str, Any]] = []
    for layer in getattr(model, "layers", None) or []:
        if isinstance(layer, Input):
            continue
        if isinstance(layer, Bidirectional):
            raise ConfigError(f"layer {layer.name!r}: a Bidirectional layer reads the future, so it cannot be "
                              "stepped one event at a time; stream a forward-only model")
        if isinstance(layer, (LSTM, GRU, SimpleRNN)):
            if getattr(layer, "go_backwards", False):
                raise ConfigError(f"layer {layer.name!r}: go_backwards=True reads the sequence from its end; "
                                  "it cannot be stepped one event at a time")
            plan.append(("lstm" if isinstance(layer, LSTM) else "rnn", layer))
        elif isinstance(layer, Embedding):
            plan.append(("embedding", layer))
        elif isinstance(layer, Dropout):
            continue
        elif isinstance(layer, Dense):
            plan.append(("dense", layer))
        else:
            raise ConfigError(f"layer {layer.name!r} ({type(layer).__name__}): not supported by StreamEngine yet "
                              "(supported: Input, Embedding, LSTM, GRU, SimpleRNN, Dropout, Dense)")
    if not any(kind in ("lstm", "rnn") for kind, _ in plan):
        raise ConfigError("model: no recurrent layer (LSTM, GRU or SimpleRNN); there is no memory to keep")
    return plan


def model_signature(model: Any) -> str:
    """sha256 over the model's layer configs and weights: a state written by another model (or the same
    architecture with other weights) is refused."""
    h = hashlib.sha256()
    h.update(json.dumps([layer.get_config() for layer in model.layers], sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class StreamEngine:
    """Keeps each stream's recurrent state between events (see the module docstring).

    ``store``: a :class:`StateStore` or a URL for :func:`~lstmkit.stream.stores.open_store`
    (default ``memory://``). ``max_streams``: the most streams kept; an event that would start one
    more is refused (:class:`InputValueError`) until streams are deleted or evicted. ``ttl``: seconds
    without an event after which :meth:`evict_idle` deletes a stream.
    """

    def __init__(self, model: Any, store: StateStore | str | None = None, *, max_streams: int | None = None,
                 ttl: float | None = None) -> None:
        self.model = model
        self.plan = _plan(model)
        model.eval()
        self.signature = model_signature(model)
        self.store = open_store(store) if isinstance(store, str) else (store if store is not None else open_store("memory://"))
        if max_streams is not None and (isinstance(max_streams, bool) or not isinstance(max_streams, int) or max_streams < 1):
            raise ConfigError(f"max_streams: expected a positive integer or None, found {max_streams!r}")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0):
            raise ConfigError(f"ttl: expected a positive number of seconds or None, found {ttl!r}")
        self.max_streams, self.ttl = max_streams, ttl
        self._lock = threading.Lock()
        self._names = self._state_names()
        self.last_seqs: list[int] = []

    # ------------------------------------------------------------------ state layout
    def _state_names(self) -> list[tuple[int, str, int]]:
        names = []
        for i, (kind, layer) in enumerate(self.plan):
            if kind == "lstm":
                names += [(i, f"layer{i}.h", layer.units), (i, f"layer{i}.c", layer.units)]
            elif kind == "rnn":
                names.append((i, f"layer{i}.h", layer.units))
        return names

    def _zeros(self) -> dict[str, np.ndarray]:
        return {name: np.zeros(units, np.float32) for _, name, units in self._names}

    # ------------------------------------------------------------------ inputs
    def _input(self, x: Any, stream_id: str) -> np.ndarray:
        kind, layer = self.plan[0]
        if kind == "embedding":
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
                raise InputValueError(f"stream {stream_id!r}: input: expected one token id (an integer), found {x!r}")
            if not 0 <= int(x) < layer.input_dim:
                raise InputValueError(f"stream {stream_id!r}: input: token id must be in 0..{layer.input_dim - 1}, found {x}")
            if int(x) == 0 and getattr(layer, "mask_zero", False):
                raise InputValueError(f"stream {stream_id!r}: input: token id 0 is padding (mask_zero=True), not an event")
            return np.asarray(int(x), dtype=np.int64)
        n_in = layer.built_input_shape[-1]
        arr = np.asarray(x, dtype=np.float64) if not isinstance(x, str) else None
        if arr is None or arr.dtype == object:
            raise InputValueError(f"stream {stream_id!r}: input: expected {n_in} number(s), found {x!r}")
        arr = arr.reshape(-1) if arr.ndim <= 1 else arr
        if arr.shape != (n_in,):
            raise ShapeError(f"stream {stream_id!r}: input: expected {n_in} number(s) per step, found shape {np.shape(x)}")
        if not np.isfinite(arr).all():
            raise InputValueError(f"stream {stream_id!r}: input: NaN or infinite value in {arr.tolist()}")
        return arr.astype(np.float32)

    # ------------------------------------------------------------------ stepping
    def step(self, stream_id: str, x: Any, seq: int | None = None) -> np.ndarray:
        """One event of one stream; returns that step's output (the model's output on the first t steps)."""
        return self.step_many([(stream_id, x, seq)])[0]

    def step_many(self, events: Sequence[tuple[str, Any, int | None]]) -> list[np.ndarray]:
        """Events of many streams, batched: outputs in the order of ``events``. Checked as a whole
        before any is applied; the new states are saved in one atomic write."""
        events = list(events)
        with self._lock:
            parsed = []
            for k, ev in enumerate(events):
                if not isinstance(ev, (tuple, list)) or len(ev) not in (2, 3):
                    raise InputValueError(f"event {k}: expected (stream_id, x, seq), found {ev!r}"[:200])
                sid = check_stream_id(ev[0])
                seq = ev[2] if len(ev) == 3 else None
                if seq is not None and (isinstance(seq, bool) or not isinstance(seq, (int, np.integer)) or seq < 1):
                    raise SequenceError(f"stream {sid!r}: seq must be a positive integer or None, found {seq!r}")
                parsed.append((sid, self._input(ev[1], sid), None if seq is None else int(seq)))
            ids = list(dict.fromkeys(sid for sid, _, _ in parsed))
            stored = self.store.load(ids, signature=self.signature)
            if self.max_streams is not None:
                new = [i for i in ids if i not in stored]
                if new and self.store.count() + len(new) > self.max_streams:
                    raise CapacityError(f"stream {new[0]!r}: max_streams={self.max_streams} reached "
                                          f"({self.store.count()} kept); delete or evict streams first")
            last = {i: (stored[i].seq if i in stored else 0) for i in ids}
            outputs: dict[str, str | None] = {i: (stored[i].output if i in stored else None) for i in ids}
            # decide, per event: apply (round r) or answer from the recorded result
            plan: list[tuple[str, int, np.ndarray | None]] = []   # (id, seq, x or None for a repeat)
            nxt = dict(last)
            for sid, x, seq in parsed:
                want = nxt[sid] + 1
                seq = want if seq is None else seq
                if seq == want:
                    plan.append((sid, seq, x))
                    nxt[sid] = seq
                elif seq == nxt[sid] and seq >= 1:
                    plan.append((sid, seq, None))
                else:
                    raise SequenceError(f"stream {sid!r}: seq {seq} refused; the next is {want} "
                                        f"(last applied {nxt[sid]}); nothing was applied")
            states = {i: (stored[i].tensors if i in stored else self._zeros()) for i in ids}
            results: list[np.ndarray | None] = [None] * len(plan)
            # rounds: the r-th new event of every stream goes into one batch
            pending = [(k, sid, x) for k, (sid, _, x) in enumerate(plan) if x is not None]
            seen: dict[str, int] = {}
            rounds: list[list[tuple[int, str, np.ndarray]]] = []
            for k, sid, x in pending:
                r = seen.get(sid, 0)
                seen[sid] = r + 1
                if r == len(rounds):
                    rounds.append([])
                rounds[r].append((k, sid, x))
            applied: dict[tuple[str, int], np.ndarray] = {}
            for batch in rounds:
                ys = self._run([x for _, _, x in batch], [states[sid] for _, sid, _ in batch])
                for (k, sid, _), (y, new_state) in zip(batch, ys):
                    states[sid] = new_state
                    results[k] = y
                    applied[(sid, plan[k][1])] = y
                    outputs[sid] = json.dumps(y.tolist())
            for k, (sid, seq, x) in enumerate(plan):
                if x is None:  # a repeat: the recorded result of that seq, without stepping again
                    if (sid, seq) in applied:
                        results[k] = applied[(sid, seq)].copy()
                    else:
                        rec = stored[sid].output if sid in stored else None
                        results[k] = np.asarray(json.loads(rec), dtype=np.float32) if rec else np.zeros(0, np.float32)
            now = time.time()
            changed = [StreamState(sid, self.signature, nxt[sid], states[sid], outputs[sid], now)
                       for sid in ids if nxt[sid] != last[sid]]
            self.store.save(changed)
            self.last_seqs = [seq for _, seq, _ in plan]  # the number each event of this call got
            return [r for r in results]  # type: ignore[misc]

    def step_groups(self, groups: Sequence[Sequence[tuple[str, Any, int | None]]]) -> list[list[Any] | LstmkitError]:
        """Several independent groups of events (e.g. one per HTTP request), stepped together.

        Each group is applied atomically or refused as a whole: its item in the returned list is
        either the list of its outputs (in order) or the :class:`~lstmkit.errors.LstmkitError` that
        refused it (nothing of that group applied). Groups are applied in the given order, so a
        later group of the same stream sees the sequence numbers of the earlier ones.
        """
        results: list[list[Any] | LstmkitError] = []
        seqs: list[list[int]] = []
        for group in groups:
            try:
                results.append(self.step_many(group))
                seqs.append(list(self.last_seqs))
            except LstmkitError as e:
                results.append(e)
                seqs.append([])
        self.group_seqs = seqs
        return results

    def info(self) -> dict[str, Any]:
        """What the model takes and gives, JSON-ready (``GET /v1/model``)."""
        kind, first = self.plan[0]
        if kind == "embedding":
            inp = {"kind": "token", "dtype": "int", "vocabulary": int(first.input_dim)}
        else:
            inp = {"kind": "vector", "dtype": "float32", "shape": [int(first.built_input_shape[-1])]}
        last_kind, last = self.plan[-1]
        out = {"kind": "vector", "dtype": "float32", "shape": [int(last.units)]}
        return {"kind": "sequential", "signature": self.signature, "input": inp, "output": out,
                "layers": [type(layer).__name__ for _, layer in self.plan],
                "state": {name: [units] for _, name, units in self._names},
                "store": self.store.url, "max_streams": self.max_streams, "ttl": self.ttl}

    @torch.no_grad()
    def _run(self, xs: list[np.ndarray], states: list[dict[str, np.ndarray]]) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
        x = torch.from_numpy(np.stack(xs))
        new: list[dict[str, np.ndarray]] = [dict() for _ in states]
        h: torch.Tensor = x
        for i, (kind, layer) in enumerate(self.plan):
            if kind == "embedding":
                h = layer.call(h.reshape(-1, 1))[:, 0, :]
            elif kind in ("lstm", "rnn"):
                hs = torch.from_numpy(np.stack([s[f"layer{i}.h"] for s in states])).unsqueeze(0)
                if kind == "lstm":
                    cs = torch.from_numpy(np.stack([s[f"layer{i}.c"] for s in states])).unsqueeze(0)
                    out, (hn, cn) = layer.cell(h.unsqueeze(1).contiguous(), (hs, cs))
                    for n, st in enumerate(new):
                        st[f"layer{i}.h"], st[f"layer{i}.c"] = hn[0, n].numpy().copy(), cn[0, n].numpy().copy()
                else:
                    out, hn = layer.cell(h.unsqueeze(1).contiguous(), hs)
                    for n, st in enumerate(new):
                        st[f"layer{i}.h"] = hn[0, n].numpy().copy()
                h = out[:, 0, :]
            else:  # dense
                h = layer.call(h)
        y = h.numpy()
        return [(y[n].astype(np.float32, copy=True), new[n]) for n in range(len(states))]

    # ------------------------------------------------------------------ management
    def state(self, stream_id: str) -> StreamInfo:
        """The stream's last applied ``seq`` (0 for a stream never stepped), update time and state."""
        sid = check_stream_id(stream_id)
        got = self.store.load([sid], signature=self.signature).get(sid)
        if got is None:
            return StreamInfo(sid, 0, None, self._zeros())
        return StreamInfo(sid, got.seq, got.updated, got.tensors)

    def reset(self, stream_id: str) -> None:
        """Forget the stream's memory (its next event is seq 1 again)."""
        self.delete(stream_id)

    def delete(self, stream_id: str) -> bool:
        with self._lock:
            return self.store.delete([check_stream_id(stream_id)]) > 0

    def streams(self) -> list[str]:
        return self.store.ids()

    def evict_idle(self, now: float | None = None) -> list[str]:
        """Delete the streams idle for longer than ``ttl`` seconds; returns their ids."""
        if self.ttl is None:
            return []
        now = time.time() if now is None else now
        with self._lock:
            ids = self.store.ids()
            old = [i for i, s in self.store.load(ids).items() if now - s.updated > self.ttl]
            self.store.delete(old)
        return sorted(old)


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
