"""What ``lstmkit serve`` runs: check the options, open the engine, bind the socket, run uvicorn.

The checks come first and each mistake is one :class:`~lstmkit.errors.ConfigError` line (the CLI
turns it into ``error: ...`` and exit 2): no ``--token-file`` and no ``--no-auth``; ``--no-auth``
on an address other than a loopback one; a token file missing, empty or holding more than one word;
a port already taken. uvicorn runs one worker, with uvloop and httptools when installed; on SIGTERM
or Ctrl-C it stops accepting connections, lets the requests in flight finish (at most
``graceful_timeout`` seconds), the batcher answers what it has queued, and only then is the store
closed.

This module imports nothing heavy at import time: torch, FastAPI and uvicorn are imported by
:func:`serve`.
"""

from __future__ import annotations

import gc
import ipaddress
import signal
import socket
from pathlib import Path
from typing import Any, Callable

from lstmkit.errors import ConfigError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def read_token(path: str | Path) -> str:
    """The bearer token in ``path``: one word of printable ASCII (surrounding whitespace ignored)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--token-file: file not found: {p}")
    if not p.is_file():
        raise ConfigError(f"--token-file {p}: not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--token-file {p}: cannot be read ({type(e).__name__}: {e})") from None
    token = text.strip()
    if not token:
        raise ConfigError(f"--token-file {p}: the file is empty; put the bearer token in it (one line)")
    if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
        raise ConfigError(f"--token-file {p}: the token must be one word of printable ASCII characters "
                          "(no spaces, no line breaks)")
    return token


def check_options(*, host: str, port: int, token_file: Path | None, no_auth: bool, max_streams: int | None,
                  ttl: float | None, max_batch_delay_ms: float, max_body_bytes: int, max_events: int,
                  log_level: str, graceful_timeout: float) -> str | None:
    """Every option checked before anything is loaded; returns the token (None with ``--no-auth``)."""
    if token_file is not None and no_auth:
        raise ConfigError("--token-file and --no-auth: give one of them, not both")
    if no_auth and not is_loopback(host):
        raise ConfigError(f"--no-auth: only allowed on a loopback address (127.0.0.1, ::1, localhost), found "
                          f"--host {host}; give --token-file FILE to serve on {host}")
    if token_file is None and not no_auth:
        raise ConfigError("serve: give --token-file FILE (a file holding the bearer token clients must send), "
                          "or --no-auth to serve without one on a loopback address")
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port: expected 0-65535 (0: any free port), found {port}")
    if max_streams is not None and max_streams < 1:
        raise ConfigError(f"--max-streams: expected a positive integer, found {max_streams}")
    if ttl is not None and not ttl > 0:
        raise ConfigError(f"--ttl: expected a positive number of seconds, found {ttl:g}")
    if not 0 <= max_batch_delay_ms <= 1000:
        raise ConfigError(f"--max-batch-delay-ms: expected 0-1000 milliseconds, found {max_batch_delay_ms:g}")
    if max_body_bytes < 64:
        raise ConfigError(f"--max-body-bytes: expected at least 64 bytes, found {max_body_bytes}")
    if max_events < 1:
        raise ConfigError(f"--max-events: expected a positive integer, found {max_events}")
    if log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"--log-level: expected one of {', '.join(LOG_LEVELS)}, found {log_level!r}")
    if not graceful_timeout >= 0:
        raise ConfigError(f"--graceful-timeout: expected a number of seconds >= 0, found {graceful_timeout:g}")
    return read_token(token_file) if token_file is not None else None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one), or one ConfigError line."""
    name = host.strip().strip("[]")
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"--host {host}: not an address this machine can listen on ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    sock.set_inheritable(True)
    return sock


def address_of(sock: socket.socket) -> str:
    """``http://HOST:PORT`` of a bound socket (IPv6 in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Stop(BaseException):
    """SIGTERM or SIGINT after uvicorn's graceful shutdown: leave quietly."""


def _stop(signum: int, frame: Any) -> None:
    raise _Stop(signum)


def serve(model: str | Path, *, store: str | None = None, host: str = "127.0.0.1", port: int = 8000,
          token: str | None = None, max_streams: int | None = None, ttl: float | None = None,
          max_batch_delay_ms: float = 2.0, max_body_bytes: int = 1 << 20, max_events: int = 4096,
          log_level: str = "info", graceful_timeout: float = 10.0, access_log: bool = False,
          echo: Callable[[str], None] = print) -> None:
    """Serve ``model`` over HTTP until SIGTERM or Ctrl-C (options checked by :func:`check_options`)."""
    import importlib.util
    import logging

    import torch

    torch.set_num_threads(1)  # many small steps: one thread is fastest and leaves a core to the event loop
    sock = bind(host, port)
    try:
        import uvicorn
        from uvicorn.config import LOGGING_CONFIG

        from lstmkit.serve.app import create_app
        from lstmkit.stream.engine import open_engine

        engine = open_engine(model, store, max_streams=max_streams, ttl=ttl)
    except BaseException:
        sock.close()
        raise
    app = create_app(engine, token=token, max_batch_delay=max_batch_delay_ms / 1000.0,
                     max_body_bytes=max_body_bytes, max_events=max_events)
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    log_config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": {
        **LOGGING_CONFIG["loggers"],
        "lstmkit.serve": {"handlers": ["default"], "level": log_level.upper(), "propagate": False}}}
    config = uvicorn.Config(app, loop=loop, http=http, workers=1, lifespan="on", log_level=log_level.lower(),
                            log_config=log_config, access_log=access_log, timeout_graceful_shutdown=graceful_timeout,
                            server_header=False)
    server = uvicorn.Server(config)
    echo(f"lstmkit serve: listening on {address_of(sock)} (model {model}; store {_shown_url(engine.store.url)}; "
         f"auth: {'bearer token' if token is not None else 'none (loopback only)'}; {loop} + {http}; 1 torch thread)")
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    # torch, FastAPI and the model are hundreds of thousands of long-lived objects: out of the cyclic
    # collector's reach, a full collection no longer stalls every request for tens of milliseconds
    gc.collect()
    gc.freeze()
    try:
        server.run(sockets=[sock])
    except _Stop:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        app.state.batcher.close()   # after the lifespan drained it: nothing is left in flight
        engine.store.close()
        sock.close()
        logging.getLogger("lstmkit.serve").info("stopped; store closed")


def _shown_url(url: str) -> str:
    from urllib.parse import urlparse

    secret = urlparse(url).password
    return url.replace(secret, "***") if secret else url


__all__ = ["serve", "check_options", "read_token", "is_loopback", "bind", "address_of", "LOG_LEVELS"]
