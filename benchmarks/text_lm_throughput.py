"""Training speed of `lstmkit text train-lm`'s loop against a hand-written PyTorch loop, same model, same process.

The model is the Tiny Shakespeare benchmark's: character level, embedding 512 tied to the decoder,
2 x 512 LSTM, dropout 0.2, batch 64, BPTT 128, Adam 2e-3, clipping 5, state carried and detached.
lstmkit runs :func:`lstmkit.tasks.text.language_model.train_language_model` (what the CLI calls; its loop is
the engine's, :class:`lstmkit.train.Trainer`), stopped after ``--steps`` optimizer steps through its
``on_step`` hook; the peer is the usual 30-line PyTorch
loop (``nn.Embedding`` -> ``nn.LSTM`` -> ``nn.Linear``). The two alternate ``--repeats`` times and
the median time per step after ``--warmup`` steps is compared, so machine noise hits both alike::

    .venv/bin/python benchmarks/text_lm_throughput.py [--threads 2] [--steps 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from lstmkit.tasks.text.language_model import LMConfig, train_language_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
UNITS, LAYERS, BATCH, BPTT, LR, CLIP, DROPOUT = 512, 2, 64, 128, 2e-3, 5.0, 0.2


def lstmkit_step_times(path: Path, steps: int, seed: int) -> list[float]:
    stamps: list[float] = []

    def on_step(step: int) -> bool:
        stamps.append(time.perf_counter())
        return step >= steps

    cfg = LMConfig(level="char", layers=LAYERS, units=UNITS, dropout=DROPOUT, bptt=BPTT, batch_size=BATCH,
                   learning_rate=LR, clip_norm=CLIP, epochs=1, seed=seed, threads=torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        train_language_model(path, Path(tmp) / "m.lstmkit", cfg, on_step=on_step)
    return [b - a for a, b in zip(stamps, stamps[1:])]


class PlainLM(nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, UNITS)
        self.drop = nn.Dropout(DROPOUT)
        self.lstm = nn.LSTM(UNITS, UNITS, LAYERS, dropout=DROPOUT)
        self.out = nn.Linear(UNITS, vocab)
        self.out.weight = self.embed.weight

    def forward(self, x: torch.Tensor, h: tuple[torch.Tensor, torch.Tensor]):
        y, h = self.lstm(self.drop(self.embed(x)), h)
        return self.out(self.drop(y)), h


def plain_step_times(path: Path, steps: int, seed: int) -> list[float]:
    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text[: int(len(text) * 0.9)]], dtype=torch.long)
    width = data.numel() // BATCH
    data = data[: width * BATCH].view(BATCH, width).t().contiguous()  # (T, N) time-major
    torch.manual_seed(seed)
    model = PlainLM(len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    h = (torch.zeros(LAYERS, BATCH, UNITS), torch.zeros(LAYERS, BATCH, UNITS))
    model.train()
    stamps = []
    for step in range(steps):
        i = step * BPTT
        x, y = data[i : i + BPTT], data[i + 1 : i + 1 + BPTT]
        h = (h[0].detach(), h[1].detach())
        logits, h = model(x, h)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        loss.item()
        stamps.append(time.perf_counter())
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"Tiny Shakespeare char LM 2x{UNITS}, batch {BATCH}, BPTT {BPTT}; torch threads {args.threads}, "
          f"{args.steps} steps x {args.repeats} alternating repeats; load average {os.getloadavg()}", flush=True)
    ours: list[float] = []
    peer: list[float] = []
    for r in range(args.repeats):
        ours += lstmkit_step_times(args.data, args.steps, seed=r)[args.warmup:]
        peer += plain_step_times(args.data, args.steps, seed=r)[args.warmup:]
        print(f"  repeat {r + 1}: lstmkit {statistics.median(ours):.3f} s/step, plain PyTorch "
              f"{statistics.median(peer):.3f} s/step", flush=True)
    a, b = statistics.median(ours), statistics.median(peer)
    tokens = BATCH * BPTT
    print(f"lstmkit train-lm loop : {a:.3f} s/step ({tokens / a:,.0f} chars/s)")
    print(f"plain PyTorch loop    : {b:.3f} s/step ({tokens / b:,.0f} chars/s)")
    print(f"ratio lstmkit/plain throughput = {b / a:.3f} (1.0 = the CLI costs nothing over hand-written PyTorch)")


if __name__ == "__main__":
    main()
