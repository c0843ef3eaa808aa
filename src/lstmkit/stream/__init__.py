"""Live per-stream memory: each stream's recurrent state kept between events, durably.

:mod:`lstmkit.stream.stores` holds the stores (memory, SQLite, Redis, PostgreSQL) behind one
interface; :func:`open_store` picks one from a URL. Importing this package stays cheap: redis and
psycopg are imported only by the store that needs them.
"""

from __future__ import annotations

from lstmkit.stream.stores import (MemoryStore, PostgresStore, RedisStore, SQLiteStore, StateMismatchError, StateStore,
                                   StoreUnavailableError, StreamState, open_store)

__all__ = ["StreamState", "StateStore", "MemoryStore", "SQLiteStore", "RedisStore", "PostgresStore", "open_store",
           "StateMismatchError", "StoreUnavailableError"]
