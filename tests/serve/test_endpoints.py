"""``lstmkit serve`` endpoints in process (FastAPI TestClient) over a tiny real model: outputs equal
``model.predict`` on the first t steps, repeats, gaps, auth, limits, every bad input a 4xx with one
line, state / reset / delete / model / health / readiness / metrics."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from serve_support import AUTH, TOKEN, TestClient, client, events_body, inputs, prefix_outputs, tiny_model

from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential
from lstmkit.serve import create_app
from lstmkit.stream.engine import StreamEngine


def one_line_error(response, status: int, *needles: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    message = body["error"]
    assert isinstance(message, str) and message and "\n" not in message and "Traceback" not in message, body
    for needle in needles:
        assert needle in message, message
    return message


@pytest.fixture
def model():
    return tiny_model()


@pytest.fixture
def served(model):
    """(model, engine, client) with a bearer token, memory store."""
    engine = StreamEngine(model, "memory://")
    app = create_app(engine, token=TOKEN)
    with client(app) as c:
        yield model, engine, c
    assert app.state.batcher.inside == 0  # every request that entered the app was accounted for


def post(c, stream, body, headers=AUTH, **kw):
    return c.post(f"/v1/streams/{stream}/events", json=body, headers=headers, **kw)


def test_outputs_equal_predict_on_the_first_t_steps(served):
    model, _, c = served
    x = inputs(6)
    ref = prefix_outputs(model, x)
    got, seqs = [], []
    for part, first in ((x[:2], 1), (x[2:5], None), (x[5:], 6)):   # explicit, null, explicit seq numbers
        r = post(c, "sensor-1", events_body(part, first))
        assert r.status_code == 200, r.text
        for item in r.json()["results"]:
            seqs.append(item["seq"])
            got.append(item["output"])
    assert seqs == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(np.array(got), ref, atol=1e-5)
    assert c.get("/v1/streams/sensor-1", headers=AUTH).json()["seq"] == 6


def test_the_routed_path_equals_the_fast_path(model):
    # the Gate answers POST .../events itself (no FastAPI routing); the FastAPI route does the same work
    x = inputs(3)
    outputs = []
    for fast in (True, False):
        app = create_app(StreamEngine(model), token=TOKEN, max_body_bytes=2048, fast_path=fast)
        with client(app) as c:
            answers = [post(c, "r", events_body(x[t:t + 1], t + 1)) for t in range(3)]
            assert [r.status_code for r in answers] == [200, 200, 200]
            outputs.append([r.json()["results"][0]["output"] for r in answers])
            one_line_error(post(c, "r", {"events": [{"input": [1, 2]}]}), 422, "expected 3 number(s)")
            one_line_error(post(c, "r", events_body(x[:1], 9)), 409, "seq 9 refused")
            one_line_error(c.post("/v1/streams/r/events", content=(b"{" + b" " * 3000 + b"}" for _ in range(1)),
                                  headers=AUTH), 413, "at most 2048 bytes")
            one_line_error(post(c, "a%20b", events_body(x[:1])), 422, "stream_id (path)")
            assert app.state.batcher.inside == 0
    assert outputs[0] == outputs[1]
    np.testing.assert_allclose(outputs[0], prefix_outputs(model, x), atol=1e-5)
    with TestClient(create_app(StreamEngine(model), token=TOKEN), root_path="/api") as c:   # behind a proxy's prefix
        r = c.post("/api/v1/streams/r/events", json=events_body(x[:1]), headers=AUTH)
        assert r.status_code == 200 and r.json()["results"][0]["seq"] == 1
        assert c.get("/api/healthz").status_code == 200


def test_a_single_number_input_and_a_token_model():
    torch.manual_seed(0)
    one = Sequential([LSTM(4), Dense(1)])
    one.build((None, None, 1))
    tokens = Sequential([Embedding(20, 4, mask_zero=True), LSTM(5), Dense(3)])
    with client(create_app(StreamEngine(one), token=None)) as c:
        r = post(c, "s", {"events": [{"input": 0.5}, {"input": [0.25]}]}, headers={})
        assert r.status_code == 200, r.text
        ref = prefix_outputs(one, np.array([[0.5], [0.25]], np.float32))
        np.testing.assert_allclose([e["output"] for e in r.json()["results"]], ref, atol=1e-5)
    with client(create_app(StreamEngine(tokens), token=None)) as c:
        r = post(c, "chat:7", {"events": [{"input": 3}, {"input": 11.0}]}, headers={})   # 11.0: an integer to JSON
        assert r.status_code == 200, r.text
        ref = np.stack([tokens.predict(np.array([[3, 11][: t + 1]]), verbose=0)[0] for t in range(2)])
        np.testing.assert_allclose([e["output"] for e in r.json()["results"]], ref, atol=1e-5)
        one_line_error(post(c, "chat:7", {"events": [{"input": 2.5}]}, headers={}), 422, "token id")
        one_line_error(post(c, "chat:7", {"events": [{"input": 20}]}, headers={}), 422, "0..19, found 20")
        one_line_error(post(c, "chat:7", {"events": [{"input": "hello"}]}, headers={}), 422, "token id")


def test_a_repeated_seq_is_answered_without_stepping(served):
    model, engine, c = served
    x = inputs(3)
    first = post(c, "a", events_body(x[:2], 1)).json()["results"]
    before = c.get("/v1/streams/a?include_state=true", headers=AUTH).json()
    again = post(c, "a", {"events": [{"seq": 2, "input": x[2].tolist()}]})   # another input: still a repeat
    assert again.status_code == 200 and again.json()["results"] == [first[1]]
    after = c.get("/v1/streams/a?include_state=true", headers=AUTH).json()
    assert after["seq"] == 2 and after["state"] == before["state"]
    nxt = post(c, "a", {"events": [{"seq": 3, "input": x[2].tolist()}]}).json()["results"][0]
    np.testing.assert_allclose(nxt["output"], prefix_outputs(model, x)[2], atol=1e-5)


def test_a_gap_or_an_old_seq_is_409_and_nothing_is_applied(served):
    _, _, c = served
    x = inputs(5)
    assert post(c, "a", events_body(x[:2], 1)).status_code == 200
    one_line_error(post(c, "a", events_body(x[2:3], 4)), 409, "seq 4 refused; the next is 3 (last applied 2)")
    # atomic: the first event of this request is fine, the second is a gap, so neither is applied
    one_line_error(post(c, "a", {"events": [{"seq": 3, "input": x[2].tolist()}, {"seq": 5, "input": x[3].tolist()}]}),
                   409, "seq 5 refused")
    one_line_error(post(c, "a", events_body(x[:1], 1)), 409, "seq 1 refused")
    assert c.get("/v1/streams/a", headers=AUTH).json()["seq"] == 2


def test_auth(model):
    app = create_app(StreamEngine(model), token=TOKEN)
    with client(app) as c:
        body = events_body(inputs(1))
        r = post(c, "a", body, headers={})
        one_line_error(r, 401, "Authorization: Bearer <token>", "found none")
        assert r.headers["www-authenticate"].startswith("Bearer")
        one_line_error(post(c, "a", body, headers={"Authorization": "Bearer wrong"}), 401, "not the one")
        one_line_error(post(c, "a", body, headers={"Authorization": f"Basic {TOKEN}"}), 401, "another form")
        for path in ("/v1/model", "/metrics", "/v1/streams/a"):
            one_line_error(c.get(path), 401, "authorization")
        one_line_error(c.delete("/v1/streams/a"), 401)
        one_line_error(c.post("/v1/streams/a/reset"), 401)
        assert post(c, "a", body, headers={"authorization": f"bearer {TOKEN}"}).status_code == 200  # scheme any case
        for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):   # public
            assert c.get(path).status_code == 200, path
    with client(create_app(StreamEngine(model), token=None)) as c:   # --no-auth
        assert post(c, "a", events_body(inputs(1)), headers={}).status_code == 200
        assert c.get("/v1/model").status_code == 200 and c.get("/metrics").status_code == 200


def test_size_limits(model):
    app = create_app(StreamEngine(model), token=TOKEN, max_body_bytes=4096, max_events=8)
    with client(app) as c:
        assert post(c, "a", events_body(inputs(8))).status_code == 200
        one_line_error(post(c, "a", events_body(inputs(9), 9)), 413, "at most 8 per request", "found 9")
        one_line_error(post(c, "a", events_body(inputs(200), 9)), 413, "at most 4096 bytes", "content-length")

        def chunks():   # no content-length: the streamed size is counted
            yield b'{"events": ['
            for _ in range(300):
                yield b'{"input": [0.1, 0.2, 0.3]},'
            yield b'{"input": [0.1, 0.2, 0.3]}]}'

        r = c.post("/v1/streams/a/events", content=chunks(), headers=AUTH)
        one_line_error(r, 413, "at most 4096 bytes")
        assert c.get("/v1/streams/a", headers=AUTH).json()["seq"] == 8   # nothing of the refused ones


BAD = [
    ("a b", {"events": [{"input": [1, 2, 3]}]}, 422, ["stream_id (path)", "1-200 characters"]),
    ("x" * 201, {"events": [{"input": [1, 2, 3]}]}, 422, ["stream_id (path)"]),
    ("s", {"events": [{"seq": 0, "input": [1, 2, 3]}]}, 422, ["events[0].seq", ">= 1", "found 0"]),
    ("s", {"events": [{"seq": -3, "input": [1, 2, 3]}]}, 422, ["events[0].seq"]),
    ("s", {"events": [{"seq": 1.5, "input": [1, 2, 3]}]}, 422, ["events[0].seq", "whole number", "1.5"]),
    ("s", {"events": [{"seq": "1", "input": [1, 2, 3]}]}, 422, ["events[0].seq", '"1"']),
    ("s", {"events": [{"seq": True, "input": [1, 2, 3]}]}, 422, ["events[0].seq", "true"]),
    ("s", {"events": [{"input": [1, 2, 3]}, {"input": [1, True, 3]}]}, 422, ["events[1].input", "[1, true, 3]"]),
    ("s", {"events": [{"input": None}]}, 422, ["events[0].input", "found null"]),
    ("s", {"events": [{"input": {"x": 1}}]}, 422, ["events[0].input", "3 number(s) per step", '{"x": 1.0}']),
    ("s", {"events": [{"input": {"x": "y"}}]}, 422, ["events[0].input", "a list of numbers"]),
    ("s", {"events": [{"input": [[1, 2, 3]]}]}, 422, ["events[0].input"]),
    ("s", {"events": [{"input": [1, 2]}]}, 422, ["input", "expected 3 number(s) per step, found shape (2,)"]),
    ("s", {"events": [{"input": "text"}]}, 422, ["input", "expected 3 number(s)"]),
    ("s", {"events": [{"input": [1, 2, 3], "sequence": 1}]}, 422, ["events[0]", "unknown field 'sequence'"]),
    ("s", {"events": [{"input": [1, 2, 3]}], "more": 1}, 422, ["unknown field 'more'"]),
    ("s", {"events": [{"seq": 1}]}, 422, ["events[0].input", "required"]),
    ("s", {"events": []}, 422, ["events", "at least 1"]),
    ("s", {"events": {"input": [1, 2, 3]}}, 422, ["events", "list"]),
    ("s", {"events": [5]}, 422, ["events[0]", "JSON object"]),
    ("s", {}, 422, ["events", "required"]),
    ("s", [1, 2], 422, ["body", "JSON object"]),
    ("s", {"events": [{"seq": 2**63, "input": [1, 2, 3]}]}, 422, ["events[0].seq", "<= 9223372036854775807"]),
    ("s", {"events": [{"seq": 2**64, "input": [1, 2, 3]}]}, 422, ["events[0].seq"]),
    ("s", {"events": [{"seq": 2.5, "input": [1, 2, 3]}]}, 422, ["events[0].seq", "whole number", "2.5"]),
    ("s", {"events": [{"input": [1, 2, 1e39]}]}, 422, ["events[0].input", "1e+39"]),
    ("s", {"events": [{"input": {"a": 1.0, "b": 2.0, "c": 3.0}}]}, 422, ["events[0].input", "3 number(s) per step"]),
]


@pytest.mark.parametrize("stream,body,status,needles", BAD, ids=[f"bad{k}" for k in range(len(BAD))])
def test_bad_requests_are_4xx_with_one_line(served, stream, body, status, needles):
    _, _, c = served
    one_line_error(post(c, stream, body), status, *needles)


@pytest.mark.parametrize("raw,needles", [
    (b'{"events": [{"input": [NaN, 1, 2]}]}', ["NaN is not a JSON number"]),
    (b'{"events": [{"input": [Infinity, 1, 2]}]}', ["Infinity is not a JSON number"]),
    (b'{"events": [{"input": [-Infinity, 1, 2]}]}', ["Infinity is not a JSON number"]),
    (b'{"events": [{"input": [1e400, 1, 2]}]}', ["events[0].input", "numbers must be finite"]),
    (b'{"events": [{"input": [1, 2, 3]}', ["not valid JSON"]),
    (b"", ["empty body"]),
    (b"\xff\xfe{", ["not valid JSON"]),
    (b"[" * 5000 + b"]" * 5000, ["nested too deeply"]),
])
def test_not_json_nan_and_infinity_are_refused(served, raw, needles):
    _, _, c = served
    r = c.post("/v1/streams/s/events", content=raw, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code in (400, 422)
    one_line_error(r, r.status_code, *needles)
    assert c.get("/v1/streams/s", headers=AUTH).json()["seq"] == 0


def test_other_bad_requests(served):
    _, _, c = served
    one_line_error(c.get("/v1/streams/s?include_state=perhaps", headers=AUTH), 422, "include_state (query)", "perhaps")
    one_line_error(c.get("/v1/streams/s?state=1", headers=AUTH), 422, "query: unknown parameter \"state\"",
                   "allowed: include_state")
    one_line_error(c.post("/v1/streams/s/events?x=1", json=events_body(inputs(1)), headers=AUTH), 422,
                   "unknown parameter", "none on this endpoint")
    one_line_error(c.get("/v1/streams/" + "y" * 201, headers=AUTH), 422, "stream_id (path)", "1-200 characters")
    one_line_error(c.get("/v1/nothing", headers=AUTH), 404, "no endpoint GET")
    one_line_error(c.put("/v1/model", headers=AUTH), 405, "PUT is not allowed")
    r = c.options("/v1/streams/s", headers=AUTH)
    one_line_error(r, 405, "OPTIONS is not allowed", "allowed: DELETE, GET")
    assert r.headers["allow"] == "DELETE, GET"
    one_line_error(c.post("/v1/streams/s/events", content=b"{}", headers={**AUTH, "content-length": "x"}), 400,
                   "content-length")


def test_state_reset_and_delete(served):
    model, engine, c = served
    unknown = c.get("/v1/streams/nobody", headers=AUTH)
    assert unknown.status_code == 200 and unknown.json() == {"stream_id": "nobody", "seq": 0, "updated": None}
    x = inputs(3)
    start = time.time()
    post(c, "s.1", events_body(x, 1))
    got = c.get("/v1/streams/s.1?include_state=true", headers=AUTH).json()
    assert got["seq"] == 3 and start - 1 <= got["updated"] <= time.time() + 1
    expected = engine.state("s.1").tensors
    assert sorted(got["state"]) == sorted(expected) == ["layer0.c", "layer0.h"]
    for name, values in got["state"].items():
        np.testing.assert_allclose(values, expected[name], atol=1e-7)
    assert "state" not in c.get("/v1/streams/s.1", headers=AUTH).json()

    r = c.post("/v1/streams/s.1/reset", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"stream_id": "s.1", "seq": 0, "existed": True}
    assert c.get("/v1/streams/s.1", headers=AUTH).json()["seq"] == 0
    again = post(c, "s.1", events_body(x[1:2], 1)).json()["results"][0]   # a fresh start from a zero state
    np.testing.assert_allclose(again["output"], prefix_outputs(model, x[1:2])[0], atol=1e-5)

    assert c.delete("/v1/streams/s.1", headers=AUTH).json() == {"stream_id": "s.1", "deleted": True}
    assert c.delete("/v1/streams/s.1", headers=AUTH).json() == {"stream_id": "s.1", "deleted": False}
    assert engine.streams() == []


def test_idle_streams_are_evicted_after_the_ttl(model):
    engine = StreamEngine(model, ttl=0.3)
    with client(create_app(engine, token=TOKEN, evict_interval=0.1)) as c:
        assert post(c, "old", events_body(inputs(2))).status_code == 200
        deadline = time.time() + 10
        while engine.streams() and time.time() < deadline:
            time.sleep(0.05)
        assert engine.streams() == []
        assert c.get("/v1/streams/old", headers=AUTH).json()["seq"] == 0
        assert post(c, "old", events_body(inputs(1))).json()["results"][0]["seq"] == 1   # starts afresh


def test_model_health_and_readiness(served):
    _, engine, c = served
    info = c.get("/v1/model", headers=AUTH).json()
    assert info["kind"] == "sequential" and info["signature"] == engine.signature
    assert info["input"] == {"kind": "vector", "dtype": "float32", "shape": [3]}
    assert info["output"]["shape"] == [2] and info["store"] == "memory://"
    assert info["limits"] == {"max_events": 4096, "max_body_bytes": 1 << 20, "max_batch_delay_ms": 2.0,
                              "max_batch_events": 8192, "auth": True}
    assert c.get("/healthz").json() == {"status": "ok"}
    post(c, "a", events_body(inputs(1)))
    assert c.get("/readyz").json() == {"status": "ready", "streams": 1}


def test_a_store_that_fails_is_503_never_500(model, tmp_path):
    engine = StreamEngine(model, f"sqlite:///{tmp_path / 's.db'}")
    with client(create_app(engine, token=TOKEN)) as c:
        assert post(c, "a", events_body(inputs(1))).status_code == 200
        engine.store.close()   # the store goes away under the running server
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "unavailable" and "store" in r.json()["error"]
        one_line_error(post(c, "a", events_body(inputs(1), 2)), 503, "store")
        one_line_error(c.get("/v1/streams/b", headers=AUTH), 503, "store")
        metrics = c.get("/metrics", headers=AUTH).text
        assert re.search(r"^lstmkit_serve_store_errors_total [1-9]", metrics, re.M), metrics
        assert "lstmkit_serve_active_streams NaN" in metrics


def test_capacity_is_429_and_another_models_state_is_409(model, tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = StreamEngine(model, url, max_streams=2)
    with client(create_app(engine, token=TOKEN)) as c:
        assert post(c, "a", events_body(inputs(1))).status_code == 200
        assert post(c, "b", events_body(inputs(1))).status_code == 200
        r = post(c, "c", events_body(inputs(1)))
        one_line_error(r, 429, "max_streams=2 reached")
        assert r.headers["retry-after"] == "1"
        assert post(c, "a", events_body(inputs(1))).status_code == 200   # existing streams go on
    engine.store.close()   # SQLite is held by one engine at a time
    other = tiny_model(seed=5)
    with client(create_app(StreamEngine(other, url), token=TOKEN)) as c:
        one_line_error(post(c, "a", events_body(inputs(1))), 409, "written by another model")
        one_line_error(c.get("/v1/streams/a", headers=AUTH), 409, "another model")


def test_a_password_in_the_store_url_never_reaches_a_client(model):
    engine = StreamEngine(model)
    engine.store.url = "redis://:s3cret-pw@127.0.0.1:6379/0"   # as a Redis store with a password would show it
    with client(create_app(engine, token=TOKEN)) as c:
        info = c.get("/v1/model", headers=AUTH).json()
        assert "s3cret-pw" not in info["store"] and "***" in info["store"]


def test_metrics(served):
    _, _, c = served
    post(c, "a", events_body(inputs(3), 1))
    post(c, "b", events_body(inputs(2), 1))
    post(c, "b", events_body(inputs(1), 9))   # 409
    r = c.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for pattern in (r"^lstmkit_serve_events_total 5\.0$",
                    r'^lstmkit_serve_requests_total\{route="events",status="200"\} 2\.0$',
                    r'^lstmkit_serve_requests_total\{route="events",status="409"\} 1\.0$',
                    r'^lstmkit_serve_request_duration_seconds_bucket\{le="\+Inf",route="events"\} 3\.0$',
                    r"^lstmkit_serve_active_streams 2\.0$",
                    r"^lstmkit_serve_store_errors_total 0\.0$",
                    r"^lstmkit_serve_batch_events_count 3\.0$",
                    r"^lstmkit_serve_batch_events_sum 6\.0$",
                    r"^lstmkit_serve_batch_requests_count 3\.0$",
                    r"^lstmkit_serve_step_seconds_count 3\.0$"):
        assert re.search(pattern, text, re.M), (pattern, text)


def test_openapi_schema_and_docs(served):
    _, _, c = served
    schema = c.get("/openapi.json").json()
    events = schema["paths"]["/v1/streams/{stream_id}/events"]["post"]
    assert events["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventsRequest"}
    assert events["parameters"][0]["schema"]["pattern"] == "^[A-Za-z0-9._:@-]{1,200}$"
    assert {"200", "401", "409", "413", "422", "429", "503"} <= set(events["responses"])
    body = schema["components"]["schemas"]["EventsRequest"]
    assert body["additionalProperties"] is False and body["examples"]
    assert schema["components"]["schemas"]["Event"]["properties"]["seq"]["anyOf"][0]["minimum"] == 1
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert events["security"] == [{"bearerAuth": []}] and "security" not in schema["paths"]["/healthz"]["get"]
    for path in ("/v1/streams/{stream_id}", "/v1/streams/{stream_id}/reset", "/v1/model", "/metrics", "/readyz"):
        assert path in schema["paths"], path
    assert all(op.get("description") or op.get("summary") for ops in schema["paths"].values() for op in ops.values())
    docs = c.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
