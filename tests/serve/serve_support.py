"""Shared by the ``lstmkit serve`` tests: a tiny real model, the in-process client, the reference
outputs, and real server subprocesses (``python -m lstmkit serve ... --port 0``)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from lstmkit.layers import LSTM, Dense, Input
from lstmkit.models import Sequential

with warnings.catch_warnings():  # starlette's notice about httpx vs httpx2: not ours to act on here
    warnings.filterwarnings("ignore", message=".*httpx.*", category=UserWarning)
    from fastapi.testclient import TestClient

TOKEN = "t0ken-for-tests_42"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FEATURES = 3


def tiny_model(seed: int = 0) -> Sequential:
    """Input(3) -> LSTM(8) -> Dense(2): real weights, a few milliseconds per predict."""
    torch.manual_seed(seed)
    return Sequential([Input(shape=(None, FEATURES)), LSTM(8), Dense(2)])


def saved_model(tmp_path: Path, seed: int = 0) -> tuple[Sequential, Path]:
    model = tiny_model(seed)
    path = tmp_path / "tiny.lstmkit"
    model.save(path)
    return model, path


def inputs(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, FEATURES)).astype(np.float32)


def prefix_outputs(model: Any, x: np.ndarray) -> np.ndarray:
    """(T, out): the model's output on the first t steps of one stream's inputs ``x`` (T, F), at once."""
    return np.stack([model.predict(x[None, : t + 1], verbose=0)[0] for t in range(len(x))])


@contextlib.contextmanager
def client(app: Any) -> Iterator[TestClient]:
    """An in-process client (runs the app's lifespan)."""
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


def events_body(x: np.ndarray, first_seq: int | None = None) -> dict[str, Any]:
    """``{"events": [...]}`` of the rows of ``x``; ``first_seq`` None sends ``seq`` null."""
    return {"events": [{"seq": None if first_seq is None else first_seq + k, "input": row.tolist()}
                       for k, row in enumerate(x)]}


# ------------------------------------------------------------------------------- real servers
class Server:
    """A ``lstmkit serve`` subprocess on a free port; its output is collected in :attr:`lines`."""

    def __init__(self, model: Path, store: str, token_file: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lstmkit", "serve", str(model), "--store", store, "--port", "0",
             "--token-file", str(token_file), "--log-level", "warning", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self.port = 0
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "listening on http://" in line and not self.port:
                self.port = int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
                self._ready.set()
        self._ready.set()

    def wait(self, timeout: float = 60.0) -> Server:
        """Until ``/healthz`` answers (the server has loaded the model and listens)."""
        deadline = time.time() + timeout
        self._ready.wait(timeout)
        while time.time() < deadline and self.port:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not start:\n" + "".join(self.lines))

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30.0,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """One request on a fresh connection; returns the status and the decoded JSON answer."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={**AUTH, "content-type": "application/json",
                                                           **(headers or {})})
            response = conn.getresponse()
            raw = response.read()
            try:
                return response.status, json.loads(raw)
            except ValueError:
                return response.status, raw.decode(errors="replace")
        finally:
            conn.close()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path
