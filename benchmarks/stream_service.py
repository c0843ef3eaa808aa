"""``lstmkit serve`` throughput and latency, per store, beside a bare FastAPI + SQLite peer.

The server runs as a subprocess (``python -m lstmkit serve``, one torch thread, uvloop + httptools,
bearer token); the load generator is a lean raw-asyncio HTTP/1.1 client in this process (keep-alive
connections, pre-encoded inputs, no JSON parsing of the answers: it checks the status line and reads
``content-length`` bytes), so it leaves the CPU to the server. Each connection owns its own streams
and numbers their events itself (``seq`` 1, 2, ...), so every request is applied exactly once.

Two loads, ``--connections`` (8) at once, for ``--duration`` seconds each:

* batched: requests of ``--batch`` (64) events of one stream;
* single: requests of one event.

Printed per store (``memory`` is the ceiling, ``sqlite`` the durable default) and for the peer: events/s,
requests/s, p50 and p99 latency. The peer is what one writes without lstmkit: a FastAPI handler with a
pydantic body that loads the stream's (h, c) from SQLite, steps the same LSTM in numpy and commits
(one transaction per request). Model: Input(``--input`` 32) -> LSTM(``--hidden`` 64) -> Dense(1) over
``--streams`` (1,000) streams.

``--soak N`` instead sends N events (default 1,000,000) over 10,000 streams to one SQLite server,
prints the server's RSS every ~100,000 events (it should stay flat), stops the server with SIGTERM
(graceful shutdown) and checks in the SQLite file that every stream's ``seq`` equals the number of
events sent to it.

    .venv/bin/python benchmarks/stream_service.py [--duration 10] [--stores memory,sqlite] [--no-peer]
    .venv/bin/python benchmarks/stream_service.py --soak 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

TOKEN = "bench-token-0123456789"


# ----------------------------------------------------------------------------------- the load generator
class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read its answer (status and body)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = (f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\nauthorization: Bearer {TOKEN}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def encode_inputs(n: int, dim: int, seed: int = 0) -> list[bytes]:
    """A pool of pre-encoded input vectors (JSON lists), so the generator does not format floats."""
    rng = np.random.default_rng(seed)
    return [("[" + ",".join(f"{v:.4f}" for v in row) + "]").encode() for row in rng.standard_normal((n, dim))]


async def drive(host: str, port: int, *, connections: int, streams: int, batch: int, duration: float,
                inputs: list[bytes], prefix: str, warmup: float = 0.5) -> dict[str, Any]:
    """``connections`` clients, each on its own streams, for ``warmup`` then ``duration`` seconds;
    returns the rates and latencies of the ``duration`` part."""
    conns = [Connection(host, port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    latencies: list[list[float]] = [[] for _ in conns]
    counts = [0] * connections
    errors: list[str] = []
    measured = time.perf_counter() + warmup
    stop = measured + duration

    async def client(k: int) -> None:
        mine = [f"{prefix}{i}" for i in range(k, streams, connections)]
        seqs = dict.fromkeys(mine, 0)
        lat = latencies[k]
        j = k
        while time.perf_counter() < stop:
            sid = mine[j % len(mine)]
            j += 1
            first = seqs[sid] + 1
            body = b'{"events":[' + b",".join(
                b'{"seq":%d,"input":%s}' % (first + e, inputs[(j * 7 + e) % len(inputs)]) for e in range(batch)) + b"]}"
            t = time.perf_counter()
            status, data = await conns[k].request("POST", f"/v1/streams/{sid}/events", body)
            if t >= measured:
                lat.append(time.perf_counter() - t)
                counts[k] += batch
            if status != 200:
                errors.append(f"{status} {data[:200]!r}")
                return
            seqs[sid] = first + batch - 1

    await asyncio.gather(*(client(k) for k in range(connections)))
    elapsed = time.perf_counter() - measured
    for c in conns:
        c.close()
    if errors:
        raise SystemExit(f"load generator: the server answered {errors[0]}")
    lat_all = np.concatenate([np.asarray(x) for x in latencies]) * 1000
    return {"events_s": sum(counts) / elapsed, "requests_s": len(lat_all) / elapsed,
            "p50_ms": float(np.percentile(lat_all, 50)), "p99_ms": float(np.percentile(lat_all, 99)),
            "requests": len(lat_all)}


# ----------------------------------------------------------------------------------- servers
def start_server(args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0) -> tuple[subprocess.Popen, int]:
    """Start a server subprocess that prints ``listening on http://HOST:PORT``; returns it and the port."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + timeout
    assert proc.stdout is not None
    lines = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "listening on http://" in line:
            port = int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
            try:
                _wait_healthy(port, deadline)
            except BaseException:
                proc.kill()
                raise
            # keep reading its output, so a chatty server never blocks on a full pipe
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, port
    proc.kill()
    raise SystemExit("server did not start:\n" + "".join(lines))


