"""Durable per-stream state: one interface, four stores.

A stream's memory is the recurrent state of the model that steps it (``h`` and ``c`` of every LSTM
layer, ``h`` of a GRU or SimpleRNN layer), plus the bookkeeping that makes stepping exact, ordered and
idempotent:

========== =====================================================================================
field      meaning
========== =====================================================================================
stream_id  the stream's name: 1-200 characters of ``A-Z a-z 0-9 . _ : @ -``
signature  the identity of the model that wrote the state (kind, layer sizes, weights' checksum);
           a state with another signature is refused, never reused
seq        the last applied sequence number (events are applied in order, one at a time)
tensors    ``{name: float32 array}``, e.g. ``layer0.h: (H,)``, ``layer0.c: (H,)``
output     the JSON of the last event's result, so a repeated ``seq`` is answered without stepping
updated    Unix time of the last write
========== =====================================================================================

Tensors are stored as safetensors bytes (never pickle) by :meth:`StateStore.save`; the stream engine
writes a compact record instead (:func:`pack_state`): ``b"LKS2"``, the state length as a little-endian
``uint32``, then the state and the last output as little-endian float32 (the layout of the state
comes from the model, whose signature the row carries). :func:`open_store` takes a URL:

* ``memory://``: a dict in this process (tests, the ceiling the durable stores are measured against);
* ``sqlite:///path/to/file.db``: SQLite in WAL mode, the embedded default; a write acknowledged by
  :meth:`StateStore.save` has been committed, so it survives the process being killed (``kill -9``).
  The file is opened with an exclusive lock (one process at a time; a second one is refused with
  a clear error), which lets the engine keep a cache of the states it wrote;
* ``redis://host:port/db?prefix=NAME``: Redis, shared by several processes or machines (no sticky
  routing); each save is one MULTI/EXEC transaction;
* ``postgresql://host:port/dbname?table=NAME``: PostgreSQL through psycopg 3; each save is one
  transaction (upserts).

Every store writes a whole :meth:`StateStore.save` call atomically: all of its states or none. The
shared stores (Redis, PostgreSQL) also take ``expected``: the ``seq`` each stream must still have
(0: absent); if another process changed one meanwhile, nothing is written and
:class:`ConcurrentUpdateError` is raised, so two processes never both apply the same event.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import parse_qs, urlparse

import numpy as np

from lstmkit.errors import ConfigError, DataError, InputValueError, LstmkitError

STREAM_ID = re.compile(r"[A-Za-z0-9._:@-]{1,200}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class StateMismatchError(LstmkitError):
    """A stored state was written by another model (its signature differs): refused, never reused."""


class StoreUnavailableError(LstmkitError):
    """A store's server cannot be reached or its file cannot be opened (one line: which and why)."""


class ConcurrentUpdateError(LstmkitError):
    """Another process changed a stream between this process's load and save (nothing was written)."""


MAGIC = b"LKS2"
Row = tuple  # (stream_id, signature, seq, updated, output_json_or_None, blob)


def pack_state(state: np.ndarray, output: np.ndarray | None) -> bytes:
    """The engine's compact record: ``LKS2``, ``uint32`` state length, float32 state, float32 output."""
    out = b"" if output is None else np.ascontiguousarray(output, dtype="<f4").tobytes()
    return MAGIC + len(state).to_bytes(4, "little") + np.ascontiguousarray(state, dtype="<f4").tobytes() + out


def unpack_state(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(state, output)`` of a :func:`pack_state` record, or ``None`` for an older (safetensors) record."""
    if not bytes(blob[:4]) == MAGIC:
        return None
    n = int.from_bytes(blob[4:8], "little")
    body = len(blob) - 8
    if body % 4 or n * 4 > body:
        raise DataError(f"{where}: the stored state record is damaged ({len(blob)} bytes, state of {n})")
    arr = np.frombuffer(blob, dtype="<f4", offset=8)
    return arr[:n], arr[n:]


def check_stream_id(stream_id: Any) -> str:
    """``stream_id`` itself when valid, else an :class:`InputValueError` naming what is allowed."""
    if not isinstance(stream_id, str) or not STREAM_ID.fullmatch(stream_id):
        shown = repr(stream_id) if not isinstance(stream_id, str) or len(stream_id) <= 40 else repr(stream_id[:40] + "...")
        raise InputValueError(f"stream id: expected 1-200 characters of A-Z a-z 0-9 . _ : @ -, found {shown}")
    return stream_id


@dataclass
class StreamState:
    """One stream's stored memory (see the module docstring for the fields)."""

    stream_id: str
    signature: str
    seq: int
    tensors: dict[str, np.ndarray]
    output: str | None = None
    updated: float = field(default_factory=time.time)

    def copy(self) -> StreamState:
        return StreamState(self.stream_id, self.signature, self.seq,
                           {k: np.array(v, copy=True) for k, v in self.tensors.items()}, self.output, self.updated)


def encode_tensors(tensors: dict[str, np.ndarray]) -> bytes:
    """``{name: array}`` as safetensors bytes (float32, contiguous)."""
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()})


