"""The FastAPI application of ``lstmkit serve``: :func:`create_app` wraps a :class:`StreamEngine`.

Endpoints (see ``docs/stream-service.md`` for curl examples):

============================================ ====================================================
``POST /v1/streams/{id}/events``             step events of one stream (atomic per request)
``GET /v1/streams/{id}[?include_state=true]`` the stream's last applied ``seq`` (0: unknown stream)
``POST /v1/streams/{id}/reset``              forget the stream's memory
``DELETE /v1/streams/{id}``                  remove the stream
``GET /v1/model``                            what the model takes and gives, and the limits
``GET /healthz``, ``GET /readyz``            the process answers; the store answers (else 503)
``GET /metrics``                             Prometheus text format
``GET /openapi.json``, ``GET /docs``         the OpenAPI schema and its Swagger page
============================================ ====================================================

The per-request path is kept lean for throughput: one pure ASGI middleware (:class:`Gate`: bearer
token, query, body size, metrics) instead of ``BaseHTTPMiddleware``, which also answers the events
requests itself (the fast path: the same handler as the documented route, without FastAPI's routing
and dependency solving); the events body is parsed with orjson and validated with pydantic v2, the
answer is orjson bytes; concurrent requests are batched into one engine call
(:mod:`lstmkit.serve.batcher`).

Errors are ``{"error": "<one line>"}`` (422 adds pydantic's ``detail`` list): 400 not JSON,
401 token, 404 route, 409 ``seq`` gap or another model's state, 413 too large, 422 bad input,
429 ``max_streams`` reached, 503 store down or shutting down. A 500 is a bug, never user input.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
import time
from typing import Annotated, Any, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl, urlparse

import numpy as np
import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from lstmkit._version import __version__
from lstmkit.errors import ConfigError, InputValueError, LstmkitError, ShapeError
from lstmkit.serve.batcher import Batcher, StepFailure, is_store_error, one_line
from lstmkit.serve.metrics import Metrics
from lstmkit.serve.schemas import (STREAM_ID, STREAM_ID_PATTERN, STREAM_ID_RULE, DeleteResponse, ErrorResponse,
                                   EventsRequest, EventsResponse, HealthResponse, ModelResponse, ReadyResponse,
                                   ResetResponse, StreamResponse, describe_errors, error_details, input_kinds,
                                   input_schema, shown)
from lstmkit.stream.engine import CapacityError, SequenceError
from lstmkit.stream.stores import StateMismatchError, StoreUnavailableError

try:  # another process changed a stream meanwhile (shared stores), after the engine's retries
    from lstmkit.stream.stores import ConcurrentUpdateError
except ImportError:  # pragma: no cover - an engine without shared-store checks
    class ConcurrentUpdateError(LstmkitError):  # type: ignore[no-redef]
        pass

log = logging.getLogger("lstmkit.serve")

JSON = "application/json"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_MAX_EVENTS = 4096
DEFAULT_MAX_BATCH_DELAY = 0.002


STREAM_ID_DOC = f"The stream's id: {STREAM_ID_RULE}."
StreamId = Annotated[str, Path(pattern=STREAM_ID_PATTERN, description=STREAM_ID_DOC, examples=["sensor-1"])]


class BodyTooLarge(Exception):
    """The streamed request body passed ``max_body_bytes`` (answered 413)."""


class ApiError(Exception):
    """An answer other than 200 from inside an endpoint: ``status`` and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _whole(value: Any) -> Any:
    """A float with no fraction as an int (also inside a list): token ids sent as ``3.0`` (or as a
    list of numbers, which is validated as floats)."""
    if type(value) is float and value.is_integer() and -2.0**63 <= value < 2.0**63:
        return int(value)
    if type(value) is list:
        return [int(v) if type(v) is float and v.is_integer() and -2.0**63 <= v < 2.0**63 else v for v in value]
    return value


def status_of(error: LstmkitError) -> int:
    """The HTTP status of an engine refusal."""
    if isinstance(error, CapacityError):
        return 429
    if isinstance(error, (SequenceError, StateMismatchError, ConcurrentUpdateError)):
        return 409
    if isinstance(error, StoreUnavailableError):
        return 503
    if isinstance(error, (InputValueError, ShapeError)):
        return 422
    return 422


