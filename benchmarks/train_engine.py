"""The training engine's cost: ``lstmkit.train.Trainer`` against a bare PyTorch loop, and 2 processes against 1.

Part 1, overhead (target: at most 3%). The article's model in plain PyTorch (Embedding(10000, 128) ->
LSTM(64) -> Linear(2), cross-entropy, Adam) trains one epoch of ``--steps`` batches of 32 x 100
synthetic tokens two ways, on the same batches in the same order:

* **bare loop**: ``for xb, yb in batches: zero_grad; loss = ce(model(xb), yb); backward; step``;
* **engine**: ``Trainer(model, opt, step_fn, TensorBatches(...), epochs=1).fit()``, with the engine's
  running loss, progress bookkeeping and budget checks, no clipping, no checkpoint.

Rounds alternate the order; medians of ``--repeats`` rounds are printed with the ratio.

Part 2, data parallelism (``--dp``). The same model and global batch, trained by one process and by
``torchrun --nproc-per-node 2`` (gloo). On a 2-core machine this measures the cost of the all-reduce
and of splitting one batch over two processes, not a speed-up: one process already uses both cores
for its matrix products (2 threads against 1 thread per worker).

Run:  .venv/bin/python benchmarks/train_engine.py                 (about 2 minutes on 2 cores)
      .venv/bin/python benchmarks/train_engine.py --dp            (adds the 1 vs 2 process run)
      .venv/bin/python benchmarks/train_engine.py --quick         (a smoke run, seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import lstmkit
from lstmkit.train import StepOutput, TensorBatches, Trainer, distributed
from lstmkit.train.precision import cpu_info

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_model import CLASSES, EMBED, UNITS, VOCAB  # noqa: E402
from seed_model import TorchModel as ArticleModel  # noqa: E402  the article's model in plain PyTorch, logits out


def data(steps: int, batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    n = steps * batch
    return torch.randint(0, VOCAB, (n, length), generator=g), torch.randint(0, CLASSES, (n,), generator=g)


def step_fn(model: nn.Module, batch, carry):
    xb, yb = batch
    return StepOutput(nn.functional.cross_entropy(model(xb), yb), xb.shape[0])


def time_bare(model: nn.Module, opt, source: TensorBatches) -> float:
    """One epoch of the bare loop over the exact batches the engine would see."""
    t0 = time.perf_counter()
    model.train()
    for i in range(source.num_batches(0)):
        xb, yb = source.batch(0, i)
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def time_engine(model: nn.Module, opt, source: TensorBatches) -> float:
    t0 = time.perf_counter()
    Trainer(model, opt, step_fn, source, epochs=1, handle_sigint=False).fit()
    return time.perf_counter() - t0


def overhead(threads: int, steps: int, repeats: int, batch: int, length: int, seed: int) -> None:
    torch.set_num_threads(threads)
    x, y = data(steps, batch, length, seed)
    source = TensorBatches(x, y, batch_size=batch, shuffle=True, seed=seed)
    torch.manual_seed(seed)
    bare_model, engine_model = ArticleModel(), ArticleModel()
    bare_opt = torch.optim.Adam(bare_model.parameters(), lr=1e-3)
    engine_opt = torch.optim.Adam(engine_model.parameters(), lr=1e-3)
    warm = TensorBatches(x[: 4 * batch], y[: 4 * batch], batch_size=batch, seed=seed)
    time_bare(bare_model, bare_opt, warm)
    time_engine(engine_model, engine_opt, warm)
    bare, engine = [], []
    for r in range(repeats):
        pair = [lambda: bare.append(time_bare(bare_model, bare_opt, source)),
                lambda: engine.append(time_engine(engine_model, engine_opt, source))]
        for fn in pair if r % 2 == 0 else pair[::-1]:
            fn()
    n = steps * batch
    b, e = n / statistics.median(bare), n / statistics.median(engine)
    print(f"\n== engine overhead, torch threads {torch.get_num_threads()}, CPU: {cpu_info().name} ==")
    print(f"one epoch of {steps} steps x {batch} (length {length}), median of {repeats} rounds:")
    print(f"  bare PyTorch loop   {b:9.1f} samples/s   ({min(bare):.3f}-{max(bare):.3f} s)")
    print(f"  lstmkit.train       {e:9.1f} samples/s   ({min(engine):.3f}-{max(engine):.3f} s)")
    print(f"  ratio engine/bare = {e / b:.3f}   overhead = {100 * (1 - e / b):+.1f}%   (target: overhead <= 3%)")


# ------------------------------------------------------------------------------- data parallelism
def dp_worker(out: Path, steps: int, batch: int, length: int, seed: int, epochs: int, threads: int | None) -> None:
    """Train ``epochs`` epochs at global batch ``batch``; rank 0 writes samples/s and losses."""
    if not distributed.init_from_env() and threads:
        torch.set_num_threads(threads)
    x, y = data(steps, batch, length, seed)
    torch.manual_seed(seed)
    model = ArticleModel()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses: list[float] = []
    warm = TensorBatches(x[: 2 * batch], y[: 2 * batch], batch_size=batch, seed=seed)
    Trainer(model, opt, step_fn, warm, epochs=1, handle_sigint=False).fit()
    t0 = time.perf_counter()
    Trainer(model, opt, step_fn, TensorBatches(x, y, batch_size=batch, seed=seed), epochs=epochs,
            handle_sigint=False, on_step=lambda s: losses.append(float(s.loss))).fit()
    seconds = time.perf_counter() - t0
    if distributed.is_main():
        out.write_text(json.dumps({"world": distributed.world_size(), "threads": torch.get_num_threads(),
                                   "samples_per_s": steps * batch * epochs / seconds, "losses": losses}))
    distributed.shutdown()


def data_parallel(steps: int, batch: int, length: int, seed: int, epochs: int) -> None:
    results = {}
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        for key, nproc, threads in (("1x1", 1, 1), (f"1x{cores}", 1, cores), ("2", 2, None)):
            out = Path(tmp) / f"dp{key}.json"
            args = [__file__, "--worker", str(out), "--steps", str(steps), "--batch", str(batch),
                    "--length", str(length), "--seed", str(seed), "--epochs", str(epochs)]
            if threads:
                args += ["--threads", str(threads)]
            env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
            if nproc == 1:
                cmd = [sys.executable, *args]
            else:
                cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *args]
                env["OMP_NUM_THREADS"] = str(distributed.threads_per_process(nproc))
            subprocess.run(cmd, check=True, env=env)
            results[key] = json.loads(out.read_text())
    two = results["2"]
    print(f"\n== data parallelism (gloo), global batch {batch}, {epochs} epoch(s) of {steps} steps, CPU: {cpu_info().name} ==")
    for key in ("1x1", f"1x{cores}"):
        r = results[key]
        print(f"  1 process,  {r['threads']} thread(s)        {r['samples_per_s']:9.1f} samples/s")
    print(f"  2 processes, {two['threads']} thread(s) each   {two['samples_per_s']:9.1f} samples/s")
    for key in ("1x1", f"1x{cores}"):
        one = results[key]
        diff = max(abs(a - b) for a, b in zip(one["losses"], two["losses"]))
        print(f"  ratio 2 processes / 1 process at {one['threads']} thread(s) = "
              f"{two['samples_per_s'] / one['samples_per_s']:.3f}; loss curves differ by at most {diff:.2e}")
    print(f"  (on {cores} cores this is the cost of splitting one global batch and the all-reduce, not a speed-up "
          "from more hardware)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--threads", default="1,default", help="comma-separated torch thread counts ('default': torch's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dp", action="store_true", help="also run 1 process against 2 (torchrun, gloo)")
    ap.add_argument("--dp-only", action="store_true", help="only the data-parallel comparison")
    ap.add_argument("--epochs", type=int, default=2, help="epochs of the data-parallel runs")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.quick:
        a.steps, a.repeats, a.epochs = 6, 1, 1
    if a.worker:
        threads = None if a.threads == "1,default" else int(a.threads)
        dp_worker(Path(a.worker), a.steps, a.batch, a.length, a.seed, a.epochs, threads)
        return
    default_threads = torch.get_num_threads()
    print(f"lstmkit {lstmkit.__version__}, torch {torch.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, CPU model: {cpu_info().name}")
    print(f"model Embedding({VOCAB}, {EMBED}) -> LSTM({UNITS}) -> Linear({CLASSES}); Adam 1e-3; batch {a.batch}, "
          f"length {a.length}, synthetic tokens")
    if not a.dp_only:
        for t in a.threads.split(","):
            overhead(default_threads if t.strip() == "default" else int(t), a.steps, a.repeats, a.batch, a.length, a.seed)
    if a.dp or a.dp_only:
        data_parallel(a.steps, a.batch, a.length, a.seed, a.epochs)


if __name__ == "__main__":
    main()