def decode_tensors(data: bytes, where: str) -> dict[str, np.ndarray]:
    """The tensors of a stored record: safetensors (``{name: array}``), or an engine record
    (``{"state": flat, "output": last output}``)."""
    from safetensors.numpy import load

    packed = unpack_state(data, where)
    if packed is not None:
        return {"state": packed[0].copy(), "output": packed[1].copy()}
    try:
        return {k: np.array(v) for k, v in load(bytes(data)).items()}
    except Exception as e:  # a damaged record: say where, never guess
        raise DataError(f"{where}: the stored state is not readable safetensors data ({type(e).__name__})") from None


class StateStore(ABC):
    """Where stream states live. Implementations: :class:`MemoryStore`, :class:`SQLiteStore`,
    :class:`RedisStore`, :class:`PostgresStore`; :func:`open_store` picks one from a URL."""

    url: str = ""
    #: only this process reads and writes it (memory, SQLite), so the engine may cache states it wrote
    exclusive: bool = False

    def _failures(self) -> tuple[type[BaseException], ...]:
        """The backend's own exceptions that mean "the store failed" (raised as StoreUnavailableError)."""
        return ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every store's ``delete``, ``ids`` and ``count`` turn a backend failure into StoreUnavailableError."""
        super().__init_subclass__(**kwargs)
        for name, what in (("delete", "deleting streams"), ("ids", "listing streams"), ("count", "counting streams")):
            fn = cls.__dict__.get(name)
            if fn is not None and not getattr(fn, "_guarded", False):
                def guarded(self: StateStore, *args: Any, _fn: Any = fn, _what: str = what) -> Any:
                    return self._guard(_what, _fn, self, *args)

                guarded._guarded = True  # type: ignore[attr-defined]
                guarded.__doc__, guarded.__name__ = fn.__doc__, name
                setattr(cls, name, guarded)

    def _guard(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except LstmkitError:
            raise
        except self._failures() as e:
            raise StoreUnavailableError(f"{self.url}: {what} failed ({type(e).__name__}: "
                                        f"{' '.join(str(e).split())})"[:300]) from None

    def load_raw(self, ids: Sequence[str]) -> dict[str, Row]:
        """The stored rows of ``ids`` (validated), undecoded: ``(id, signature, seq, updated, output, blob)``."""
        return self._guard("reading states", self._load_raw, list(ids))

    def save_raw(self, rows: list[Row], expected: dict[str, int] | None = None) -> None:
        """Write rows atomically. ``expected``: ``{id: seq it must still have (0: absent)}``; the shared
        stores check it and raise :class:`ConcurrentUpdateError` (writing nothing) on a change. A failure
        of the backend is a :class:`StoreUnavailableError` (nothing written)."""
        if rows:
            self._guard("writing states", self._save_raw, rows, expected)

    def load(self, ids: Sequence[str], signature: str | None = None) -> dict[str, StreamState]:
        """The stored states of ``ids`` (absent ids are left out). With ``signature``, a state written
        by another model is a :class:`StateMismatchError`."""
        found = {i: _row_state(r, self.url) for i, r in self.load_raw([check_stream_id(i) for i in ids]).items()}
        if signature is not None:
            for s in found.values():
                if s.signature != signature:
                    raise StateMismatchError(
                        f"stream {s.stream_id!r} in {self.url}: its state was written by another model "
                        f"(signature {s.signature[:12]}..., this model {signature[:12]}...); delete the stream "
                        f"or use another store")
        return found

    def save(self, states: Iterable[StreamState]) -> None:
        """Write ``states`` atomically (all or none); returns once they are durable in this store."""
        states = list(states)
        for s in states:
            check_stream_id(s.stream_id)
        if states:
            self.save_raw([(st.stream_id, st.signature, int(st.seq), float(st.updated), st.output,
                             encode_tensors(st.tensors)) for st in states], None)

    @abstractmethod
    def _load_raw(self, ids: list[str]) -> dict[str, Row]: ...

    @abstractmethod
    def _save_raw(self, rows: list[Row], expected: dict[str, int] | None) -> None: ...

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> int:
        """Remove ``ids``; returns how many existed."""

    @abstractmethod
    def ids(self) -> list[str]:
        """Every stored stream id, sorted."""

    def count(self) -> int:
        return len(self.ids())

    def clear(self) -> None:
        """Remove every stream of this store (its table, key prefix or file contents)."""
        self.delete(self.ids())

    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class MemoryStore(StateStore):
    """A dict in this process. Rows are immutable bytes, so callers cannot alter stored states."""

    exclusive = True

    def __init__(self) -> None:
        self.url = "memory://"
        self._rows: dict[str, Row] = {}
        self._lock = threading.Lock()

    def _load_raw(self, ids: list[str]) -> dict[str, Row]:
        rows = self._rows
        return {i: rows[i] for i in ids if i in rows}

    def _save_raw(self, rows: list[Row], expected: dict[str, int] | None) -> None:
        with self._lock:
            if expected:
                for i, seq in expected.items():
                    got = self._rows.get(i)
                    if (got[2] if got else 0) != seq:
                        raise ConcurrentUpdateError(f"stream {i!r} in {self.url}: changed by another writer")
            self._rows.update((r[0], r) for r in rows)

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            return sum(self._rows.pop(check_stream_id(i), None) is not None for i in ids)

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._rows)

    def count(self) -> int:
        return len(self._rows)


