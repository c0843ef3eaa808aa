"""``lstmkit serve``: the HTTP service over :class:`~lstmkit.stream.engine.StreamEngine`.

:func:`create_app` builds the FastAPI application around an engine (what the tests and any embedding
program use); :func:`lstmkit.serve.server.serve` is what the ``lstmkit serve`` command runs: it opens
the engine, binds the socket and runs uvicorn. See ``docs/stream-service.md``.

Importing this package stays cheap: FastAPI, pydantic and prometheus-client are imported when
:func:`create_app` (or :class:`Batcher`) is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "Batcher"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from lstmkit.serve.app import create_app

        return create_app
    if name == "Batcher":
        from lstmkit.serve.batcher import Batcher

        return Batcher
    raise AttributeError(f"module 'lstmkit.serve' has no attribute {name!r}")
