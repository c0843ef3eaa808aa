"""Speed of the article's model: lstmkit (Sequential + fit / predict) against the same model in plain PyTorch.

Model: Embedding(10000, 128) -> LSTM(64) -> Dense(2, softmax); adam, categorical cross-entropy.
Data: synthetic random token ids (vocab 10000, length 100) and random labels, batch 32.

For each torch thread setting the script warms both up, then runs ``--repeats`` rounds, each timing
lstmkit and plain torch back to back (the order alternates round to round), and prints the medians:

* training samples/s (lstmkit ``model.fit`` over ``--steps`` batches vs a plain loop over the same batches),
* inference samples/s (lstmkit ``model.predict`` vs plain ``torch.no_grad`` forward, batch 32),
* for information: ``lstmkit.nn.LSTM`` fused path vs the introspection path (``return_gates=True``,
  a Python loop over steps that records every gate).

Run:  .venv/bin/python benchmarks/seed_model.py            (about 2-3 minutes on a 2-core CPU)
      .venv/bin/python benchmarks/seed_model.py --quick    (a smoke run, seconds)
      .venv/bin/python benchmarks/seed_model.py --profile --threads 1   (cProfile of lstmkit fit + predict)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from torch import nn

import lstmkit
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential

VOCAB, EMBED, UNITS, CLASSES = 10000, 128, 64, 2


# ------------------------------------------------------------------------------------------ models
def lstmkit_model():
    model = Sequential([Embedding(VOCAB, EMBED), LSTM(UNITS), Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


class TorchModel(nn.Module):
    """The same model in plain PyTorch (logits out; softmax folded into the cross-entropy)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.lstm = nn.LSTM(EMBED, UNITS, batch_first=True)
        self.dense = nn.Linear(UNITS, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embedding(x))
        return self.dense(h[-1])


# -------------------------------------------------------------------------------------- the timings
def time_lstmkit_fit(model, x: np.ndarray, y_onehot: np.ndarray, batch: int) -> float:
    t0 = time.perf_counter()
    model.fit(x, y_onehot, epochs=1, batch_size=batch, verbose=0)
    return time.perf_counter() - t0


