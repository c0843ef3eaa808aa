"""Speed of the article's model: lstmkit (Sequential + fit / predict) against the same model in plain PyTorch.

Model: Embedding(10000, 128) -> LSTM(64) -> Dense(2, softmax); adam, categorical cross-entropy.
Data: synthetic random token ids (vocab 10000, length 100) and random labels, batch 32.

For each torch thread setting the script warms both up, then runs ``--repeats`` rounds, each timing
lstmkit and plain torch back to back (the order alternates round to round), and prints the medians:

* training samples/s (lstmkit ``model.fit`` over ``--steps`` batches vs a plain loop over the same batches),
* inference samples/s (lstmkit ``model.predict`` vs plain ``torch.no_grad`` forward, batch 32),
* for information: ``lstmkit.nn.LSTM`` fused path vs the introspection path (``return_gates=True``,
  a Python loop over steps that records every gate).

Mixed precision (``--precision fp32,bf16``): lstmkit ``fit(precision="bf16")`` against plain PyTorch in
fp32 and under bf16 autocast, same batches. Target: lstmkit bf16 >= 1.5x plain PyTorch fp32 on a CPU
with bf16 matrix units (``amx_bf16``/``avx512_bf16``); on a CPU without them bf16 is refused and the
section prints why. ``--accuracy N`` trains the article's model on the movie reviews for N epochs in
fp32 and in bf16 (same seed, no early stopping) and prints validation accuracy after each epoch
(target: bf16 within 0.5 points of fp32).

Every result is printed with the CPU's model name (``lscpu``'s "Model name").

Run:  .venv/bin/python benchmarks/seed_model.py            (about 2-3 minutes on a 2-core CPU)
      .venv/bin/python benchmarks/seed_model.py --precision fp32,bf16 --threads 1
      .venv/bin/python benchmarks/seed_model.py --accuracy 8 --precision fp32,bf16
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
from lstmkit.train.precision import bf16_available, cpu_info, precision_reason

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
def time_lstmkit_fit(model, x: np.ndarray, y_onehot: np.ndarray, batch: int, precision: str = "fp32") -> float:
    t0 = time.perf_counter()
    model.fit(x, y_onehot, epochs=1, batch_size=batch, verbose=0, precision=precision)
    return time.perf_counter() - t0


def time_torch_fit(model: TorchModel, opt, x: torch.Tensor, y: torch.Tensor, batch: int, bf16: bool = False) -> float:
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    model.train()
    perm = torch.randperm(len(x))  # fit shuffles each epoch; so does this loop
    for i in range(0, len(x), batch):
        idx = perm[i : i + batch]
        opt.zero_grad(set_to_none=True)
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(x[idx])
            loss = loss_fn(logits.float(), y[idx])
        else:
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


def synthetic(rng: np.random.Generator, n: int, length: int):
    """``n`` random token rows and labels: (x numpy, y one-hot numpy, x tensor, y class-index tensor)."""
    x_np = rng.integers(0, VOCAB, size=(n, length), dtype=np.int64)
    y_np = rng.integers(0, CLASSES, size=n, dtype=np.int64)
    return x_np, np.eye(CLASSES, dtype=np.float32)[y_np], torch.from_numpy(x_np), torch.from_numpy(y_np)


def bench(threads: int, steps: int, predict_steps: int, repeats: int, length: int, batch: int, seed: int) -> None:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    n = steps * batch
    x_np, y_onehot, x_t, y_t = synthetic(rng, n, length)
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
    print(f"\n== torch threads: {torch.get_num_threads()}, CPU: {cpu_info().name} ==")
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


def bench_bf16(threads: int, steps: int, repeats: int, length: int, batch: int, seed: int) -> None:
    """lstmkit fit(precision="bf16") against plain PyTorch fp32 and plain PyTorch bf16 autocast."""
    torch.set_num_threads(threads)
    print(f"\n== mixed precision, torch threads {torch.get_num_threads()}, CPU: {cpu_info().name} ==")
    if not bf16_available("cpu"):
        print(f"  bf16 skipped: {precision_reason('bf16', 'cpu')}")
        return
    n = steps * batch
    x_np, y_onehot, x_t, y_t = synthetic(np.random.default_rng(seed), n, length)
    torch.manual_seed(seed)
    km, tm, tb = lstmkit_model(), TorchModel(), TorchModel()
    topt, bopt = torch.optim.Adam(tm.parameters(), lr=1e-3), torch.optim.Adam(tb.parameters(), lr=1e-3)
    w = min(n, 4 * batch)
    time_lstmkit_fit(km, x_np[:w], y_onehot[:w], batch, "bf16")
    time_torch_fit(tm, topt, x_t[:w], y_t[:w], batch)
    time_torch_fit(tb, bopt, x_t[:w], y_t[:w], batch, bf16=True)
    k, t, b = [], [], []
    for r in range(repeats):
        runs = [lambda: k.append(time_lstmkit_fit(km, x_np, y_onehot, batch, "bf16")),
                lambda: t.append(time_torch_fit(tm, topt, x_t, y_t, batch)),
                lambda: b.append(time_torch_fit(tb, bopt, x_t, y_t, batch, bf16=True))]
        for fn in runs if r % 2 == 0 else runs[::-1]:
            fn()
    ks, ts, bs = (n / statistics.median(v) for v in (k, t, b))
    print(f"training (fit, {steps} steps x {batch}, median of {repeats}):")
    print(f"  lstmkit bf16          {ks:9.1f} samples/s")
    print(f"  plain torch fp32      {ts:9.1f} samples/s")
    print(f"  plain torch bf16      {bs:9.1f} samples/s")
    print(f"  ratio lstmkit bf16 / plain fp32 = {ks / ts:.3f}   (target >= 1.5)")
    print(f"  ratio lstmkit bf16 / plain bf16 = {ks / bs:.3f}")


def accuracy(epochs: int, precisions: list[str], threads: int, seed: int, data_dir: str | None) -> None:
    """Validation accuracy of the article's model on the movie reviews, per epoch, for each precision."""
    from lstmkit.data.text import TextVectorizer
    from lstmkit.tasks.text.sentiment import LABELS, load_dataset

    torch.set_num_threads(threads)
    data = load_dataset(data_dir)
    vec = TextVectorizer(max_tokens=VOCAB, output_sequence_length=400, padding="pre", truncation="pre").fit(data.train.texts)
    x_tr, x_va = vec(data.train.texts), vec(data.valid.texts)
    eye = np.eye(len(LABELS), dtype=np.float32)
    y_tr, y_va = eye[np.asarray(data.train.labels)], eye[np.asarray(data.valid.labels)]
    print(f"\n== validation accuracy, movie reviews ({len(x_tr)} train / {len(x_va)} valid, last 400 tokens), "
          f"{epochs} epochs, seed {seed}, torch threads {threads}, CPU: {cpu_info().name} ==")
    curves = {}
    for p in precisions:
        if p == "bf16" and not bf16_available("cpu"):
            print(f"  bf16 skipped: {precision_reason('bf16', 'cpu')}")
            continue
        torch.manual_seed(seed)
        model = lstmkit_model()
        t0 = time.perf_counter()
        hist = model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, validation_data=(x_va, y_va), verbose=0, precision=p)
        curves[p] = [float(v) for v in hist.history["val_accuracy"]]
        print(f"  {p:5s} val_accuracy by epoch: {' '.join(f'{v:.3f}' for v in curves[p])}   "
              f"({time.perf_counter() - t0:.1f} s)")
    if "fp32" in curves and "bf16" in curves:
        diff = 100 * (curves["bf16"][-1] - curves["fp32"][-1])
        print(f"  final epoch: bf16 - fp32 = {diff:+.1f} points   (target: within 0.5 points)")


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
    ap.add_argument("--precision", default="fp32", help="comma-separated: fp32 (the speed table), bf16 (the mixed-precision table)")
    ap.add_argument("--accuracy", type=int, default=0, metavar="EPOCHS",
                    help="instead of timings: validation accuracy on the movie reviews after EPOCHS epochs per precision")
    ap.add_argument("--data", default=None, help="movie_review_polarity folder for --accuracy (default: ../shared/data/...)")
    a = ap.parse_args()
    if a.quick:
        a.steps, a.predict_steps, a.repeats = 4, 4, 1
    default_threads = torch.get_num_threads()
    threads = [default_threads if t.strip() == "default" else int(t) for t in a.threads.split(",")]

    print(
        f"lstmkit {lstmkit.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, default torch threads {default_threads}, "
        f"oneDNN {torch.backends.mkldnn.is_available()}, CPU model: {cpu_info().name}"
    )
    precisions = [p.strip() for p in a.precision.split(",") if p.strip()]
    if a.accuracy:
        accuracy(a.accuracy, precisions, threads[0], a.seed, a.data)
        return
    print(
        f"model Embedding({VOCAB}, {EMBED}) -> LSTM({UNITS}) -> Dense({CLASSES}, softmax); adam; "
        f"batch {a.batch}, length {a.length}, synthetic tokens"
    )
    if a.profile:
        profile(threads[0], a.steps, a.length, a.batch, a.seed)
        return
    for t in threads:
        if "fp32" in precisions:
            bench(t, a.steps, a.predict_steps, a.repeats, a.length, a.batch, a.seed)
        if "bf16" in precisions:
            bench_bf16(t, a.steps, a.repeats, a.length, a.batch, a.seed)


if __name__ == "__main__":
    main()