def _row_state(row: Sequence[Any], where: str) -> StreamState:
    stream_id, signature, seq, updated, output, blob = row
    return StreamState(stream_id, signature, int(seq), decode_tensors(blob, f"{where}, stream {stream_id!r}"),
                       output, float(updated))


class SQLiteStore(StateStore):
    """SQLite in WAL mode (``synchronous=NORMAL``): a committed save survives the process being
    killed; one transaction per :meth:`save`. Safe to share between the threads of one process.

    The file is held with an exclusive lock (``locking_mode=EXCLUSIVE``) while open: SQLite has one
    writer at a time anyway, and the lock makes the engine's cache of states safe. A second process
    gets :class:`StoreUnavailableError` saying so; share streams between processes with Redis or
    PostgreSQL.
    """

    exclusive = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if self.path.parent and not self.path.parent.exists():
            raise StoreUnavailableError(f"{self.url}: folder {str(self.path.parent)!r} does not exist")
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=2)
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS lstmkit_streams (id TEXT PRIMARY KEY, signature TEXT NOT NULL, "
                "seq INTEGER NOT NULL, updated REAL NOT NULL, output TEXT, state BLOB NOT NULL)")
            self._db.execute("BEGIN IMMEDIATE")  # take the exclusive lock now, not at the first event
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                raise StoreUnavailableError(
                    f"{self.url}: the file is in use by another process or connection (SQLite allows one "
                    f"at a time; stop it, or share streams through redis:// or postgresql://)") from None
            raise StoreUnavailableError(f"{self.url}: not a usable SQLite database ({e})") from None
        except sqlite3.DatabaseError as e:
            raise StoreUnavailableError(f"{self.url}: not a usable SQLite database ({e})") from None
        self._lock = threading.Lock()

    def _failures(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def _load_raw(self, ids: list[str]) -> dict[str, Row]:
        out: dict[str, Row] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                rows = self._db.execute(
                    f"SELECT id, signature, seq, updated, output, state FROM lstmkit_streams WHERE id IN "
                    f"({','.join('?' * len(part))})", part).fetchall()
                for row in rows:
                    out[row[0]] = row
        return out

    def _save_raw(self, rows: list[Row], expected: dict[str, int] | None) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO lstmkit_streams (id, signature, seq, updated, output, state) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET signature=excluded.signature, seq=excluded.seq, "
                    "updated=excluded.updated, output=excluded.output, state=excluded.state", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def delete(self, ids: Sequence[str]) -> int:
        ids = [check_stream_id(i) for i in ids]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            n = sum(self._db.execute("DELETE FROM lstmkit_streams WHERE id = ?", (i,)).rowcount for i in ids)
            self._db.execute("COMMIT")
        return n

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM lstmkit_streams ORDER BY id")]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM lstmkit_streams").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisStore(StateStore):
    """Redis: one hash per stream (``PREFIX:s:ID``) and a set of ids (``PREFIX:ids``); each save is
    one script run inside MULTI/EXEC that first checks every stream's expected ``seq``, so several
    processes can serve the same streams without sticky routing."""

    def __init__(self, url: str, prefix: str = "lstmkit") -> None:
        import redis

        self.url, self.prefix = url, prefix
        try:
            self._r = redis.Redis.from_url(url.split("?")[0], socket_connect_timeout=3)
            self._r.ping()
        except redis.RedisError as e:
            raise StoreUnavailableError(f"{url}: Redis is not reachable ({type(e).__name__}: {e})") from None

    def _failures(self) -> tuple[type[BaseException], ...]:
        import redis

        return (redis.RedisError,)

    def _key(self, stream_id: str) -> str:
        return f"{self.prefix}:s:{stream_id}"

    # KEYS: the ids set, then one hash per row; ARGV: n, then per row seq-expected (or -1: unchecked),
    # signature, seq, updated, output, state. All rows are checked before any is written.
    _SAVE = """
    local n = tonumber(ARGV[1])
    for k = 1, n do
      local want = tonumber(ARGV[1 + (k - 1) * 6 + 1])
      if want >= 0 then
        local got = tonumber(redis.call('HGET', KEYS[k + 1], 'seq') or '0')
        if got ~= want then return k end
      end
    end
    for k = 1, n do
      local b = 1 + (k - 1) * 6
      redis.call('HSET', KEYS[k + 1], 'signature', ARGV[b + 2], 'seq', ARGV[b + 3], 'updated', ARGV[b + 4],
                 'output', ARGV[b + 5], 'state', ARGV[b + 6])
    end
    return 0
    """

    def _load_raw(self, ids: list[str]) -> dict[str, Row]:
        pipe = self._r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self._key(i))
        out = {}
        for i, h in zip(ids, pipe.execute()):
            if h:
                out[i] = (i, h[b"signature"].decode(), int(h[b"seq"]), float(h[b"updated"]),
                          h[b"output"].decode() if h.get(b"output") else None, h[b"state"])
        return out

    def _save_raw(self, rows: list[Row], expected: dict[str, int] | None) -> None:
        keys = [f"{self.prefix}:ids"] + [self._key(r[0]) for r in rows]
        args: list[Any] = [len(rows)]
        for sid, signature, seq, updated, output, blob in rows:
            want = -1 if expected is None else expected.get(sid, -1)
            args += [want, signature, int(seq), repr(float(updated)), output or "", blob]
        pipe = self._r.pipeline(transaction=True)
        pipe.eval(self._SAVE, len(keys), *keys, *args)
        pipe.sadd(keys[0], *[r[0] for r in rows])
        clash = pipe.execute()[0]
        if clash:
            raise ConcurrentUpdateError(f"stream {rows[clash - 1][0]!r} in {self.url}: changed by another process")

    def delete(self, ids: Sequence[str]) -> int:
        ids = [check_stream_id(i) for i in ids]
        if not ids:
            return 0
        pipe = self._r.pipeline(transaction=True)
        for i in ids:
            pipe.delete(self._key(i))
        pipe.srem(f"{self.prefix}:ids", *ids)
        return int(sum(pipe.execute()[:-1]))

    def ids(self) -> list[str]:
        return sorted(m.decode() for m in self._r.smembers(f"{self.prefix}:ids"))

    def count(self) -> int:
        return int(self._r.scard(f"{self.prefix}:ids"))

    def close(self) -> None:
        self._r.close()