def time_torch_fit(model: TorchModel, opt, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    model.train()
    perm = torch.randperm(len(x))  # fit shuffles each epoch; so does this loop
    for i in range(0, len(x), batch):
        idx = perm[i : i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def time_lstmkit_predict(model, x: np.ndarray, batch: int) -> float:
    t0 = time.perf_counter()
    model.predict(x, batch_size=batch, verbose=0)
    return time.perf_counter() - t0


def time_torch_predict(model: TorchModel, x: torch.Tensor, batch: int) -> float:
    t0 = time.perf_counter()
    model.eval()
    with torch.no_grad():
        out = [torch.softmax(model(x[i : i + batch]), dim=-1) for i in range(0, len(x), batch)]
        torch.cat(out).numpy()
    return time.perf_counter() - t0


def time_nn_paths(x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Median seconds per forward+backward of one batch: fused path, introspection (return_gates) path."""
    lstm = lstmkit.nn.LSTM(EMBED, UNITS, batch_first=True)

    def fused() -> None:
        out, _ = lstm(x)
        out.sum().backward()

    def traced() -> None:
        out, _, _gates = lstm(x, return_gates=True)
        out.sum().backward()

    for fn in (fused, traced):
        fn()  # warm-up
    fused_t, traced_t = [], []
    for _ in range(repeats):
        for fn, acc in ((fused, fused_t), (traced, traced_t)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return statistics.median(fused_t), statistics.median(traced_t)


def bench(threads: int, steps: int, predict_steps: int, repeats: int, length: int, batch: int, seed: int) -> None:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    n = steps * batch
    x_np = rng.integers(0, VOCAB, size=(n, length), dtype=np.int64)
    y_np = rng.integers(0, CLASSES, size=n, dtype=np.int64)
    y_onehot = np.eye(CLASSES, dtype=np.float32)[y_np]
    x_t, y_t = torch.from_numpy(x_np), torch.from_numpy(y_np)
    n_pred = predict_steps * batch
    xp_np = rng.integers(0, VOCAB, size=(n_pred, length), dtype=np.int64)
    xp_t = torch.from_numpy(xp_np)

    torch.manual_seed(seed)
    km = lstmkit_model()
    tm = TorchModel()
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3)

    # warm-up: one short epoch and one predict each (allocators, oneDNN primitive caches)
    w = min(n, 4 * batch)
    time_lstmkit_fit(km, x_np[:w], y_onehot[:w], batch)
    time_torch_fit(tm, topt, x_t[:w], y_t[:w], batch)
    time_lstmkit_predict(km, xp_np[:w], batch)
    time_torch_predict(tm, xp_t[:w], batch)

    fit_k, fit_t, pred_k, pred_t = [], [], [], []
    for r in range(repeats):
        pair = [
            ("k", lambda: fit_k.append(time_lstmkit_fit(km, x_np, y_onehot, batch))),
            ("t", lambda: fit_t.append(time_torch_fit(tm, topt, x_t, y_t, batch))),
        ]
        for _, fn in pair if r % 2 == 0 else pair[::-1]:
            fn()
        pair = [
            ("k", lambda: pred_k.append(time_lstmkit_predict(km, xp_np, batch))),
            ("t", lambda: pred_t.append(time_torch_predict(tm, xp_t, batch))),
        ]
        for _, fn in pair if r % 2 == 0 else pair[::-1]:
            fn()

    def sps(samples: int, times: list[float]) -> float:
        return samples / statistics.median(times)

    tk, tt = sps(n, fit_k), sps(n, fit_t)
    pk, pt = sps(n_pred, pred_k), sps(n_pred, pred_t)
    spread = lambda ts: f"{min(ts):.3f}-{max(ts):.3f} s"  # noqa: E731
    print(f"\n== torch threads: {torch.get_num_threads()} ==")
    print(f"training  (fit, {steps} steps x {batch}, median of {repeats}):")
    print(f"  lstmkit      {tk:9.1f} samples/s   (epoch {spread(fit_k)})")
    print(f"  plain torch  {tt:9.1f} samples/s   (epoch {spread(fit_t)})")
    print(f"  ratio lstmkit/torch = {tk / tt:.3f}   (target >= 0.95)")
    print(f"inference (predict, {predict_steps} batches x {batch}, median of {repeats}):")
    print(f"  lstmkit      {pk:9.1f} samples/s   ({spread(pred_k)})")
    print(f"  plain torch  {pt:9.1f} samples/s   ({spread(pred_t)})")
    print(f"  ratio lstmkit/torch = {pk / pt:.3f}")

    xe = torch.randn(batch, length, EMBED, requires_grad=False)
    f, g = time_nn_paths(xe, max(3, repeats))
    print(f"lstmkit.nn.LSTM forward+backward, one batch ({batch} x {length} x {EMBED} -> {UNITS}):")
    print(f"  fused path            {f * 1e3:8.2f} ms   ({batch / f:9.1f} samples/s)")
    print(f"  return_gates=True     {g * 1e3:8.2f} ms   ({batch / g:9.1f} samples/s)   {g / f:.1f}x slower")


def profile(threads: int, steps: int, length: int, batch: int, seed: int, top: int = 15) -> None:
    """cProfile one lstmkit fit epoch + predict and print where the time goes (by own time)."""
    import cProfile
    import pstats

    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    n = steps * batch
    x = rng.integers(0, VOCAB, size=(n, length), dtype=np.int64)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, size=n)]
    model = lstmkit_model()
    model.fit(x[: 4 * batch], y[: 4 * batch], epochs=1, batch_size=batch, verbose=0)  # warm-up
    prof = cProfile.Profile()
    prof.enable()
    model.fit(x, y, epochs=1, batch_size=batch, verbose=0)
    model.predict(x, batch_size=batch, verbose=0)
    prof.disable()
    print(f"\n== cProfile: lstmkit fit ({steps} steps) + predict ({n} samples), torch threads {threads} ==")
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100, help="training batches per timed epoch")
    ap.add_argument("--predict-steps", type=int, default=100, help="batches per timed predict")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved timing rounds (medians reported)")
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument(
        "--threads", default="default,1",
        help="comma-separated torch thread counts to try; 'default' = torch's default for this machine",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--profile", action="store_true", help="only profile lstmkit fit + predict (cProfile) at the first thread setting")
    a = ap.parse_args()
    if a.quick:
        a.steps, a.predict_steps, a.repeats = 4, 4, 1
    default_threads = torch.get_num_threads()
    threads = [default_threads if t.strip() == "default" else int(t) for t in a.threads.split(",")]

    print(
        f"lstmkit {lstmkit.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, default torch threads {default_threads}, "
        f"oneDNN {torch.backends.mkldnn.is_available()}"
    )
    print(
        f"model Embedding({VOCAB}, {EMBED}) -> LSTM({UNITS}) -> Dense({CLASSES}, softmax); adam; "
        f"batch {a.batch}, length {a.length}, synthetic tokens"
    )
    if a.profile:
        profile(threads[0], a.steps, a.length, a.batch, a.seed)
        return
    for t in threads:
        bench(t, a.steps, a.predict_steps, a.repeats, a.length, a.batch, a.seed)


if __name__ == "__main__":
    main()
