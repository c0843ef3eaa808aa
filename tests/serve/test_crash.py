"""A real ``lstmkit serve`` process on SQLite: killed with SIGKILL under load, restarted on the same
store, it has every acknowledged event and each stream's state equals an independent replay of that
stream's events; stopped with SIGTERM under load, it answers what is in flight, exits 0, and the store
holds every answered event."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time

import numpy as np
from serve_support import AUTH, Server, events_body, inputs, saved_model, token_file

from lstmkit.stream.engine import StreamEngine

EVENTS = 2000  # more than any stream gets in the few seconds of load


class Load:
    """Client threads, each stepping its own streams with explicit seq numbers over one keep-alive
    connection; records what was sent and what was acknowledged, until the server goes away."""

    def __init__(self, port: int, streams: list[str], threads: int, xs: dict[str, np.ndarray], max_batch: int) -> None:
        self.port, self.xs, self.max_batch = port, xs, max_batch
        self.acked = dict.fromkeys(streams, 0)
        self.sent = dict.fromkeys(streams, 0)
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(streams[k::threads], k), daemon=True)
                        for k in range(threads)]

    def start(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def acknowledged(self) -> int:
        return sum(self.acked.values())

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def _run(self, mine: list[str], k: int) -> None:
        rng = random.Random(k)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            sid = rng.choice(mine)
            first = self.acked[sid] + 1
            n = rng.randint(1, self.max_batch)
            if first + n - 1 > EVENTS:
                continue
            self.sent[sid] = max(self.sent[sid], first + n - 1)   # before sending: it may be applied unanswered
            body = json.dumps(events_body(self.xs[sid][first - 1: first - 1 + n], first))
            try:
                conn.request("POST", f"/v1/streams/{sid}/events", body=body, headers={**AUTH, "content-type": "application/json"})
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                return   # the server is gone
            self.statuses.append(response.status)
            if response.status != 200:
                return
            assert [r["seq"] for r in json.loads(data)["results"]] == list(range(first, first + n))
            self.acked[sid] = first + n - 1


def _wait_for(load: Load, events: int, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while load.acknowledged() < events and time.time() < deadline:
        time.sleep(0.02)
    assert load.acknowledged() >= events, f"only {load.acknowledged()} events acknowledged"


def test_kill_9_mid_load_loses_no_acknowledged_event(tmp_path):
    model, path = saved_model(tmp_path)
    tok = token_file(tmp_path)
    store = f"sqlite:///{tmp_path / 'streams.db'}"
    streams = [f"crash-{k}" for k in range(9)]
    xs = {sid: inputs(EVENTS, seed=100 + k) for k, sid in enumerate(streams)}
    server = Server(path, store, tok).wait()
    try:
        load = Load(server.port, streams, 3, xs, max_batch=4).start()
        _wait_for(load, 300)
        server.kill9()   # mid-load: requests are in flight
        load.join()
    finally:
        server.close()
    assert set(load.statuses) == {200}
    restarted = Server(path, store, tok).wait()
    try:
        for sid in streams:
            status, got = restarted.request("GET", f"/v1/streams/{sid}?include_state=true")
            assert status == 200
            seq = got["seq"]
            assert load.acked[sid] <= seq <= load.sent[sid], (sid, load.acked[sid], seq, load.sent[sid])
            replay = StreamEngine(model, "memory://")   # the stream's events 1..seq, on their own
            if seq:
                replay.step_many([(sid, xs[sid][t], t + 1) for t in range(seq)])
            expected = replay.state(sid).tensors
            for name, values in got["state"].items():
                np.testing.assert_allclose(values, expected[name], atol=1e-5, err_msg=f"{sid} {name}")
            # and the stream goes on from there
            status, nxt = restarted.request("POST", f"/v1/streams/{sid}/events", events_body(xs[sid][seq: seq + 1], seq + 1))
            assert status == 200, nxt
            np.testing.assert_allclose(nxt["results"][0]["output"], replay.step(sid, xs[sid][seq], seq + 1), atol=1e-5)
    finally:
        restarted.close()


def test_sigterm_under_load_answers_what_is_in_flight_and_exits_0(tmp_path):
    model, path = saved_model(tmp_path)
    tok = token_file(tmp_path)
    db = tmp_path / "streams.db"
    streams = [f"calm-{k}" for k in range(16)]
    xs = {sid: inputs(EVENTS, seed=200 + k) for k, sid in enumerate(streams)}
    server = Server(path, f"sqlite:///{db}", tok).wait()
    try:
        load = Load(server.port, streams, 8, xs, max_batch=32).start()
        _wait_for(load, 500)
        code = server.terminate()
        load.join()
    finally:
        server.close()
    assert code == 0, "".join(server.lines)
    assert set(load.statuses) == {200}, sorted(set(load.statuses))   # nothing in flight was cut off or refused
    engine = StreamEngine(model, f"sqlite:///{db}")
    try:
        for sid in streams:
            assert load.acked[sid] <= engine.state(sid).seq <= load.sent[sid]
    finally:
        engine.store.close()
