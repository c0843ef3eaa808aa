"""Penn Treebank, word level, Zaremba et al. (2014) "small": through `lstmkit text train-lm` (the CLI code path).

2 layers x 200 units, no dropout, SGD (halved every epoch after epoch 4), 13 epochs, BPTT 35,
batch 20; newline -> <eos>. Zaremba's lr 1 and clip 5 apply to a loss summed over the 35 steps;
lstmkit's loss is the mean over steps, so the same update is lr 35 / clip 5/35. We use the common
mean-loss setting lr 20, clip 0.25 (PyTorch's word_language_model): in a 1.5-minute probe it reached
validation perplexity 305 where lr 1 / clip 5 reached 451 after the same ~540 steps. lstmkit ties the decoder to the embedding
(embedding size = units = 200), which Zaremba's model did not. Target: test perplexity <= 114.5.
Test perplexity is measured on ptb.test.txt with one stream (batch 1), BPTT 35, carried state.

    .venv/bin/python benchmarks/text_lm_ptb.py --threads 2 [--epochs 13] [--out runs/ptb]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

from _train_lm_cli import run_train_lm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ptb"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--epochs", type=int, default=13)
    p.add_argument("--minutes", type=float, default=None,
                   help="a time-boxed run instead (cosine LR from 1 over the budget): NOT the Zaremba protocol")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "ptb")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.out / "ptb_small.lstmkit"
    cmd = [
        str(args.data / "ptb.train.txt"), "--valid", str(args.data / "ptb.valid.txt"), "-o", str(model),
        "--level", "word", "--layers", "2", "--units", "200", "--dropout", "0", "--optimizer", "sgd", "--lr", "20",
        "--clip", "0.25", "--bptt", "35", "--batch-size", "20", "--threads", str(args.threads), "--seed", str(args.seed),
    ]
    if args.minutes is None:
        cmd += ["--schedule", "step", "--decay-start", "4", "--lr-decay", "0.5", "--epochs", str(args.epochs)]
    else:
        cmd += ["--schedule", "cosine", "--minutes", str(args.minutes), "--log-every", "200"]
    train_wall = run_train_lm(cmd)
    import torch

    from lstmkit.tasks.language_model import evaluate_file

    torch.set_num_threads(args.threads)
    t1 = time.perf_counter()
    test = evaluate_file(model, args.data / "ptb.test.txt", bptt=35, batch_size=1)
    valid = evaluate_file(model, args.data / "ptb.valid.txt", bptt=35, batch_size=1)
    eval_wall = time.perf_counter() - t1
    protocol = "Zaremba small, tied" if args.minutes is None else f"2x200 tied, time-boxed {args.minutes} min, cosine"
    print(f"RESULT ptb word ({protocol}): valid perplexity {math.exp(valid):.2f}, "
          f"test perplexity {math.exp(test):.2f} ({test:.4f} nats/word); training wall {train_wall / 60:.1f} min, "
          f"evaluation {eval_wall:.0f} s, threads {args.threads}, load average at end {os.getloadavg()}; "
          f"target <= 114.5: {'met' if math.exp(test) <= 114.5 else 'not met'}")


if __name__ == "__main__":
    main()