def _default(value: Any) -> Any:
    """orjson's fallback for outputs: arrays it cannot take directly, numpy scalars, tuples, sets."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot be written as JSON: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """JSON bytes; numpy arrays and scalars anywhere in ``value`` become lists and numbers."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=_default)


def _error(status: int, message: str, headers: dict[str, str] | None = None, detail: Any = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return Response(dumps(body), status_code=status, media_type=JSON, headers=headers)


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def route_of(path: str) -> str:
    """The metrics label of a path (one of :data:`lstmkit.serve.metrics.ROUTES`)."""
    if path.startswith("/v1/streams/"):
        if path.endswith("/events"):
            return "events"
        return "reset" if path.endswith("/reset") else "stream"
    if path == "/v1/model":
        return "model"
    if path in ("/healthz", "/readyz", "/metrics"):
        return path[1:]
    if path in PUBLIC_PATHS:
        return "docs"
    return "other"


class Gate:
    """Pure ASGI middleware in front of every request: the bearer token, unknown query parameters,
    the body size (``Content-Length`` and the streamed size), the arrivals the batcher waits for, and
    the metrics of every answer (its route, status and duration). With ``events`` (the handler of
    ``POST /v1/streams/{id}/events``) it answers those requests itself."""

    def __init__(self, app: Any, *, token: str | None, max_body_bytes: int, metrics: Metrics, batcher: Batcher,
                 events: Callable[[str, bytes], Awaitable[Response]] | None = None) -> None:
        self.app = app
        self.events = events
        self.token = token.encode() if token is not None else None
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.batcher = batcher

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):  # behind a proxy's prefix: the path this app routes on
            path = path[len(root):]
        route = route_of(path)
        status = 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.token is not None and path not in PUBLIC_PATHS:
                problem = self._check_token(scope)
                if problem is not None:
                    await _error(401, problem, {"www-authenticate": 'Bearer realm="lstmkit"'})(scope, receive, send_and_note)
                    return
            if scope["query_string"] and route not in ("docs", "other"):
                problem = _check_query(scope, route)
                if problem is not None:
                    await _error(422, problem)(scope, receive, send_and_note)
                    return
            length = _header(scope, b"content-length")
            if length is not None:
                if length.isdigit():
                    too_large = int(length) > self.max_body_bytes
                else:
                    await _error(400, f"content-length: expected a number of bytes, found {shown(length.decode('latin-1'))}",
                                 {"connection": "close"})(scope, receive, send_and_note)
                    return
                if too_large:
                    await _error(413, f"body: at most {self.max_body_bytes} bytes (--max-body-bytes), found "
                                      f"content-length {int(length)}", {"connection": "close"})(scope, receive, send_and_note)
                    return
            received = 0
            limit = self.max_body_bytes

            async def receive_limited() -> dict[str, Any]:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(f"body: at most {limit} bytes (--max-body-bytes), found more")
                return message

            token = None
            if route == "events" and scope["method"] == "POST":
                token = self.batcher.arrived()
            try:
                stream_id = path[12:-7]   # /v1/streams/{stream_id}/events
                if token is not None and self.events is not None and stream_id and "/" not in stream_id:
                    # the fast path: the events handler without FastAPI's routing and dependency solving
                    try:
                        raw = await _read_body(receive_limited)
                    except BodyTooLarge as e:
                        response = _error(413, str(e), {"connection": "close"})
                    except _Disconnected:
                        status = 499   # the client closed the connection before its body arrived
                        return
                    else:
                        response = await self.events(stream_id, raw)
                    await response(scope, receive, send_and_note)
                else:
                    await self.app(scope, receive_limited, send_and_note)
            finally:
                if token is not None:
                    self.batcher.left(token)
        finally:
            self.metrics.answered(route, status, time.perf_counter() - start)

    def _check_token(self, scope: dict[str, Any]) -> str | None:
        value = _header(scope, b"authorization")
        if value is None:
            return "authorization: expected the header 'Authorization: Bearer <token>', found none"
        scheme, _, credentials = value.strip().partition(b" ")
        credentials = credentials.strip()
        if scheme.lower() != b"bearer" or not credentials:
            return "authorization: expected 'Bearer <token>', found a header of another form"
        if not hmac.compare_digest(credentials, self.token or b""):
            return "authorization: the bearer token is not the one this server was given"
        return None


