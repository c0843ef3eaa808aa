"""``lstmkit serve MODEL --token-file FILE [--store URL] [--host H] [--port P] ...``: thin; the work is
in :mod:`lstmkit.serve`. The options are checked before anything heavy is imported, so a mistake is
one ``error: ...`` line and exit 2 at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add ``lstmkit serve`` to the root app."""

    @app.command("serve")
    def serve_command(
        model: Annotated[Path, typer.Argument(help="An lstmkit model file the stream engine can step: a Sequential "
                                                   "with recurrent layers, Forecaster (method lstm), SequenceClassifier "
                                                   "(model lstm), TextClassifier or language model.", show_default=False)],
        store: Annotated[Optional[str], typer.Option(
            "--store", help="memory://, sqlite:///FILE (default: MODEL.streams.db beside the model), "
                            "redis://HOST:PORT/DB?prefix=NAME or postgresql://HOST:PORT/DBNAME?table=NAME.",
            show_default=False)] = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port, printed at start).")] = 8000,
        token_file: Annotated[Optional[Path], typer.Option(
            "--token-file", help="File holding the bearer token every request must send "
                                 "('Authorization: Bearer <token>'; /healthz, /readyz and the docs excepted).",
            show_default=False)] = None,
        no_auth: Annotated[bool, typer.Option(
            "--no-auth", help="Serve without a token: allowed only on a loopback host (127.0.0.1, ::1, localhost).")] = False,
        max_streams: Annotated[Optional[int], typer.Option(
            "--max-streams", help="Most streams kept; an event that would start one more is answered 429.",
            show_default=False)] = None,
        ttl: Annotated[Optional[float], typer.Option(
            "--ttl", help="Seconds without an event after which a stream is deleted (checked periodically).",
            show_default=False)] = None,
        max_batch_delay_ms: Annotated[float, typer.Option(
            "--max-batch-delay-ms", help="Longest wait of a batch for requests still arriving (0: never wait).")] = 2.0,
        max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", help="Largest request body (413 beyond).")] = 1 << 20,
        max_events: Annotated[int, typer.Option("--max-events", help="Most events per request (413 beyond).")] = 4096,
        log_level: Annotated[str, typer.Option("--log-level", help="critical, error, warning, info, debug or trace.")] = "info",
        graceful_timeout: Annotated[float, typer.Option(
            "--graceful-timeout", help="Seconds requests in flight get to finish on SIGTERM or Ctrl-C.")] = 10.0,
        access_log: Annotated[bool, typer.Option(
            "--access-log/--no-access-log", help="Log every request (costs throughput).")] = False,
    ) -> None:
        """Serve the stream engine over HTTP: POST events, GET state, reset, delete, metrics (FastAPI + uvicorn)."""
        from lstmkit.errors import ModelFileError
        from lstmkit.serve.server import check_options, serve

        token = check_options(host=host, port=port, token_file=token_file, no_auth=no_auth, max_streams=max_streams,
                              ttl=ttl, max_batch_delay_ms=max_batch_delay_ms, max_body_bytes=max_body_bytes,
                              max_events=max_events, log_level=log_level, graceful_timeout=graceful_timeout)
        if not model.exists():
            raise ModelFileError(f"model file not found: {model}")
        serve(model, store=store, host=host, port=port, token=token, max_streams=max_streams, ttl=ttl,
              max_batch_delay_ms=max_batch_delay_ms, max_body_bytes=max_body_bytes, max_events=max_events,
              log_level=log_level, graceful_timeout=graceful_timeout, access_log=access_log,
              echo=lambda line: typer.echo(line))


__all__ = ["register"]
