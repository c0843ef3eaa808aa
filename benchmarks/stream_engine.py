"""StreamEngine speed: the one-step kernel against ONNX Runtime, and the engine's events/s per store.

Three parts, one process, one thread everywhere (torch, the BLAS NumPy uses, ONNX Runtime):

1. **Kernel** (the issue's table): one LSTM layer, input 32, hidden 64 and 256. Batch-1 step latency
   and the per-event cost with 256 streams stepped together, for lstmkit's step kernel
   (``lstmkit.nn.step.LSTMStep``), ``lstmkit.nn.LSTM`` called for one step, and ONNX Runtime's LSTM
   operator (a one-node graph with the same weights, ``h0``/``c0`` as inputs). Each is checked equal
   to the reference before it is timed.
2. **Engine**: Input(32) -> LSTM(H) -> Dense(1), N streams, each round steps every stream once with
   one ``step_many`` call (ids, sequence numbers, validation, one atomic save), per store, beside a
   plain PyTorch loop that keeps every stream's (h, c) in two tensors (no bookkeeping, no store).
3. **Sweep** (``--sweep``): engine events/s against the number of streams, per store; writes
   ``docs/results/stream/engine_sweep.csv`` and ``docs/stream-throughput.png``.

    .venv/bin/python benchmarks/stream_engine.py [--streams 1000] [--hidden 64] [--rounds 30]
        [--stores memory,sqlite,redis,postgres] [--sweep 100,1000,10000] [--skip-kernels]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("LSTMKIT_TEST_REDIS", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("LSTMKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _best(fn, n: int, reps: int = 5) -> float:
    """Best mean seconds per call over ``reps`` runs of ``n`` calls (after a warm-up)."""
    for _ in range(max(20, n // 10)):
        fn()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def _ort_lstm(wi: np.ndarray, wh: np.ndarray, b: np.ndarray):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    four_h, i = wi.shape
    h = four_h // 4
    # ONNX gate order i, o, f, c; PyTorch's i, f, g, o
    order = np.r_[0:h, 3 * h:4 * h, h:2 * h, 2 * h:3 * h]
    inits = [numpy_helper.from_array(wi[order][None], "W"), numpy_helper.from_array(wh[order][None], "R"),
             numpy_helper.from_array(np.concatenate([b[order], np.zeros(four_h, np.float32)])[None], "B")]
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "h0", "c0"], ["Y", "hn", "cn"], hidden_size=h)
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([node], "step", [vi("X", TensorProto.FLOAT, [1, "b", i]), vi("h0", TensorProto.FLOAT, [1, "b", h]),
                                                vi("c0", TensorProto.FLOAT, [1, "b", h])],
                              [vi("Y", TensorProto.FLOAT, None), vi("hn", TensorProto.FLOAT, None), vi("cn", TensorProto.FLOAT, None)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def kernels() -> list[tuple]:
    from lstmkit import nn as lnn
    from lstmkit.nn.step import LSTMStep

    rows = []
    print("\n1. one LSTM step (input 32), microseconds; per event = per call / batch")
    print(f"{'hidden':>6} {'batch':>5} | {'lstmkit step':>12} {'lstmkit.nn.LSTM':>15} {'ONNX Runtime':>12} | ratio ORT/step")
    for hidden in (64, 256):
        torch.manual_seed(0)
        layer = lnn.LSTM(32, hidden, batch_first=True).eval()
        w = layer.direction_weights(0)
        wi, wh = w.weight_ih.detach().numpy(), w.weight_hh.detach().numpy()
        b = (w.bias_ih + w.bias_hh).detach().numpy()
        kernel = LSTMStep(wi, wh, w.bias_ih, w.bias_hh)
        sess = _ort_lstm(wi, wh, b)
        for batch in (1, 256):
            rng = np.random.default_rng(batch)
            x = rng.standard_normal((batch, 32)).astype(np.float32)
            h0 = rng.standard_normal((batch, hidden)).astype(np.float32) * 0.5
            c0 = rng.standard_normal((batch, hidden)).astype(np.float32)
            feeds = {"X": x[None], "h0": h0[None], "c0": c0[None]}
            xt, ht, ct = torch.from_numpy(x[:, None]), torch.from_numpy(h0[None]), torch.from_numpy(c0[None])
            with torch.no_grad():
                _, (ref_h, ref_c) = layer(xt, (ht, ct))
            got_h, got_c = kernel(x, h0, c0)
            ort_h, ort_c = sess.run(["hn", "cn"], feeds)
            for name, a, bb in (("step h", got_h, ref_h[0]), ("step c", got_c, ref_c[0]), ("ORT h", ort_h[0], ref_h[0])):
                err = float(np.abs(a - bb.numpy()).max())
                assert err < 1e-5, f"{name} differs from the reference by {err}"
            n = 4000 if batch == 1 else 400
            t_step = _best(lambda: kernel(x, h0, c0), n)
            with torch.no_grad():
                t_torch = _best(lambda: layer(xt, (ht, ct)), n)
            t_ort = _best(lambda: sess.run(["hn", "cn"], feeds), n)
            us = [t * 1e6 for t in (t_step, t_torch, t_ort)]
            per = "" if batch == 1 else f" (per event {us[0] / batch:.3f} / {us[1] / batch:.3f} / {us[2] / batch:.3f})"
            print(f"{hidden:>6} {batch:>5} | {us[0]:>12.1f} {us[1]:>15.1f} {us[2]:>12.1f} | {t_ort / t_step:.2f}x{per}")
            rows.append((hidden, batch, *us))
    for hidden, batch, s, t, o in rows:
        what = "batch-1 latency" if batch == 1 else f"per event, {batch} streams"
        print(f"RESULT kernel H={hidden} {what}: lstmkit {s / batch:.3f} us, ONNX Runtime {o / batch:.3f} us, "
              f"lstmkit.nn.LSTM {t / batch:.3f} us; ORT/lstmkit {o / s:.2f}")
    return rows


def _model(hidden: int):
    from lstmkit.layers import LSTM, Dense, Input
    from lstmkit.models import Sequential

    torch.manual_seed(0)
    return Sequential([Input(shape=(None, 32)), LSTM(hidden), Dense(1)])


def _store_url(kind: str, tmp: str) -> str:
    name = "bench" + uuid.uuid4().hex[:8]
    return {"memory": "memory://", "sqlite": f"sqlite:///{Path(tmp) / (name + '.db')}",
            "redis": f"{REDIS_URL}?prefix={name}", "postgres": f"{POSTGRES_URL}?table={name}"}[kind]


def engine_rate(model, kind: str, n: int, rounds: int, tmp: str) -> float:
    from lstmkit.stream.engine import StreamEngine

    x = np.random.default_rng(0).standard_normal((rounds, n, 32)).astype(np.float32)
    ids = [f"s{i}" for i in range(n)]
    eng = StreamEngine(model, _store_url(kind, tmp))
    try:
        eng.step_many([(sid, x[0, i], 1) for i, sid in enumerate(ids)])  # warm-up: creates the streams
        start = time.perf_counter()
        for r in range(1, rounds):
            xr = x[r]
            eng.step_many([(sid, xr[i], r + 1) for i, sid in enumerate(ids)])
        return n * (rounds - 1) / (time.perf_counter() - start)
    finally:
        if kind == "redis":
            eng.store.clear()
        elif kind == "postgres":
            eng.store._db.execute(f"DROP TABLE IF EXISTS {eng.store.table}")
        eng.store.close()


def plain_rate(model, n: int, rounds: int) -> float:
    x = np.random.default_rng(0).standard_normal((rounds, n, 32)).astype(np.float32)
    lstm, dense = model.layers[0].cell, model.layers[1]
    hidden = model.layers[0].units
    h, c = torch.zeros(1, n, hidden), torch.zeros(1, n, hidden)
    with torch.no_grad():
        start = time.perf_counter()
        for r in range(rounds):
            out, (h, c) = lstm(torch.from_numpy(x[r]).unsqueeze(1), (h, c))
            dense.call(out[:, 0, :])
        return n * rounds / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--stores", default="memory,sqlite,redis,postgres")
    p.add_argument("--sweep", default="", help="comma-separated stream counts for the throughput plot")
    p.add_argument("--skip-kernels", action="store_true")
    args = p.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    torch.set_num_threads(1)
    from lstmkit.train.precision import cpu_info

    print(f"CPU: {cpu_info().name}; 1 thread (torch, BLAS, ONNX Runtime)")
    if not args.skip_kernels:
        kernels()
    model = _model(args.hidden)
    stores = [s for s in args.stores.split(",") if s]
    print(f"\n2. engine: Input(32) -> LSTM({args.hidden}) -> Dense(1), {args.streams} streams, {args.rounds} rounds")
    plain = plain_rate(model, args.streams, args.rounds)
    print(f"plain PyTorch (states in tensors, no ids, no store): {plain:,.0f} events/s")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in stores:
            try:
                rate = engine_rate(model, kind, args.streams, args.rounds, tmp)
            except Exception as e:  # a server that is not running: say so and go on
                print(f"StreamEngine, {kind} store: skipped ({type(e).__name__}: {e})")
                continue
            results[kind] = rate
            print(f"StreamEngine, {kind} store: {rate:,.0f} events/s ({rate / plain:.3f} of plain PyTorch)")
        for kind, rate in results.items():
            ceiling = results.get("memory")
            extra = f"; {rate / ceiling:.2f} of the memory store" if ceiling and kind != "memory" else ""
            print(f"RESULT stream engine {kind}: {rate:,.0f} events/s; plain PyTorch {plain:,.0f}; "
                  f"ratio {rate / plain:.3f}{extra}")
        if args.sweep:
            counts = [int(v) for v in args.sweep.split(",")]
            out_rows = []
            print(f"\n3. sweep: events/s against streams (hidden {args.hidden})")
            for n in counts:
                rounds = max(5, min(args.rounds, 200_000 // n))
                line = {"streams": n, "plain": plain_rate(model, n, rounds)}
                for kind in results:
                    line[kind] = engine_rate(model, kind, n, rounds, tmp)
                out_rows.append(line)
                print("  ".join(f"{k}={v:,.0f}" for k, v in line.items()))
            _write_sweep(out_rows, cpu_info().name, args.hidden)


def _write_sweep(rows: list[dict], cpu: str, hidden: int) -> None:
    out = ROOT / "docs" / "results" / "stream"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "engine_sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for key in rows[0]:
        if key == "streams":
            continue
        ax.plot([r["streams"] for r in rows], [r[key] for r in rows], marker="o",
                label="plain PyTorch (no store)" if key == "plain" else f"StreamEngine, {key}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("streams stepped together")
    ax.set_ylabel("events/s")
    ax.set_title(f"StreamEngine throughput, LSTM({hidden}), 1 thread\n{cpu}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "stream-throughput.png", dpi=110)
    print(f"wrote {out / 'engine_sweep.csv'} and docs/stream-throughput.png")


if __name__ == "__main__":
    main()
