"""StreamEngine throughput: events/s with many streams stepped together, per store, beside plain PyTorch.

Model: Input(32) -> LSTM(H) -> Dense(1) (the issue's step benchmark: one LSTM layer, input 32).
Each round steps every stream once with one ``step_many`` call (one batched kernel call per layer
and one atomic save); the peer is a plain PyTorch loop that keeps the (h, c) of all streams in two
tensors and calls the same ``nn.LSTM`` on the batch: the ceiling with no bookkeeping, no sequence
numbers and no store. One torch thread.

    .venv/bin/python benchmarks/stream_engine.py [--streams 1000] [--hidden 64] [--rounds 20] [--stores memory,sqlite]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--stores", default="memory,sqlite")
    args = p.parse_args()
    torch.set_num_threads(1)
    from lstmkit.layers import LSTM, Dense, Input
    from lstmkit.models import Sequential
    from lstmkit.stream.engine import StreamEngine
    from lstmkit.train.precision import cpu_info

    torch.manual_seed(0)
    model = Sequential([Input(shape=(None, 32)), LSTM(args.hidden), Dense(1)])
    n, rounds = args.streams, args.rounds
    x = np.random.default_rng(0).standard_normal((rounds, n, 32)).astype(np.float32)
    ids = [f"s{i}" for i in range(n)]
    print(f"CPU: {cpu_info().name}; 1 torch thread; {n} streams, hidden {args.hidden}, {rounds} rounds")

    # peer: plain PyTorch, states in tensors
    lstm, dense = model.layers[0].cell, model.layers[1]
    h = torch.zeros(1, n, args.hidden)
    c = torch.zeros(1, n, args.hidden)
    with torch.no_grad():
        start = time.perf_counter()
        for r in range(rounds):
            out, (h, c) = lstm(torch.from_numpy(x[r]).unsqueeze(1), (h, c))
            dense.call(out[:, 0, :])
        plain = n * rounds / (time.perf_counter() - start)
    print(f"plain PyTorch (states in tensors, no store): {plain:,.0f} events/s")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in [s for s in args.stores.split(",") if s]:
            url = {"memory": "memory://", "sqlite": f"sqlite:///{Path(tmp) / 'bench.db'}"}.get(kind, kind)
            eng = StreamEngine(model, url)
            eng.step_many([(sid, x[0, i], 1) for i, sid in enumerate(ids)])  # warm-up: creates the streams
            start = time.perf_counter()
            for r in range(1, rounds):
                eng.step_many([(sid, x[r, i], r + 1) for i, sid in enumerate(ids)])
            rate = n * (rounds - 1) / (time.perf_counter() - start)
            results[kind] = rate
            print(f"StreamEngine, {kind} store: {rate:,.0f} events/s ({rate / plain:.3f} of plain PyTorch)")
            eng.store.close()
    for kind, rate in results.items():
        print(f"RESULT stream engine {kind}: {rate:,.0f} events/s; plain PyTorch {plain:,.0f}; ratio {rate / plain:.3f}")


if __name__ == "__main__":
    main()
