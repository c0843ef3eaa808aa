"""Two ``lstmkit serve`` processes on one Redis, no sticky routing: requests alternating between them
give the outputs of one process; both writing the same stream at once never lose or repeat a step."""

from __future__ import annotations

import threading
import uuid

import numpy as np
from conftest import REDIS_URL, service_or_skip
from serve_support import Server, events_body, inputs, prefix_outputs, saved_model, token_file

from lstmkit.stream.stores import StoreUnavailableError, open_store


def test_two_servers_share_the_streams_on_redis(tmp_path):
    url = f"{REDIS_URL}?prefix=serve{uuid.uuid4().hex[:10]}"
    try:
        store = open_store(url)
    except StoreUnavailableError as e:
        service_or_skip("Redis", REDIS_URL, str(e))
    model, path = saved_model(tmp_path)
    tok = token_file(tmp_path)
    servers = [Server(path, url, tok), Server(path, url, tok)]   # both start at once
    try:
        for s in servers:
            s.wait()
        # 1. alternating: request k of every stream goes to server k % 2
        xs = {f"r{k}": inputs(7, seed=300 + k) for k in range(4)}
        got = {sid: [] for sid in xs}
        k = 0
        for start, stop in ((0, 2), (2, 3), (3, 5), (5, 6), (6, 7)):
            for sid, x in xs.items():
                status, body = servers[k % 2].request("POST", f"/v1/streams/{sid}/events", events_body(x[start:stop], start + 1))
                assert status == 200, body
                got[sid] += [r["output"] for r in body["results"]]
                k += 1
        for sid, x in xs.items():
            np.testing.assert_allclose(np.array(got[sid]), prefix_outputs(model, x), atol=1e-5, err_msg=sid)
            assert servers[0].request("GET", f"/v1/streams/{sid}")[1]["seq"] == 7
            assert servers[1].request("GET", f"/v1/streams/{sid}")[1]["seq"] == 7

        # 2. both servers step the same stream at once (seq null): every event gets its own number
        x = inputs(24, seed=400)
        answers: list[tuple[int, list[float], int]] = []   # (seq, output, input row)
        lock = threading.Lock()

        def writer(server: Server, rows: range) -> None:
            for row in rows:
                while True:
                    status, body = server.request("POST", "/v1/streams/both/events", events_body(x[row: row + 1]))
                    if status == 409 and "another" in body["error"]:   # changed meanwhile by the other server
                        continue
                    assert status == 200, body
                    break
                with lock:
                    answers.append((body["results"][0]["seq"], body["results"][0]["output"], row))

        threads = [threading.Thread(target=writer, args=(servers[0], range(0, 24, 2))),
                   threading.Thread(target=writer, args=(servers[1], range(1, 24, 2)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        answers.sort()
        assert [a[0] for a in answers] == list(range(1, 25))
        applied = x[[a[2] for a in answers]]   # the inputs in the order the store applied them
        np.testing.assert_allclose(np.array([a[1] for a in answers]), prefix_outputs(model, applied), atol=1e-5)
    finally:
        for s in servers:
            s.close()
        store.clear()
        store.close()
