"""Concurrent requests for interleaved streams, from asyncio tasks and from threads, give the same
outputs as each stream run on its own; concurrent requests are batched into shared engine calls; the
requests of one stream sent at once are applied whole, one after another, never interleaved."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from serve_support import AUTH, TOKEN, client, events_body, inputs, prefix_outputs, tiny_model

from lstmkit.serve import create_app
from lstmkit.stream.engine import StreamEngine

STREAMS, STEPS = 12, 9


def _chunks(rng: random.Random, n: int) -> list[tuple[int, int]]:
    """[start, stop) pieces of 1-3 events covering 0..n."""
    out, start = [], 0
    while start < n:
        stop = min(n, start + rng.randint(1, 3))
        out.append((start, stop))
        start = stop
    return out


def _check(model, xs, got):
    for s in range(STREAMS):
        np.testing.assert_allclose(np.array(got[s]), prefix_outputs(model, xs[s]), atol=1e-5, err_msg=f"stream {s}")


def test_concurrent_tasks_equal_independent_runs_and_are_batched():
    model = tiny_model(2)
    xs = [inputs(STEPS, seed=10 + s) for s in range(STREAMS)]
    app = create_app(StreamEngine(model), token=TOKEN, max_batch_delay=0.005)
    got: list[list] = [[None] * STEPS for _ in range(STREAMS)]
    sent = [0]

    async def stream(ac: httpx.AsyncClient, s: int) -> None:
        rng = random.Random(s)
        for start, stop in _chunks(rng, STEPS):
            r = await ac.post(f"/v1/streams/u{s}/events", json=events_body(xs[s][start:stop], start + 1), headers=AUTH)
            assert r.status_code == 200, r.text
            sent[0] += 1
            for k, item in enumerate(r.json()["results"]):
                assert item["seq"] == start + k + 1
                got[s][start + k] = item["output"]

    async def same_stream_at_once(ac: httpx.AsyncClient) -> list:
        # 6 requests of one stream sent together, seq null: each is applied whole, in some order
        x = inputs(12, seed=99)
        parts = [x[2 * k: 2 * k + 2] for k in range(6)]
        answers = await asyncio.gather(*(ac.post("/v1/streams/shared/events", json=events_body(p), headers=AUTH)
                                         for p in parts))
        return [(p, r) for p, r in zip(parts, answers)]

    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as ac:
            results = await asyncio.gather(*(stream(ac, s) for s in range(STREAMS)), same_stream_at_once(ac))
            metrics = (await ac.get("/metrics", headers=AUTH)).text
        return results[-1], metrics

    shared, metrics = asyncio.run(main())
    _check(model, xs, got)
    # the shared stream: requests whole and contiguous; the outputs follow the order they were applied in
    order = sorted(shared, key=lambda pr: pr[1].json()["results"][0]["seq"])
    seqs = [item["seq"] for _, r in order for item in r.json()["results"]]
    assert seqs == list(range(1, 13))
    applied = np.concatenate([p for p, _ in order])
    outputs = [item["output"] for _, r in order for item in r.json()["results"]]
    np.testing.assert_allclose(outputs, prefix_outputs(model, applied), atol=1e-5)
    # batching: fewer engine calls than requests
    calls = float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith("lstmkit_serve_batch_requests_count")))
    assert calls < sent[0] + 6, metrics
    assert app.state.batcher.inside == 0


def test_concurrent_threads_equal_independent_runs(tmp_path):
    model = tiny_model(3)
    xs = [inputs(STEPS, seed=40 + s) for s in range(STREAMS)]
    engine = StreamEngine(model, f"sqlite:///{tmp_path / 'streams.db'}")
    got: list[list] = [[None] * STEPS for _ in range(STREAMS)]
    with client(create_app(engine, token=TOKEN)) as c:
        def stream(s: int) -> None:
            for start, stop in _chunks(random.Random(s), STEPS):
                r = c.post(f"/v1/streams/t{s}/events", json=events_body(xs[s][start:stop], start + 1), headers=AUTH)
                assert r.status_code == 200, r.text
                for k, item in enumerate(r.json()["results"]):
                    got[s][start + k] = item["output"]

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(stream, range(STREAMS)))
        assert all(c.get(f"/v1/streams/t{s}", headers=AUTH).json()["seq"] == STEPS for s in range(STREAMS))
    engine.store.close()
    _check(model, xs, got)
