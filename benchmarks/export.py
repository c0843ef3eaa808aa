"""Deployment: lstmkit on PyTorch against its ONNX export on ONNX Runtime, fp32 and int8, in one run.

Three real models, each trained here, exported with ``lstmkit.export.to_onnx`` (checked against
lstmkit to 1e-5 before it is written) and ``to_onnx(..., int8=True)`` (ONNX Runtime's dynamic
quantization; ``DynamicQuantizeLSTM``):

* the article's model (Embedding(10000, 128) -> LSTM(64) -> Dense(2, softmax)) on the movie-review
  polarity data, as ``lstmkit demo`` trains it: test accuracy, and batch-1 / batch-64 latency on
  sequences of length 100;
* a ``Forecaster(method="lstm")`` on ETTh1 (OT, context 336, horizon 96, the standard split): test
  MSE on z-scores over every test window, and batch-1 / batch-64 latency of the network;
* a ``SequenceClassifier(model="lstm")`` on the Free Spoken Digit Dataset (MFCCs, official split):
  test accuracy.

Latency is the best mean of repeated calls on one thread, the three runtimes timed in turn over nine
rounds (so a slow spell of a shared machine hits them alike) (torch, ONNX Runtime), with the backend
rule's choice (``lstmkit.export.runtime.choose_backend(batch, recurrent steps)``) printed beside the
faster one. Every
exported kind is also checked to carry its state: two calls with the state fed back equal one call
on the whole sequence.

    .venv/bin/python benchmarks/export.py [--parts article,forecaster,digits] [--epochs-forecaster 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def best_ms(fn, n: int, reps: int = 5) -> float:
    for _ in range(max(2, n // 10)):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e3


def latency_rows(name: str, torch_fn, ort_fn, int8_fn, make_x, length: int) -> list[tuple]:
    from lstmkit.export.runtime import choose_backend

    rows = []
    for batch in (1, 64):
        x = make_x(batch)
        n = 100 if batch == 1 else 10
        # interleaved: each round times all three, so a slow spell of a shared machine hits them alike
        fns = (torch_fn, ort_fn, int8_fn)
        for f in fns:
            best_ms(lambda f=f: f(x), n, reps=1)
        best = [float("inf")] * 3
        for _ in range(9):
            for k, f in enumerate(fns):
                best[k] = min(best[k], best_ms(lambda f=f: f(x), n, reps=1))
        t, o, q = best
        rule = choose_backend(batch, length)
        faster = "onnxruntime" if o < t else "torch"
        print(f"{name} batch {batch:>2}: torch {t:7.3f} ms | ORT fp32 {o:7.3f} ms ({t / o:4.2f}x) | "
              f"ORT int8 {q:7.3f} ms ({o / q:4.2f}x over fp32) | {batch * 1000 / o:9.0f} seq/s fp32 | "
              f"rule picks {rule}, faster: {faster}{'' if rule == faster else '  <- rule differs'}", flush=True)
        rows.append((name, batch, t, o, q, rule, faster))
    return rows


def check_carry(runner, x: np.ndarray, split: int, stats: bool = False) -> float:
    """max |two calls with the state fed back - one call on the whole sequence| (the state is kept).
    ``stats``: a forecaster, whose second call keeps the first call's normalisation statistics, so the
    whole sequence is run with those too."""
    _, state = runner.run(x[:, :split])
    part, _ = runner.run(x[:, split:], state)
    extra = {"loc": state["loc"], "scale": state["scale"]} if stats else {}
    whole, _ = runner.run(x, **extra)
    return float(np.abs(part - whole).max())


# ------------------------------------------------------------------------------------------ the article
def article(tmp: Path) -> dict:
    from lstmkit.export import load_onnx, to_onnx
    from lstmkit.tasks.text.sentiment import load_dataset, train_sentiment

    t0 = time.perf_counter()
    res = train_sentiment(output=None, threads=1, verbose=0, examples=[])
    model, vec = res.classifier.model, res.classifier.vectorizer
    print(f"article's model: trained in {time.perf_counter() - t0:.0f} s, best epoch {res.best_epoch}", flush=True)
    fp32 = load_onnx(to_onnx(model, tmp / "article.onnx"), threads=1)
    int8 = load_onnx(to_onnx(model, tmp / "article-int8.onnx", int8=True), threads=1)
    data = load_dataset()
    x_test = np.asarray(vec(data.test.texts))
    y = np.asarray(data.test.labels)
    accs = {}
    for name, fn in (("torch", lambda x: model.predict(x, batch_size=64)),
                     ("ORT fp32", lambda x: np.concatenate([fp32.run(x[i:i + 64])[0] for i in range(0, len(x), 64)])),
                     ("ORT int8", lambda x: np.concatenate([int8.run(x[i:i + 64])[0] for i in range(0, len(x), 64)]))):
        accs[name] = float((fn(x_test).argmax(1) == y).mean())
    print("article's model, polarity test accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in accs.items())
          + f"; int8 change {100 * (accs['ORT int8'] - accs['torch']):+.2f} points", flush=True)
    rng = np.random.default_rng(0)
    vocab = int(model.layers[0].input_dim)

    def make_x(batch):
        return rng.integers(1, vocab, size=(batch, 100)).astype(np.int64)

    with torch.no_grad():
        rows = latency_rows("article, length 100", lambda x: model.predict(x, batch_size=64),
                            lambda x: fp32.run(x), lambda x: int8.run(x), make_x, 100)
    carry = check_carry(fp32, make_x(4), 60)
    print(f"article's model: state carried over two calls, max difference {carry:.2e}", flush=True)
    return {"acc": accs, "rows": rows, "carry": carry}


# ------------------------------------------------------------------------------------------ forecaster
def forecaster(tmp: Path, epochs: int) -> dict:
    from lstmkit.data.timeseries import gather_windows, read_series, split_borders, window_starts
    from lstmkit.export import load_onnx, to_onnx
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    context, horizon = 336, 96
    df = read_series(SHARED / "ett" / "ETTh1.csv", time_col="date", columns=["OT"])
    borders = split_borders(len(df), context=context, horizon=horizon, scheme="ett")
    fc = Forecaster(context, horizon, segment=48, units=128, epochs=epochs, seed=0, threads=1, verbose=0, method="lstm")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc.fit(df, valid="ett")
    print(f"forecaster: ETTh1 OT trained in {time.perf_counter() - t0:.0f} s ({epochs} epochs)", flush=True)
    fp32 = load_onnx(to_onnx(fc, tmp / "fc.onnx"), threads=1)
    int8 = load_onnx(to_onnx(fc, tmp / "fc-int8.onnx", int8=True), threads=1)
    z = fc.scaler_.transform(df.to_numpy()).astype(np.float32)
    a, b = borders["test"]
    xs, ys = gather_windows(z[a:b], window_starts(b - a, context, horizon), context, horizon)
    xs = xs.astype(np.float32)
    net = fc.network_.eval()

    def torch_fn(x):
        with torch.no_grad():
            return net.point(net(torch.from_numpy(x), None)).numpy()

    def ort_fn(runner):
        return lambda x: runner.run(x)[0][..., 0]

    mses = {}
    for name, fn in (("torch", torch_fn), ("ORT fp32", ort_fn(fp32)), ("ORT int8", ort_fn(int8))):
        pred = np.concatenate([fn(xs[i:i + 256]) for i in range(0, len(xs), 256)])
        mses[name] = float(((pred - ys) ** 2).mean())
    print(f"forecaster, ETTh1 test MSE (z-scores, {len(xs)} windows): " + ", ".join(f"{k} {v:.4f}" for k, v in mses.items())
          + f"; int8 change {mses['ORT int8'] - mses['torch']:+.4f}", flush=True)
    # the rule counts recurrent steps: the forecaster's LSTM reads context / segment segments
    rows = latency_rows(f"forecaster, context {context}", torch_fn, ort_fn(fp32), ort_fn(int8),
                        lambda batch: xs[:batch], context // fc.network_.segment)
    carry = check_carry(fp32, xs[:4], 192, stats=True)
    print(f"forecaster: state (and statistics) carried over two calls, max difference {carry:.2e}", flush=True)
    return {"mse": mses, "rows": rows, "carry": carry}


# ------------------------------------------------------------------------------------------ spoken digits
def digits(tmp: Path, epochs: int) -> dict:
    from lstmkit.data.audio import AudioFeatures
    from lstmkit.data.sequences import read_audio
    from lstmkit.export import load_onnx, to_onnx
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    data = read_audio(SHARED / "fsdd" / "recordings", AudioFeatures(n_mfcc=13, deltas=2))
    test, train = data.split(r"_[0-4]\.wav$")
    clf = SequenceClassifier(model="lstm", cell="lstm", units=64, pooling="mean", dropout=0.1, learning_rate=0.003,
                             epochs=epochs, patience=8, seed=0, threads=1, audio=data.audio, verbose=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(train.sequences, train.labels)
    print(f"digits: FSDD trained in {time.perf_counter() - t0:.0f} s", flush=True)
    fp32 = load_onnx(to_onnx(clf, tmp / "digits.onnx"), threads=1)
    int8 = load_onnx(to_onnx(clf, tmp / "digits-int8.onnx", int8=True), threads=1)
    seqs = [np.asarray(s, np.float32) for s in test.sequences]
    labels = np.asarray(test.labels)
    classes = np.asarray(clf.classes_)

    def run_onnx(runner):
        out = []
        for i in range(0, len(seqs), 64):
            part = seqs[i:i + 64]
            lens = np.array([len(s) for s in part], np.int64)
            x = np.zeros((len(part), lens.max(), part[0].shape[1]), np.float32)
            for k, s in enumerate(part):
                x[k, :len(s)] = s
            out.append(runner.run(x, lengths=lens)[0])
        return classes[np.concatenate(out).argmax(1)]

    accs = {"torch": float((np.asarray(clf.predict(seqs)) == labels).mean()),
            "ORT fp32": float((run_onnx(fp32) == labels).mean()),
            "ORT int8": float((run_onnx(int8) == labels).mean())}
    print("digits, FSDD test accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in accs.items())
          + f"; int8 change {100 * (accs['ORT int8'] - accs['torch']):+.2f} points", flush=True)
    return {"acc": accs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="article,forecaster,digits")
    ap.add_argument("--epochs-forecaster", type=int, default=3)
    ap.add_argument("--epochs-digits", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from lstmkit.train.precision import cpu_info

    print(f"CPU: {cpu_info().name}; 1 thread (torch, ONNX Runtime)", flush=True)
    parts = args.parts.split(",")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "article" in parts:
            out["article"] = article(Path(tmp))
        if "forecaster" in parts:
            out["forecaster"] = forecaster(Path(tmp), args.epochs_forecaster)
        if "digits" in parts:
            out["digits"] = digits(Path(tmp), args.epochs_digits)
    for key in ("article", "forecaster"):
        for name, batch, t, o, q, rule, faster in out.get(key, {}).get("rows", []):
            print(f"RESULT {name} batch {batch}: torch {t:.3f} ms, ORT fp32 {o:.3f} ms ({t / o:.2f}x), "
                  f"ORT int8 {q:.3f} ms ({o / q:.2f}x over fp32); rule {rule}, faster {faster}")
    if "article" in out:
        a = out["article"]["acc"]
        print(f"RESULT article polarity accuracy: torch {a['torch']:.4f}, ORT fp32 {a['ORT fp32']:.4f}, "
              f"ORT int8 {a['ORT int8']:.4f}")
    if "forecaster" in out:
        m = out["forecaster"]["mse"]
        print(f"RESULT forecaster ETTh1 MSE: torch {m['torch']:.4f}, ORT fp32 {m['ORT fp32']:.4f}, ORT int8 {m['ORT int8']:.4f}")
    if "digits" in out:
        a = out["digits"]["acc"]
        print(f"RESULT digits FSDD accuracy: torch {a['torch']:.4f}, ORT fp32 {a['ORT fp32']:.4f}, ORT int8 {a['ORT int8']:.4f}")


if __name__ == "__main__":
    main()
