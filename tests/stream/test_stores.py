"""The stream state stores on real backends: memory, SQLite, and the Redis and PostgreSQL servers
these machines run (skipped with the reason without them; failed instead under
LSTMKIT_REQUIRE_SERVICES=1, as in CI)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
from conftest import REDIS_URL, service_or_skip
from stream_stores import store  # noqa: F401  (the fixture: every store kind)

from lstmkit.errors import ConfigError, InputValueError
from lstmkit.stream.stores import (StateMismatchError, StoreUnavailableError, StreamState, check_stream_id,
                                   open_store)


def _state(i: int, seq: int = 1, signature: str = "model-a", hidden: int = 8) -> StreamState:
    rng = np.random.default_rng(i * 1000 + seq)
    return StreamState(f"sensor-{i}", signature, seq,
                       {"layer0.h": rng.standard_normal(hidden).astype(np.float32),
                        "layer0.c": rng.standard_normal(hidden).astype(np.float32)},
                       output=f'{{"y": {i}}}', updated=1_700_000_000.0 + seq)


def test_states_round_trip_exactly(store):
    states = [_state(i) for i in range(5)]
    store.save(states)
    back = store.load([s.stream_id for s in states] + ["absent"], signature="model-a")
    assert sorted(back) == sorted(s.stream_id for s in states)
    for s in states:
        b = back[s.stream_id]
        assert (b.seq, b.signature, b.output, b.updated) == (s.seq, s.signature, s.output, s.updated)
        for k in s.tensors:
            assert b.tensors[k].dtype == np.float32 and np.array_equal(b.tensors[k], s.tensors[k])
    assert store.ids() == sorted(s.stream_id for s in states) and store.count() == 5


def test_a_save_overwrites_and_delete_removes(store):
    store.save([_state(1, seq=1), _state(2, seq=1)])
    store.save([_state(1, seq=2)])
    got = store.load(["sensor-1", "sensor-2"])
    assert got["sensor-1"].seq == 2 and got["sensor-2"].seq == 1
    assert np.array_equal(got["sensor-1"].tensors["layer0.h"], _state(1, seq=2).tensors["layer0.h"])
    assert store.delete(["sensor-1", "sensor-9"]) == 1
    assert store.ids() == ["sensor-2"]


def test_thousands_of_streams_never_cross(store):
    states = [_state(i, seq=i % 7 + 1) for i in range(2000)]
    store.save(states)
    ids = [s.stream_id for s in states]
    back = store.load(ids[::-1])
    for s in states:
        b = back[s.stream_id]
        assert b.seq == s.seq and np.array_equal(b.tensors["layer0.c"], s.tensors["layer0.c"])


def test_a_state_from_another_model_is_refused(store):
    store.save([_state(3, signature="model-a")])
    with pytest.raises(StateMismatchError, match=r"stream 'sensor-3' .* written by another model"):
        store.load(["sensor-3"], signature="model-b")


def test_memory_store_hands_out_copies():
    store = open_store("memory://")
    s = _state(1)
    store.save([s])
    s.tensors["layer0.h"][:] = 0
    got = store.load(["sensor-1"])["sensor-1"]
    assert not np.array_equal(got.tensors["layer0.h"], s.tensors["layer0.h"])
    got.tensors["layer0.h"][:] = 5
    assert store.load(["sensor-1"])["sensor-1"].tensors["layer0.h"].max() < 5


@pytest.mark.parametrize("bad", ["", "a b", "x" * 201, "slash/id", 7, None])
def test_stream_ids_are_checked(bad):
    with pytest.raises(InputValueError, match="stream id: expected 1-200 characters"):
        check_stream_id(bad)
    with pytest.raises(InputValueError):
        open_store("memory://").save([StreamState(bad, "m", 1, {})])  # type: ignore[arg-type]


@pytest.mark.parametrize("url, match", [
    ("ftp://x", "expected memory://, sqlite:///FILE"), ("sqlite://", "expected sqlite:///path"),
    ("redis://127.0.0.1:6379/0?prefix=a-b", "prefix must be a name"),
    ("postgresql://127.0.0.1/test?table=x;drop", "table must be a name"), (42, "expected a URL string"),
])
def test_bad_store_urls_are_one_line(url, match):
    with pytest.raises(ConfigError, match=match):
        open_store(url)


def test_unreachable_servers_are_one_line(tmp_path):
    with pytest.raises(StoreUnavailableError, match=r"redis://127.0.0.1:1/0: Redis is not reachable"):
        open_store("redis://127.0.0.1:1/0")
    with pytest.raises(StoreUnavailableError, match=r"PostgreSQL is not reachable"):
        open_store("postgresql://postgres@127.0.0.1:1/test")
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreUnavailableError, match="not a usable SQLite database"):
        open_store(f"sqlite:///{tmp_path / 'junk.db'}")


def test_sqlite_save_survives_kill_9(tmp_path):
    """A child saves 200 states, one transaction each, and kills itself with SIGKILL right after the
    last save returns: every acknowledged save is there when the file is opened again."""
    db = tmp_path / "crash.db"
    code = textwrap.dedent(f"""
        import os, signal, numpy as np
        from lstmkit.stream.stores import open_store, StreamState
        s = open_store("sqlite:///{db}")
        for i in range(200):
            s.save([StreamState(f"s{{i % 20}}", "m", i, {{"h": np.full(4, i, np.float32)}})])
        print("saved", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9 and "saved" in proc.stdout, proc.stderr[-2000:]
    store = open_store(f"sqlite:///{db}")
    got = store.load([f"s{k}" for k in range(20)])
    assert len(got) == 20
    for k in range(20):
        last = 180 + k
        assert got[f"s{k}"].seq == last and np.array_equal(got[f"s{k}"].tensors["h"], np.full(4, last, np.float32))
    store.close()


def test_two_redis_clients_share_the_streams():
    name = "t" + uuid.uuid4().hex[:12]
    try:
        a = open_store(f"{REDIS_URL}?prefix={name}")
    except StoreUnavailableError as e:
        service_or_skip("Redis", REDIS_URL, str(e))
    b = open_store(f"{REDIS_URL}?prefix={name}")
    try:
        a.save([_state(1, seq=4)])
        assert b.load(["sensor-1"])["sensor-1"].seq == 4
        b.save([_state(1, seq=5)])
        assert a.load(["sensor-1"])["sensor-1"].seq == 5
    finally:
        a.clear()
        a.close()
        b.close()