def _wait_healthy(port: int, deadline: float) -> None:
    import http.client

    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse()  # any answer: the server is up (the peer has no /healthz)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} not healthy in time")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def lstmkit_server(model: Path, store: str, token_file: Path, delay_ms: float) -> tuple[subprocess.Popen, int]:
    return start_server([sys.executable, "-m", "lstmkit", "serve", str(model), "--store", store, "--port", "0",
                         "--token-file", str(token_file), "--log-level", "warning",
                         "--max-batch-delay-ms", str(delay_ms)])


# ----------------------------------------------------------------------------------- the bare peer
PEER = r'''
import sqlite3, sys
import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

weights = np.load(sys.argv[1])
W, U, b, Wd, bd = (weights[k] for k in ("W", "U", "b", "Wd", "bd"))
H = U.shape[0]
db = sqlite3.connect(sys.argv[2], check_same_thread=False, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE IF NOT EXISTS s (id TEXT PRIMARY KEY, seq INTEGER, state BLOB)")

class Event(BaseModel):
    seq: int | None = None
    input: list[float]

class Body(BaseModel):
    events: list[Event]

app = FastAPI()

def sigmoid(x):
    return 1 / (1 + np.exp(-x))

@app.post("/v1/streams/{stream_id}/events")
async def events(stream_id: str, body: Body):
    row = db.execute("SELECT seq, state FROM s WHERE id = ?", (stream_id,)).fetchone()
    seq, state = (row[0], np.frombuffer(row[1], np.float32)) if row else (0, np.zeros(2 * H, np.float32))
    h, c = state[:H].copy(), state[H:].copy()
    results = []
    for ev in body.events:
        z = np.asarray(ev.input, np.float32) @ W + h @ U + b
        i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        seq += 1
        results.append({"seq": seq, "output": (h @ Wd + bd).tolist()})
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO s VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, state=excluded.state",
               (stream_id, seq, np.concatenate([h, c]).tobytes()))
    db.execute("COMMIT")
    return {"results": results}

import socket
sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(2048)
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
'''


def peer_server(model: Any, tmp: Path) -> tuple[subprocess.Popen, int]:
    """The bare FastAPI + SQLite + numpy peer, with the same LSTM weights."""
    lstm, dense = model.layers[0].cell, model.layers[1]
    sd = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    # torch gate order i, f, g, o; x @ W with W (in, 4H)
    W = sd["weight_ih_l0"].T.copy()
    U = sd["weight_hh_l0"].T.copy()
    b = (sd["bias_ih_l0"] + sd["bias_hh_l0"]).copy()
    dsd = {k: v.detach().numpy() for k, v in dense.state_dict().items()}
    wd = next(v for k, v in dsd.items() if "weight" in k or k.endswith("kernel"))
    bd = next(v for k, v in dsd.items() if "bias" in k)
    Wd = wd.T.copy() if wd.shape[0] != W.shape[1] // 4 else wd
    np.savez(tmp / "peer.npz", W=W, U=U, b=b, Wd=Wd, bd=bd)
    (tmp / "peer.py").write_text(PEER)
    return start_server([sys.executable, str(tmp / "peer.py"), str(tmp / "peer.npz"), str(tmp / "peer.db")])


# ----------------------------------------------------------------------------------- main
def build_model(input_dim: int, hidden: int, path: Path) -> Any:
    import torch

    from lstmkit.layers import LSTM, Dense, Input
    from lstmkit.models import Sequential

    torch.manual_seed(0)
    model = Sequential([Input(shape=(None, input_dim)), LSTM(hidden), Dense(1)])
    model.save(path)
    return model


def throughput(args: argparse.Namespace) -> None:
    from lstmkit.train.precision import cpu_info

    modes = [m for m in args.modes.split(",") if m]
    print(f"CPU: {cpu_info().name}; {os.cpu_count()} cores; server: 1 torch thread; {args.connections} connections; "
          f"{args.streams} streams; Input({args.input}) -> LSTM({args.hidden}) -> Dense(1); {args.duration:g} s per run")
    inputs = encode_inputs(4096, args.input)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_path = tmp / "bench.lstmkit"
        model = build_model(args.input, args.hidden, model_path)
        token_file = tmp / "token"
        token_file.write_text(TOKEN)
        targets: list[tuple[str, Any]] = []
        for kind in [s for s in args.stores.split(",") if s]:
            url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp / 'bench.db'}"}.get(kind, kind)
            targets.append((kind, lambda url=url: lstmkit_server(model_path, url, token_file, args.max_batch_delay_ms)))
        if args.peer:
            targets.append(("peer", lambda: peer_server(model, tmp)))
        for name, start in targets:
            proc, port = start()
            try:
                for r, mode in enumerate(modes):
                    batch = args.batch if mode == "batched" else 1
                    result = asyncio.run(drive("127.0.0.1", port, connections=args.connections, streams=args.streams,
                                               batch=batch, duration=args.duration, inputs=inputs,
                                               prefix=f"{mode}{r}-", warmup=args.warmup))
                    rows.append((name, mode, result))
                    print(f"{name:>6} {mode:>7} ({batch:>2} ev/req): {result['events_s']:>9,.0f} events/s "
                          f"{result['requests_s']:>8,.0f} req/s  p50 {result['p50_ms']:6.2f} ms  "
                          f"p99 {result['p99_ms']:6.2f} ms  ({result['requests']:,} requests)", flush=True)
            finally:
                stop_server(proc)
    peer = {mode: res for name, mode, res in rows if name == "peer"}
    for name, mode, res in rows:
        ratio = f"; {res['events_s'] / peer[mode]['events_s']:.2f}x the peer" if name != "peer" and mode in peer else ""
        print(f"RESULT serve {name} {mode}: {res['events_s']:,.0f} events/s, {res['requests_s']:,.0f} req/s, "
              f"p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms{ratio}")