class PostgresStore(StateStore):
    """PostgreSQL through psycopg 3: one table (default ``lstmkit_streams``), one transaction of
    upserts per save."""

    def __init__(self, url: str, table: str = "lstmkit_streams") -> None:
        import psycopg

        self.url, self.table = url, table
        try:
            self._db = psycopg.connect(url.split("?")[0], connect_timeout=5, autocommit=False)
            with self._db.transaction():
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, signature TEXT NOT NULL, "
                    "seq BIGINT NOT NULL, updated DOUBLE PRECISION NOT NULL, output TEXT, state BYTEA NOT NULL)")
        except psycopg.Error as e:
            raise StoreUnavailableError(f"{url}: PostgreSQL is not reachable ({type(e).__name__}: "
                                        f"{' '.join(str(e).split())})") from None
        self._db.autocommit = True
        self._lock = threading.Lock()

    def _failures(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def _load_raw(self, ids: list[str]) -> dict[str, Row]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, signature, seq, updated, output, state FROM {self.table} WHERE id = ANY(%s)", (ids,)
            ).fetchall()
        return {r[0]: (r[0], r[1], int(r[2]), float(r[3]), r[4], bytes(r[5])) for r in rows}

    def _save_raw(self, rows: list[Row], expected: dict[str, int] | None) -> None:
        cols = "(id, signature, seq, updated, output, state) VALUES (%s, %s, %s, %s, %s, %s)"
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            upsert = rows
            if expected:
                # existing rows: lock them, then compare (a concurrent writer waits, then sees the new seq);
                # new rows: insert only if still absent. Any clash rolls the whole save back.
                old = [i for i, want in expected.items() if want > 0]
                got = dict(cur.execute(f"SELECT id, seq FROM {self.table} WHERE id = ANY(%s) FOR UPDATE",
                                       (old,)).fetchall()) if old else {}
                for i in old:
                    if int(got.get(i, 0)) != expected[i]:
                        raise ConcurrentUpdateError(f"stream {i!r} in {self.url}: changed by another process")
                upsert = []
                for r in rows:
                    if expected.get(r[0]) == 0:
                        cur.execute(f"INSERT INTO {self.table} {cols} ON CONFLICT (id) DO NOTHING", r)
                        if cur.rowcount != 1:
                            raise ConcurrentUpdateError(f"stream {r[0]!r} in {self.url}: created by another process")
                    else:
                        upsert.append(r)
            if upsert:
                cur.executemany(
                    f"INSERT INTO {self.table} {cols} "
                    "ON CONFLICT (id) DO UPDATE SET signature=EXCLUDED.signature, seq=EXCLUDED.seq, "
                    "updated=EXCLUDED.updated, output=EXCLUDED.output, state=EXCLUDED.state", upsert)

    def delete(self, ids: Sequence[str]) -> int:
        ids = [check_stream_id(i) for i in ids]
        with self._lock:
            return int(self._db.execute(f"DELETE FROM {self.table} WHERE id = ANY(%s)", (ids,)).rowcount)

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(f"SELECT id FROM {self.table} ORDER BY id")]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(url: str | None, default_path: str | Path | None = None) -> StateStore:
    """A store from its URL (see the module docstring); ``None`` means SQLite at ``default_path``.

    A bad URL is a :class:`ConfigError` naming the accepted forms; an unreachable server a
    :class:`StoreUnavailableError`.
    """
    if url is None:
        if default_path is None:
            raise ConfigError("store: no URL and no default path; give memory://, sqlite:///FILE, redis://... or postgresql://...")
        return SQLiteStore(default_path)
    if not isinstance(url, str):
        raise ConfigError(f"store: expected a URL string, found {type(url).__name__}")
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    scheme = parsed.scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.lower().startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"store {url!r}: expected sqlite:///path/to/file.db")
        return SQLiteStore(path)
    if scheme in ("redis", "rediss"):
        prefix = query.get("prefix", "lstmkit")
        if not NAME.fullmatch(prefix):
            raise ConfigError(f"store {url!r}: prefix must be a name (letters, digits, _), found {prefix!r}")
        return RedisStore(url, prefix)
    if scheme in ("postgresql", "postgres"):
        table = query.get("table", "lstmkit_streams")
        if not NAME.fullmatch(table):
            raise ConfigError(f"store {url!r}: table must be a name (letters, digits, _), found {table!r}")
        return PostgresStore(url, table)
    raise ConfigError(f"store {url!r}: expected memory://, sqlite:///FILE, redis://HOST:PORT/DB or "
                      f"postgresql://HOST:PORT/DBNAME, found scheme {parsed.scheme or 'none'!r}")


__all__ = [
    "StreamState", "StateStore", "MemoryStore", "SQLiteStore", "RedisStore", "PostgresStore", "open_store",
    "StateMismatchError", "StoreUnavailableError", "ConcurrentUpdateError", "check_stream_id", "encode_tensors",
    "decode_tensors", "pack_state", "unpack_state",
]
