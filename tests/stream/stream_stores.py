"""Shared by the stream tests: open one store of each kind on a fresh table, prefix or file."""

from __future__ import annotations

import uuid

import pytest

from conftest import POSTGRES_URL, REDIS_URL, service_or_skip

from lstmkit.stream.stores import StoreUnavailableError, open_store

KINDS = ["memory", "sqlite", "redis", "postgres"]


def _open(kind: str, tmp_path):
    name = "t" + uuid.uuid4().hex[:12]
    if kind == "memory":
        return open_store("memory://"), None
    if kind == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'streams.db'}"), None
    if kind == "redis":
        try:
            store = open_store(f"{REDIS_URL}?prefix={name}")
        except StoreUnavailableError as e:
            service_or_skip("Redis", REDIS_URL, str(e))
        return store, lambda: store.clear()
    try:
        store = open_store(f"{POSTGRES_URL}?table={name}")
    except StoreUnavailableError as e:
        service_or_skip("PostgreSQL", POSTGRES_URL, str(e))
    return store, lambda: store._db.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture(params=KINDS)
def store(request, tmp_path):
    """One store of each kind (a test taking it runs four times), emptied and closed afterwards."""
    s, cleanup = _open(request.param, tmp_path)
    yield s
    if cleanup is not None:
        cleanup()
    s.close()
