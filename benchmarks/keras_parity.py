"""Keras parity: the same Keras code trained by lstmkit and by Keras 3, speed and final accuracy.

Two workloads, each built by one function that receives the ``keras`` and ``layers`` modules, so the
model code is literally the same for both (lstmkit gets ``lstmkit.keras``, Keras gets ``keras``):

* ``article``: the article's model, ``Embedding(10000, 128, input_length=100) -> LSTM(64) ->
  Dense(2, softmax)``, categorical cross-entropy, adam, on the movie-review polarity data (1,600
  training reviews, tokenized to the 10,000 most frequent training words, padded/cut to 100 ids with
  ``pad_sequences``' defaults); accuracy on the 200 test reviews.
* ``addition``: keras.io's number-addition model (examples/keras_addition_rnn.py): ``LSTM(128) ->
  RepeatVector(4) -> LSTM(128, return_sequences=True) -> Dense(12, softmax)``, adam, on synthetic
  3-digit questions (reversed); per-character accuracy on the 10% held out.

Keras runs on the torch backend in this process; TensorFlow and JAX (when importable) run in
subprocesses with ``KERAS_BACKEND`` set, since Keras fixes its backend per process; a backend that is
not installed is printed as such. Both sides get the same arrays, epochs, batch size and shuffling
(``shuffle=True``), and the same number of threads (torch ``set_num_threads``; TensorFlow's intra-op
pool; XLA's CPU flags for JAX). Samples/s is the median over the epochs after the first (the first
warms up caches, oneDNN primitives and compilers). Every result is printed with the CPU's model name
(``lscpu``'s "Model name"), and the ratio lstmkit / Keras for each backend (> 1: lstmkit faster).

Run:  .venv/bin/python benchmarks/keras_parity.py                 (several minutes: run it alone)
      .venv/bin/python benchmarks/keras_parity.py --threads 2 --epochs 5
      .venv/bin/python benchmarks/keras_parity.py --quick         (a smoke run, under a minute)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "tensorflow", "jax")
WORKLOADS = ("article", "addition")
VOCAB, LENGTH = 10000, 100
DIGITS = 3
CHARS = "0123456789+ "


def cpu_model_name() -> str:
    """``lscpu``'s "Model name" (from /proc/cpuinfo or lscpu, as lstmkit's precision rule reads it)."""
    from lstmkit.train import cpu_info

    return cpu_info().name or "unknown"


# ------------------------------------------------------------------------------------------- data
def default_data_dir() -> Path:
    root = os.environ.get("LSTMKIT_DATA")
    return (Path(root) if root else ROOT.parent / "shared" / "data") / "movie_review_polarity"


def _pad(seqs: list[list[int]], maxlen: int) -> np.ndarray:
    """``pad_sequences(seqs, maxlen)`` with Keras's defaults (pre-padding, pre-truncation, int32)."""
    out = np.zeros((len(seqs), maxlen), dtype="int32")
    for i, s in enumerate(seqs):
        s = s[-maxlen:]
        if s:
            out[i, -len(s):] = s
    return out