# the query parameters of each (route, method) served; other methods are left to the router (405)
QUERY_PARAMETERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("events", "POST"): (), ("stream", "GET"): ("include_state",), ("stream", "DELETE"): (), ("reset", "POST"): (),
    ("model", "GET"): (), ("healthz", "GET"): (), ("readyz", "GET"): (), ("metrics", "GET"): ()}


class _Disconnected(Exception):
    """The client went away before its body was read."""


async def _read_body(receive: Callable[[], Awaitable[dict]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise _Disconnected()


def _check_query(scope: dict[str, Any], route: str) -> str | None:
    """Unknown query parameters are refused, as unknown body fields are."""
    allowed = QUERY_PARAMETERS.get((route, scope["method"]))
    if allowed is None:
        return None
    for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if name not in allowed:
            return (f"query: unknown parameter {shown(name)}; allowed: "
                    f"{', '.join(allowed) if allowed else 'none on this endpoint'}")
    return None


def _parse_json(body: bytes) -> Any:
    """The request body as JSON; refuses NaN and Infinity (not JSON numbers), one line otherwise."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    if not body.strip():
        raise ApiError(400, 'body: expected a JSON object {"events": [...]}, found an empty body')

    def refuse(token: str) -> Any:
        raise ApiError(400, f"body: {token} is not a JSON number; send finite numbers")

    try:  # orjson refuses integers beyond 64 bits, which are JSON; the standard parser takes them
        return json.loads(body, parse_constant=refuse)
    except ApiError:
        raise
    except RecursionError:
        raise ApiError(400, "body: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"body: not valid JSON ({one_line(e)})") from None


def create_app(engine: Any, *, token: str | None = None, max_batch_delay: float = DEFAULT_MAX_BATCH_DELAY,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, max_events: int = DEFAULT_MAX_EVENTS,
               max_batch_events: int | None = None, evict_interval: float | None = None,
               ready_timeout: float = 5.0, fast_path: bool = True) -> FastAPI:
    """The FastAPI app serving ``engine`` (a :class:`~lstmkit.stream.engine.StreamEngine`).

    ``token``: the bearer token every request except ``/healthz``, ``/readyz`` and the docs must
    carry; None serves without authentication (the ``lstmkit serve`` command allows that only on a
    loopback address). ``max_batch_delay``: the longest wait of a batch for more requests, in
    seconds. ``max_body_bytes``, ``max_events``: per request (413 beyond). ``max_batch_events``:
    events per engine call (default ``max(2 * max_events, 8192)``). ``evict_interval``: seconds
    between :meth:`StreamEngine.evict_idle` calls when the engine has a ``ttl`` (default ``ttl / 4``,
    within 1-60 s). ``ready_timeout``: seconds ``/readyz`` waits for the store. ``fast_path``: the
    events requests are answered by the middleware in front, without FastAPI's routing (the same
    handler; about 4x less overhead per single-event request). The app's lifespan drains the
    batcher on shutdown; closing the store is left to the caller (after the server has stopped).
    A server process should also call ``gc.freeze()`` once loaded (``lstmkit serve`` does).
    """
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ConfigError("token: expected a non-empty string, or None for no authentication")
    for name, value, low in (("max_body_bytes", max_body_bytes, 1), ("max_events", max_events, 1),
                             ("max_batch_events", max_batch_events or 1, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name}: expected an integer >= {low}, found {value!r}")
    if not isinstance(max_batch_delay, (int, float)) or not 0 <= max_batch_delay <= 1:
        raise ConfigError(f"max_batch_delay: expected 0-1 seconds, found {max_batch_delay!r}")
    metrics = Metrics(engine.store.count)
    batcher = Batcher(engine, max_delay=max_batch_delay,
                      max_batch_events=max_batch_events or max(2 * max_events, 8192), metrics=metrics)
    secret = urlparse(getattr(engine.store, "url", "") or "").password

    def redact(text: str) -> str:
        return text.replace(secret, "***") if secret else text

    try:  # the kinds of input this model takes: anything else is refused here, before the batch
        kinds = input_kinds(engine.info().get("input"))
    except Exception:
        kinds = None
    accepted, expected = kinds if kinds is not None else (None, "")
    try:
        whole_tokens = engine.info().get("input", {}).get("kind") in ("token", "tokens")
    except Exception:
        whole_tokens = False
    limits = {"max_events": max_events, "max_body_bytes": max_body_bytes, "max_batch_delay_ms": max_batch_delay * 1000,
              "max_batch_events": batcher.max_batch_events, "auth": token is not None}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.closed = False
        evictor = None
        ttl = getattr(engine, "ttl", None)
        if ttl:
            every = evict_interval or min(60.0, max(1.0, ttl / 4))
            evictor = asyncio.create_task(_evict_loop(every))
        try:
            yield
        finally:
            if evictor is not None:
                evictor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await evictor
            await batcher.drain()

    async def _evict_loop(every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                gone = await batcher.call(engine.evict_idle)
                if gone:
                    log.info("evicted %d idle stream(s)", len(gone))
            except Exception as e:  # the store is down: try again next time
                metrics.store_errors.inc()
                log.warning("evicting idle streams failed: %s", redact(one_line(e)))

    extra: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        # FastAPI's native OpenTelemetry checks its providers on every request; lstmkit serve has its
        # own Prometheus metrics, and the check costs more than the rest of a request's routing
        extra["telemetry"] = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(
        **extra,
        title="lstmkit serve",
        version=__version__,
        description="Live per-stream memory over HTTP: each stream's recurrent state is kept between events "
                    "in a store (SQLite, Redis, PostgreSQL), so an event's output equals the model's output on "
                    "the stream's whole history. Send `Authorization: Bearer <token>` on every request except "
                    "/healthz, /readyz and the docs. Errors are `{\"error\": \"<one line>\"}`.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.engine = engine
    app.state.batcher = batcher
    app.state.metrics = metrics

    # ---------------------------------------------------------------- errors: one line each
    def refusal(error: LstmkitError) -> Response:
        status = status_of(error)
        return _error(status, redact(one_line(error)), {"retry-after": "1"} if status in (429, 503) else None)

    async def handle_events(stream_id: str, raw: bytes) -> Response:
        """``POST /v1/streams/{stream_id}/events`` once the body is read: parse, check, batch, answer.
        Called by the route below and, without FastAPI's routing, by :class:`Gate` (the fast path)."""
        if not STREAM_ID.fullmatch(stream_id):
            return _error(422, f"stream_id (path): expected {STREAM_ID_RULE}, found {shown(stream_id)}")
        try:
            body = _parse_json(raw)
        except ApiError as e:
            return _error(e.status, e.message)
        events = body.get("events") if type(body) is dict else None
        if type(events) is list and len(events) > max_events:
            return _error(413, f"events: at most {max_events} per request (--max-events), found {len(events)}")
        try:
            parsed = EventsRequest.model_validate(body)
        except ValidationError as e:
            errors = e.errors(include_url=False, include_context=False)
            return _error(422, describe_errors(errors, body), detail=error_details(errors))
        if whole_tokens:  # 3.0 is an integer to JSON: a token id
            for ev in parsed.events:
                ev.input = _whole(ev.input)
        group = [(stream_id, ev.input, ev.seq) for ev in parsed.events]
        if accepted is not None:
            for k, ev in enumerate(parsed.events):
                if type(ev.input) not in accepted:
                    return _error(422, f"events[{k}].input: expected {expected}, found {shown(ev.input)}")
        try:
            outputs, seqs = await batcher.submit(group)
        except LstmkitError as e:
            return refusal(e)
        except StepFailure as e:
            return _error(e.status, redact(e.message), {"retry-after": "1"} if e.status == 503 else None)
        try:
            content = dumps({"results": [{"seq": s, "output": y} for s, y in zip(seqs, outputs)]})
        except TypeError as e:
            log.error("stream %r: output not JSON-able", stream_id, exc_info=e)
            return _error(500, f"internal error: the model's output cannot be written as JSON ({one_line(e)})")
        return Response(content, media_type=JSON)

    app.add_middleware(Gate, token=token, max_body_bytes=max_body_bytes, metrics=metrics, batcher=batcher,
                       events=handle_events if fast_path else None)

    @app.exception_handler(LstmkitError)
    async def _on_lstmkit_error(request: Request, error: LstmkitError) -> Response:
        return refusal(error)

    @app.exception_handler(ApiError)
    async def _on_api_error(request: Request, error: ApiError) -> Response:
        return _error(error.status, redact(error.message), {"retry-after": "1"} if error.status == 503 else None)

    @app.exception_handler(BodyTooLarge)
    async def _on_too_large(request: Request, error: BodyTooLarge) -> Response:
        return _error(413, str(error), {"connection": "close"})

    @app.exception_handler(RequestValidationError)
    async def _on_invalid(request: Request, error: RequestValidationError) -> Response:
        errors = list(error.errors())
        return _error(422, describe_errors(errors), detail=error_details(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            message = f"path: no endpoint {request.method} {shown(request.url.path, 80)}; see /docs"
        elif error.status_code == 405:
            allowed = sorted({m for route in app.router.routes if route.matches(request.scope)[0] != Match.NONE
                              for m in (getattr(route, "methods", None) or ())})
            message = (f"method: {request.method} is not allowed on {shown(request.url.path, 80)}; allowed: "
                       f"{', '.join(allowed)}")
            return _error(405, message, {"allow": ", ".join(allowed)})
        else:
            message = one_line(Exception(error.detail))
        return _error(error.status_code, message, dict(error.headers or {}))

    async def blocking(fn: Callable[..., Any], *args: Any) -> Any:
        """An engine call in the worker thread; store failures become 503, bugs 500."""
        try:
            return await batcher.call(fn, *args)
        except LstmkitError:
            raise
        except Exception as e:
            if is_store_error(e):
                metrics.store_errors.inc()
                raise ApiError(503, f"store: unavailable ({type(e).__name__}: {one_line(e)})") from None
            log.error("engine call %s failed", getattr(fn, "__name__", fn), exc_info=e)
            raise ApiError(500, f"internal error ({type(e).__name__}); see the server log") from None

    # ---------------------------------------------------------------- documentation
    def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
        text = {400: "The body is not JSON.", 401: "Missing or wrong bearer token.",
                409: "A `seq` that is neither the next nor a repeat of the last, a state written by another model, or a "
                     "stream changed meanwhile by another server sharing the store (send again).",
                413: "Body over `--max-body-bytes` or more than `--max-events` events.",
                422: "A bad stream id, field, number or input shape.", 429: "`--max-streams` reached.",
                503: "The store is unavailable, or the server is overloaded or shutting down."}
        out: dict[int | str, dict[str, Any]] = {}
        for code in codes:
            if code == 401 and token is None:
                continue
            out[code] = {"model": ErrorResponse, "description": text[code]}
        return out

    stream_id_doc = {"description": STREAM_ID_DOC, "examples": ["sensor-1"]}
    tags = ["streams"]

    # ---------------------------------------------------------------- the hot path
    @app.post(
        "/v1/streams/{stream_id}/events",
        tags=tags,
        summary="Step events of one stream",
        description="Applies the events in order, atomically (all or none), and answers one result per event: its "
                    "`seq` and the model's output at that step, which equals the model's output on the stream's "
                    "first `seq` steps. `seq` null: the next number. The last applied `seq` again is answered from "
                    "the recorded result without stepping. Concurrent requests are batched into one engine call.",
        responses={200: {"model": EventsResponse, "description": "One result per event, in order."},
                   **answers(400, 401, 409, 413, 422, 429, 503)},
        openapi_extra={
            "parameters": [{"name": "stream_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": STREAM_ID_PATTERN, "title": "Stream Id"},
                            **stream_id_doc}],
            "requestBody": {"required": True, "content": {JSON: {"schema": {"$ref": "#/components/schemas/EventsRequest"}}}},
        },
    )
    async def post_events(request: Request) -> Response:
        return await handle_events(request.path_params["stream_id"], await request.body())

    # ---------------------------------------------------------------- streams
    @app.get("/v1/streams/{stream_id}", tags=tags, summary="A stream's position (and state)",
             description="The last applied `seq` and its time. An unknown stream is not an error: it is answered "
                         "with `seq` 0 and `updated` null (its next event is seq 1). `include_state=true` adds the "
                         "recurrent state tensors.",
             responses={200: {"model": StreamResponse}, **answers(401, 409, 422, 503)})
    async def get_stream(stream_id: StreamId, include_state: Annotated[bool, Query(
            description="Add the state tensors (`{name: numbers}`).")] = False) -> Response:
        info = await blocking(engine.state, stream_id)
        out: dict[str, Any] = {"stream_id": info.stream_id, "seq": int(info.seq),
                               "updated": None if info.updated is None else float(info.updated)}
        if include_state:
            out["state"] = {name: np.asarray(t, dtype=np.float32).reshape(-1) for name, t in info.tensors.items()}
        return Response(dumps(out), media_type=JSON)

    @app.post("/v1/streams/{stream_id}/reset", tags=tags, summary="Forget a stream's memory",
              description="Removes the stream's state: its next event is seq 1 again, from a zero state.",
              responses={200: {"model": ResetResponse}, **answers(401, 422, 503)})
    async def reset_stream(stream_id: StreamId) -> Response:
        existed = await blocking(engine.delete, stream_id)
        return Response(dumps({"stream_id": stream_id, "seq": 0, "existed": bool(existed)}), media_type=JSON)

    @app.delete("/v1/streams/{stream_id}", tags=tags, summary="Delete a stream",
                description="Removes the stream from the store. Deleting an unknown stream answers `deleted: false`.",
                responses={200: {"model": DeleteResponse}, **answers(401, 422, 503)})
    async def delete_stream(stream_id: StreamId) -> Response:
        deleted = await blocking(engine.delete, stream_id)
        return Response(dumps({"stream_id": stream_id, "deleted": bool(deleted)}), media_type=JSON)

    # ---------------------------------------------------------------- model and operations
    @app.get("/v1/model", tags=["model"], summary="What the model takes and gives",
             description="The engine's description of the model (input and output specs, state tensors, store) and "
                         "this server's limits.",
             responses={200: {"model": ModelResponse}, **answers(401)})
    async def get_model() -> Response:
        info = dict(engine.info())
        if isinstance(info.get("store"), str):
            info["store"] = redact(info["store"])
        info["limits"] = limits
        return Response(dumps(info), media_type=JSON)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers",
             responses={200: {"model": HealthResponse}})
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz", tags=["operations"], summary="Readiness: the store answers",
             description="200 when the store answers a count of its streams within a few seconds; 503 otherwise, "
                         "and while the server shuts down.",
             responses={200: {"model": ReadyResponse}, 503: {"model": ReadyResponse, "description": "Not ready."}})
    async def readyz() -> Response:
        if batcher.closed:
            return Response(dumps({"status": "unavailable", "error": "server: shutting down"}), status_code=503,
                            media_type=JSON)
        loop = asyncio.get_running_loop()
        try:
            n = await asyncio.wait_for(loop.run_in_executor(None, engine.store.count), ready_timeout)
        except asyncio.TimeoutError:
            problem = f"store: no answer within {ready_timeout:g} s"
        except Exception as e:
            metrics.store_errors.inc()
            problem = f"store: unavailable ({type(e).__name__}: {one_line(e)})"
        else:
            return Response(dumps({"status": "ready", "streams": int(n)}), media_type=JSON)
        return Response(dumps({"status": "unavailable", "error": redact(problem)}), status_code=503, media_type=JSON)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse,
             description="Text exposition format: lstmkit_serve_events_total, lstmkit_serve_requests_total, "
                         "lstmkit_serve_request_duration_seconds, lstmkit_serve_active_streams, "
                         "lstmkit_serve_store_errors_total, lstmkit_serve_batch_events, lstmkit_serve_batch_requests, "
                         "lstmkit_serve_step_seconds.",
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The metrics."},
                        **{code: {"description": doc["description"], "content": {JSON: {"schema": {
                            "$ref": "#/components/schemas/ErrorResponse"}}}} for code, doc in answers(401).items()}})
    async def get_metrics() -> Response:
        body = await asyncio.get_running_loop().run_in_executor(None, metrics.render)
        return Response(body, media_type=metrics.content_type)

    # ---------------------------------------------------------------- OpenAPI: the events body and the token
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        body = EventsRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["EventsRequest"] = body
        try:  # what this model takes, exactly (shape, token range); the generic union otherwise
            served = input_schema(engine.info().get("input"))
        except Exception:  # the schema must be served whatever the engine says
            served = None
        if served is not None and "Event" in schemas:
            generic = schemas["Event"]["properties"]["input"]
            schemas["Event"]["properties"]["input"] = {**served, "description": generic.get("description", "")}
        if token is not None:
            components["securitySchemes"] = {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "The token given to `lstmkit serve --token-file FILE`."}}
            for path, operations in schema.get("paths", {}).items():
                if path not in PUBLIC_PATHS:
                    for operation in operations.values():
                        operation["security"] = [{"bearerAuth": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


__all__ = ["create_app", "Gate", "status_of", "dumps", "route_of", "PUBLIC_PATHS", "BodyTooLarge", "ApiError"]