async def _soak_load(port: int, total: int, streams: int, batch: int, connections: int, inputs: list[bytes],
                     pid: int) -> dict[str, int]:
    conns = [Connection("127.0.0.1", port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    sent: dict[str, int] = {}
    done = [0]
    next_report = [100_000]
    start = time.perf_counter()

    async def client(k: int) -> None:
        mine = [f"soak-{i}" for i in range(k, streams, connections)]
        j = 0
        while done[0] < total:
            sid = mine[j % len(mine)]   # round robin: every stream gets events
            j += 1
            n = min(batch, total - done[0])
            if n <= 0:
                return
            done[0] += n
            first = sent.get(sid, 0) + 1
            body = b'{"events":[' + b",".join(b'{"seq":%d,"input":%s}' % (first + e, inputs[(first + e) % len(inputs)])
                                             for e in range(n)) + b"]}"
            status, data = await conns[k].request("POST", f"/v1/streams/{sid}/events", body)
            if status != 200:
                raise SystemExit(f"soak: the server answered {status} {data[:200]!r}")
            sent[sid] = first + n - 1
            while done[0] >= next_report[0]:
                rate = done[0] / (time.perf_counter() - start)
                print(f"{next_report[0]:>10,} events: server RSS {rss_mb(pid):7.1f} MB ({rate:,.0f} events/s)", flush=True)
                next_report[0] += 100_000

    await asyncio.gather(*(client(k) for k in range(connections)))
    for c in conns:
        c.close()
    return sent


def soak(args: argparse.Namespace) -> None:
    from lstmkit.train.precision import cpu_info

    streams = args.soak_streams
    print(f"CPU: {cpu_info().name}; soak: {args.soak:,} events over {streams:,} streams, SQLite, "
          f"{args.batch} events per request, {args.connections} connections")
    inputs = encode_inputs(4096, args.input)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_path = tmp / "soak.lstmkit"
        build_model(args.input, args.hidden, model_path)
        token_file = tmp / "token"
        token_file.write_text(TOKEN)
        db = tmp / "soak.db"
        proc, port = lstmkit_server(model_path, f"sqlite:///{db}", token_file, args.max_batch_delay_ms)
        try:
            print(f"{0:>10,} events: server RSS {rss_mb(proc.pid):7.1f} MB", flush=True)
            start = time.perf_counter()
            sent = asyncio.run(_soak_load(port, args.soak, streams, args.batch, args.connections, inputs, proc.pid))
            elapsed = time.perf_counter() - start
            print(f"{sum(sent.values()):>10,} events: server RSS {rss_mb(proc.pid):7.1f} MB; "
                  f"{sum(sent.values()) / elapsed:,.0f} events/s")
        finally:
            stop_server(proc)
        with sqlite3.connect(db) as conn:
            stored = dict(conn.execute("SELECT id, seq FROM lstmkit_streams").fetchall())
    wrong = [(sid, n, stored.get(sid)) for sid, n in sent.items() if stored.get(sid) != n]
    extra = set(stored) - set(sent)
    print(f"RESULT soak: {len(sent):,} streams written, {len(stored):,} stored; "
          f"{len(wrong)} with a seq other than the events sent to them; {len(extra)} unexpected")
    if wrong or extra:
        raise SystemExit(f"soak: state lost or wrong, e.g. {wrong[:3]} {sorted(extra)[:3]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of load before each measured run")
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--input", type=int, default=32)
    p.add_argument("--stores", default="memory,sqlite", help="comma-separated: memory, sqlite or a store URL")
    p.add_argument("--modes", default="batched,single")
    p.add_argument("--batch", type=int, default=64, help="events per request in the batched run and the soak")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--max-batch-delay-ms", type=float, default=2.0)
    p.add_argument("--no-peer", dest="peer", action="store_false", help="skip the bare FastAPI + SQLite peer")
    p.add_argument("--soak", type=int, nargs="?", const=1_000_000, default=None, metavar="N",
                   help="soak mode: N events (default 1,000,000) over --soak-streams streams on SQLite")
    p.add_argument("--soak-streams", type=int, default=10_000)
    args = p.parse_args()
    if args.soak is not None:
        soak(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