def article_data(data_dir: Path, limit: int | None):
    """Movie reviews as (x_train, y_train, x_test, y_test): ids < 10,000 (0 padding, 1 unknown), one-hot labels."""
    def read(name):
        texts, labels = [], []
        with open(data_dir / name, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                texts.append(rec["text"].split())
                labels.append(int(rec["label"]))
        return texts, np.asarray(labels)

    (tr_x, tr_y), (te_x, te_y) = read("train.jsonl"), read("test.jsonl")
    if limit is not None:
        keep = np.random.RandomState(0).permutation(len(tr_x))[:limit]
        tr_x, tr_y = [tr_x[i] for i in keep], tr_y[keep]
        keep = np.random.RandomState(1).permutation(len(te_x))[: max(limit // 4, 32)]  # both classes
        te_x, te_y = [te_x[i] for i in keep], te_y[keep]
    counts = Counter(w for t in tr_x for w in t)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: VOCAB - 2]
    index = {w: i + 2 for i, (w, _) in enumerate(top)}
    ids = lambda texts: _pad([[index.get(w, 1) for w in t] for t in texts], LENGTH)  # noqa: E731
    eye = np.eye(2, dtype="float32")
    return ids(tr_x), eye[tr_y], ids(te_x), eye[te_y]


def addition_data(size: int, seed: int):
    """keras.io's addition questions (3 digits, reversed), one-hot: (x_train, y_train, x_val, y_val)."""
    rng = np.random.RandomState(seed)
    maxlen = 2 * DIGITS + 1
    idx = {c: i for i, c in enumerate(sorted(CHARS))}
    seen, questions, answers = set(), [], []
    while len(questions) < size:
        a, b = (int("".join(rng.choice(list("0123456789")) for _ in range(rng.randint(1, DIGITS + 1)))) for _ in range(2))
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        q = f"{a}+{b}"
        questions.append((q + " " * (maxlen - len(q)))[::-1])
        answers.append(str(a + b) + " " * (DIGITS + 1 - len(str(a + b))))
    x = np.zeros((size, maxlen, len(CHARS)), dtype="float32")
    y = np.zeros((size, DIGITS + 1, len(CHARS)), dtype="float32")
    for i, (q, s) in enumerate(zip(questions, answers)):
        x[i, np.arange(maxlen), [idx[c] for c in q]] = 1
        y[i, np.arange(DIGITS + 1), [idx[c] for c in s]] = 1
    split = size - size // 10
    return x[:split], y[:split], x[split:], y[split:]


# ----------------------------------------------------------------------- the models: one Keras code
def build_article(keras, layers):
    model = keras.Sequential()
    model.add(layers.Embedding(input_dim=10000, output_dim=128, input_length=100))
    model.add(layers.LSTM(units=64, return_sequences=False))
    model.add(layers.Dense(units=2, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def build_addition(keras, layers):
    model = keras.Sequential()
    model.add(layers.LSTM(128, input_shape=(2 * DIGITS + 1, len(CHARS))))
    model.add(layers.RepeatVector(DIGITS + 1))
    model.add(layers.LSTM(128, return_sequences=True))
    model.add(layers.Dense(len(CHARS), activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


BUILDERS = {"article": build_article, "addition": build_addition}


def load_workload(name: str, args) -> tuple:
    if name == "article":
        return article_data(Path(args.data) if args.data else default_data_dir(), 128 if args.quick else None)
    return addition_data(1000 if args.quick else args.addition_size, args.seed)


# ------------------------------------------------------------------------------------ one training
def train(keras, layers, name: str, data: tuple, epochs: int, batch: int, **fit_kwargs) -> dict:
    """Build the workload's model with ``keras``/``layers``, fit it, time each epoch, evaluate."""
    x, y, xv, yv = data
    times: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    model = BUILDERS[name](keras, layers)
    t0 = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=batch, shuffle=True, verbose=0, callbacks=[EpochTimer()],
                        **fit_kwargs)
    total = time.perf_counter() - t0
    loss, acc = model.evaluate(xv, yv, batch_size=batch, verbose=0)
    steady = times[1:] or times
    return {
        "samples_per_s": len(x) / statistics.median(steady),
        "epoch_s": times,
        "fit_s": total,
        "train_loss": float(history.history["loss"][-1]),
        "eval_loss": float(loss),
        "eval_accuracy": float(acc),
        "params": int(model.count_params()),
    }


def run_lstmkit(name, data, args, precision: str = "fp32") -> dict:
    """lstmkit on the same Keras code; ``precision="auto"`` is lstmkit's one extra: bf16 autocast where the
    CPU has bf16 units (AMX / AVX512-BF16) and it is as accurate, else float32 (the row says which ran)."""
    import torch

    from lstmkit import keras
    from lstmkit.keras import layers

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if precision == "fp32":
        return train(keras, layers, name, data, args.epochs, args.batch)
    result = train(keras, layers, name, data, args.epochs, args.batch, precision=precision)
    return result


def run_keras_here(name, data, args) -> dict:
    """Keras 3 in this process (the backend KERAS_BACKEND named before the first import: torch here)."""
    import warnings

    import keras
    from keras import layers

    # Keras 3 warns that `input_length` and a first layer's `input_shape` are deprecated; the code is the article's
    warnings.filterwarnings("ignore", message=".*(input_length|input_shape).*", category=UserWarning)
    keras.utils.set_random_seed(args.seed)
    r = train(keras, layers, name, data, args.epochs, args.batch)
    r["backend"] = keras.backend.backend()
    r["keras_version"] = keras.__version__
    return r


def backend_installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


def run_keras_subprocess(backend: str, workloads: list[str], args) -> dict:
    """This script as ``--worker BACKEND`` with KERAS_BACKEND set; returns {workload: result or error}."""
    env = dict(os.environ, KERAS_BACKEND=backend, OMP_NUM_THREADS=str(args.threads),
               TF_NUM_INTRAOP_THREADS=str(args.threads), TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
    if backend == "jax":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                            f"intra_op_parallelism_threads={args.threads}").strip()
    cmd = [sys.executable, __file__, "--worker", backend, "--workloads", ",".join(workloads),
           "--epochs", str(args.epochs), "--batch", str(args.batch), "--threads", str(args.threads),
           "--seed", str(args.seed), "--addition-size", str(args.addition_size)]
    if args.quick:
        cmd.append("--quick")
    if args.data:
        cmd += ["--data", args.data]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {w: {"error": f"worker exited {proc.returncode}: {tail}"} for w in workloads}


def worker(args) -> None:
    """Child process: Keras on KERAS_BACKEND; prints one ``RESULT {json}`` line."""
    backend = os.environ.get("KERAS_BACKEND", "")
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    out = {}
    for name in args.workloads.split(","):
        try:
            out[name] = run_keras_here(name, load_workload(name, args), args)
        except Exception as exc:  # noqa: BLE001 (reported in the parent's table)
            out[name] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    print("RESULT " + json.dumps(out))


# ------------------------------------------------------------------------------------------- report
def describe(name: str, data: tuple, args) -> str:
    x, _, xv, _ = data
    what = {"article": "Embedding(10000,128,input_length=100) -> LSTM(64) -> Dense(2, softmax), adam; movie reviews",
            "addition": f"LSTM(128) -> RepeatVector({DIGITS + 1}) -> LSTM(128, seq) -> Dense(12, softmax), adam; "
                        f"{DIGITS}-digit addition"}[name]
    return f"{what}; {len(x)} train / {len(xv)} eval samples, {args.epochs} epochs, batch {args.batch}"


def report(name: str, data: tuple, results: dict, args) -> None:
    print(f"\n== {name}: {describe(name, data, args)}; threads {args.threads}, CPU: {cpu_model_name()} ==")
    metric = "test accuracy" if name == "article" else "val char accuracy"
    print(f"  {'':26s} {'samples/s':>10s} {'fit s':>8s} {'train loss':>10s} {metric:>17s} {'params':>9s}")
    for label, r in results.items():
        if "error" in r:
            print(f"  {label:26s} {r['error']}")
            continue
        print(f"  {label:26s} {r['samples_per_s']:10.1f} {r['fit_s']:8.1f} {r['train_loss']:10.4f} "
              f"{r['eval_accuracy']:17.4f} {r['params']:9d}")
    ours = {label: r for label, r in results.items() if label.startswith("lstmkit") and "samples_per_s" in r}
    peers = {label: r for label, r in results.items() if not label.startswith("lstmkit") and "samples_per_s" in r}
    for mine, base in ours.items():
        for label, r in peers.items():
            print(f"  ratio {mine} / {label} = {base['samples_per_s'] / r['samples_per_s']:.3f}   "
                  f"(accuracy {base['eval_accuracy']:.4f} vs {r['eval_accuracy']:.4f})")
    if peers and ours:
        fastest = max(peers, key=lambda k: peers[k]["samples_per_s"])
        for mine, base in ours.items():
            ratio = base["samples_per_s"] / peers[fastest]["samples_per_s"]
            print(f"  target (issue 19): {mine} >= 1.5x Keras's fastest backend here ({fastest}): "
                  f"{ratio:.2f}x -> {'met' if ratio >= 1.5 else 'not met'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=5, help="epochs for every framework (the first is warm-up for samples/s)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch / TensorFlow / XLA threads (default 1)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated: article, addition")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="Keras backends to compare with")
    ap.add_argument("--addition-size", type=int, default=50000, help="addition questions (keras.io: 50,000)")
    ap.add_argument("--data", default=None, help="movie_review_polarity folder (default: ../shared/data/...)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run: 128 reviews, 1,000 additions, 2 epochs")
    ap.add_argument("--precision-auto", action="store_true", help="also in --quick: the lstmkit precision='auto' row")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.epochs = min(args.epochs, 2)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        worker(args)
        return

    os.environ["KERAS_BACKEND"] = "torch"  # the in-process Keras; other backends run as subprocesses
    import torch

    import lstmkit

    torch.set_num_threads(args.threads)
    try:
        import keras

        keras_line = f"keras {keras.__version__}"
    except Exception as exc:  # noqa: BLE001
        keras, keras_line = None, f"keras not importable ({type(exc).__name__}: {exc})"
    print(f"lstmkit {lstmkit.__version__}, torch {torch.__version__}, {keras_line}, numpy {np.__version__}, "
          f"python {platform.python_version()}, {os.cpu_count()} CPUs, threads {args.threads}, "
          f"CPU model: {cpu_model_name()}")
    status = {b: ("installed" if backend_installed(b) else "not installed") for b in backends}
    print("Keras backends: " + ", ".join(f"{b} {s}" for b, s in status.items()))

    datasets = {name: load_workload(name, args) for name in workloads}
    results: dict[str, dict] = {name: {} for name in workloads}
    for name in workloads:
        results[name]["lstmkit"] = run_lstmkit(name, datasets[name], args)
        if not args.quick or args.precision_auto:
            import lstmkit.train.precision as prec

            chosen = prec.resolve_precision("auto", torch.device("cpu"))
            results[name][f"lstmkit precision=auto ({chosen})"] = run_lstmkit(name, datasets[name], args, "auto")
        if "torch" in backends and keras is not None:
            results[name]["keras/torch"] = run_keras_here(name, datasets[name], args)
    for b in backends:
        if b == "torch":
            continue
        if status[b] != "installed":
            for name in workloads:
                results[name][f"keras/{b}"] = {"error": "not installed"}
            continue
        for name, r in run_keras_subprocess(b, workloads, args).items():
            results[name][f"keras/{b}"] = r
    for name in workloads:
        report(name, datasets[name], results[name], args)


if __name__ == "__main__":
    main()
