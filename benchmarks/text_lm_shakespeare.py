"""Tiny Shakespeare, character level, through `lstmkit text train-lm --minutes M` (the CLI code path).

First 90% of input.txt trains, the last 10% validates (the CLI's hold-out when no --valid is given).
Reference (brief): plain PyTorch 2x512 LSTM, batch 64, BPTT 128, Adam 2e-3, dropout 0.2 reached
1.449 nats/char on validation after 20 minutes on this project's CPU machines; target <= 1.45.

    .venv/bin/python benchmarks/text_lm_shakespeare.py --minutes 20 --threads 2 [--precision bf16|auto] [--tie yes|no] [--nproc N] [--out runs/shakespeare]
        [--units 512] [--dropout 0.2] [--lr 2e-3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from _train_lm_cli import run_train_lm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "shakespeare")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                   help="bf16: autocast (needs bf16 CPU units: AMX or AVX512-BF16); auto: bf16 only where it is faster")
    p.add_argument("--nproc", type=int, default=1, help="train in N processes (torchrun data parallelism)")
    p.add_argument("--tie", choices=["yes", "no"], default="no",
                   help="share the embedding with the decoder (no: the plain PyTorch reference's untied N(0,1) embedding)")
    p.add_argument("--units", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=2e-3)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.out / "shakespeare.lstmkit"
    cmd = [
        str(args.data),
        "-o", str(model), "--level", "char", "--layers", "2", "--units", str(args.units), "--dropout", str(args.dropout),
        "--bptt", "128", "--batch-size", "64", "--lr", str(args.lr), "--minutes", str(args.minutes),
        "--threads", str(args.threads), "--seed", str(args.seed), "--log-every", "20",
        "--precision", args.precision, "--tie" if args.tie == "yes" else "--no-tie", "--nproc", str(args.nproc),
    ]
    wall = run_train_lm(cmd)
    from lstmkit.models.serialization import read_metadata

    training = json.loads(read_metadata(model)["training"])
    nats = training["val_loss"]
    print(f"load average at end {os.getloadavg()}")
    from lstmkit.train.precision import cpu_info

    print(f"CPU: {cpu_info().name or 'unknown'}")
    print(f"RESULT tiny-shakespeare char: validation {nats:.4f} nats/char = {nats / math.log(2):.4f} bits/char "
          f"after {training['steps']} steps ({training['epochs']} full epochs), budget {args.minutes} min, "
          f"wall {wall / 60:.1f} min incl. data prep and final evaluation, threads {args.threads}, "
          f"precision {args.precision}, tied {args.tie}, processes {args.nproc}, 2x{args.units}, dropout {args.dropout}, "
          f"lr {args.lr}; "
          f"target <= 1.45 nats/char: {'met' if nats <= 1.45 else 'not met'}")


if __name__ == "__main__":
    main()
