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

Tensors are stored as safetensors bytes (never pickle). :func:`open_store` takes a URL:

* ``memory://``: a dict in this process (tests, the ceiling the durable stores are measured against);
* ``sqlite:///path/to/file.db``: SQLite in WAL mode, the embedded default; a write acknowledged by
  :meth:`StateStore.save` has been committed, so it survives the process being killed (``kill -9``);
* ``redis://host:port/db?prefix=NAME``: Redis, shared by several processes or machines (no sticky
  routing); each save is one MULTI/EXEC transaction;
* ``postgresql://host:port/dbname?table=NAME``: PostgreSQL through psycopg 3; each save is one
  transaction (upserts).

Every store writes a whole :meth:`StateStore.save` call atomically: all of its states or none.
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
    from safetensors.numpy import load

    try:
        return {k: np.array(v) for k, v in load(bytes(data)).items()}
    except Exception as e:  # a damaged record: say where, never guess
        raise DataError(f"{where}: the stored state is not readable safetensors data ({type(e).__name__})") from None


class StateStore(ABC):
    """Where stream states live. Implementations: :class:`MemoryStore`, :class:`SQLiteStore`,
    :class:`RedisStore`, :class:`PostgresStore`; :func:`open_store` picks one from a URL."""

    url: str = ""

    def load(self, ids: Sequence[str], signature: str | None = None) -> dict[str, StreamState]:
        """The stored states of ``ids`` (absent ids are left out). With ``signature``, a state written
        by another model is a :class:`StateMismatchError`."""
        found = self._load([check_stream_id(i) for i in ids])
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
            self._save(states)

    @abstractmethod
    def _load(self, ids: list[str]) -> dict[str, StreamState]: ...

    @abstractmethod
    def _save(self, states: list[StreamState]) -> None: ...

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
    """A dict in this process; states are copied in and out, so callers cannot alter them in place."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._states: dict[str, StreamState] = {}
        self._lock = threading.Lock()

    def _load(self, ids: list[str]) -> dict[str, StreamState]:
        with self._lock:
            return {i: self._states[i].copy() for i in ids if i in self._states}

    def _save(self, states: list[StreamState]) -> None:
        copies = [s.copy() for s in states]
        with self._lock:
            for s in copies:
                self._states[s.stream_id] = s

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            return sum(self._states.pop(check_stream_id(i), None) is not None for i in ids)

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._states)


def _row_state(row: Sequence[Any], where: str) -> StreamState:
    stream_id, signature, seq, updated, output, blob = row
    return StreamState(stream_id, signature, int(seq), decode_tensors(blob, f"{where}, stream {stream_id!r}"),
                       output, float(updated))


class SQLiteStore(StateStore):
    """SQLite in WAL mode (``synchronous=NORMAL``): a committed save survives the process being
    killed; one transaction per :meth:`save`. Safe to share between the threads of one process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if self.path.parent and not self.path.parent.exists():
            raise StoreUnavailableError(f"{self.url}: folder {str(self.path.parent)!r} does not exist")
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS lstmkit_streams (id TEXT PRIMARY KEY, signature TEXT NOT NULL, "
                "seq INTEGER NOT NULL, updated REAL NOT NULL, output TEXT, state BLOB NOT NULL)")
        except sqlite3.DatabaseError as e:
            raise StoreUnavailableError(f"{self.url}: not a usable SQLite database ({e})") from None
        self._lock = threading.Lock()

    def _load(self, ids: list[str]) -> dict[str, StreamState]:
        out: dict[str, StreamState] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                rows = self._db.execute(
                    f"SELECT id, signature, seq, updated, output, state FROM lstmkit_streams WHERE id IN "
                    f"({','.join('?' * len(part))})", part).fetchall()
                for row in rows:
                    out[row[0]] = _row_state(row, self.url)
        return out

    def _save(self, states: list[StreamState]) -> None:
        rows = [(s.stream_id, s.signature, int(s.seq), float(s.updated), s.output, encode_tensors(s.tensors))
                for s in states]
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
    one MULTI/EXEC transaction, so several processes can serve the same streams."""

    def __init__(self, url: str, prefix: str = "lstmkit") -> None:
        import redis

        self.url, self.prefix = url, prefix
        try:
            self._r = redis.Redis.from_url(url.split("?")[0], socket_connect_timeout=3)
            self._r.ping()
        except redis.RedisError as e:
            raise StoreUnavailableError(f"{url}: Redis is not reachable ({type(e).__name__}: {e})") from None

    def _key(self, stream_id: str) -> str:
        return f"{self.prefix}:s:{stream_id}"

    def _load(self, ids: list[str]) -> dict[str, StreamState]:
        pipe = self._r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self._key(i))
        out = {}
        for i, h in zip(ids, pipe.execute()):
            if h:
                out[i] = _row_state((i, h[b"signature"].decode(), h[b"seq"], h[b"updated"],
                                     h[b"output"].decode() if h.get(b"output") else None, h[b"state"]), self.url)
        return out

    def _save(self, states: list[StreamState]) -> None:
        pipe = self._r.pipeline(transaction=True)
        for s in states:
            pipe.hset(self._key(s.stream_id), mapping={
                "signature": s.signature, "seq": int(s.seq), "updated": repr(float(s.updated)),
                "output": s.output or "", "state": encode_tensors(s.tensors)})
        pipe.sadd(f"{self.prefix}:ids", *[s.stream_id for s in states])
        pipe.execute()

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

    def _load(self, ids: list[str]) -> dict[str, StreamState]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, signature, seq, updated, output, state FROM {self.table} WHERE id = ANY(%s)", (ids,)
            ).fetchall()
        return {r[0]: _row_state(r, self.url) for r in rows}

    def _save(self, states: list[StreamState]) -> None:
        rows = [(s.stream_id, s.signature, int(s.seq), float(s.updated), s.output, encode_tensors(s.tensors))
                for s in states]
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.table} (id, signature, seq, updated, output, state) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET signature=EXCLUDED.signature, seq=EXCLUDED.seq, "
                "updated=EXCLUDED.updated, output=EXCLUDED.output, state=EXCLUDED.state", rows)

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
    "StateMismatchError", "StoreUnavailableError", "check_stream_id", "encode_tensors", "decode_tensors",
]
