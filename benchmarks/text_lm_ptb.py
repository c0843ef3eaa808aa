"""Penn Treebank, word level, Zaremba et al. (2014) "small": through `lstmkit text train-lm` (the CLI code path).

2 layers x 200 units, no dropout, SGD (halved every epoch after epoch 4), 13 epochs, BPTT 35,
batch 20; newline -> <eos>. Zaremba's lr 1 and clip 5 apply to a loss summed over the 35 steps;
lstmkit's loss is the mean over steps, so the same update is lr 35 / clip 5/35. We use the common
mean-loss setting lr 20, clip 0.25 (PyTorch's word_language_model): in a 1.5-minute probe it reached
validation perplexity 305 where lr 1 / clip 5 reached 451 after the same ~540 steps. lstmkit ties the decoder to the embedding
(embedding size = units = 200), which Zaremba's model did not. Target: test perplexity <= 114.5.
Test perplexity is measured on ptb.test.txt with one stream (batch 1), BPTT 35, carried state.

    .venv/bin/python benchmarks/text_lm_ptb.py --threads 2 [--epochs 13] [--out runs/ptb]

``--config medium`` is Zaremba's medium model (2x650, dropout 0.5; theirs: 39 epochs, lr decay 1/1.2
after epoch 6, test perplexity 82.7), here tied and time-boxed by ``--minutes`` with a cosine
schedule, since 39 epochs do not fit a CPU session. Every run writes its validation perplexity
after each epoch against wall time to ``docs/results/ptb_<config>.csv`` and redraws
``docs/img/ptb_curve.png`` from all such files.
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
RESULTS = ROOT / "docs" / "results"
PLOT = ROOT / "docs" / "img" / "ptb_curve.png"
# Zaremba et al. 2014: small = 2x200 no dropout; medium = 2x650, dropout 0.5.
REFERENCE = {"small": 114.5, "medium": 82.7}
CONFIGS = {"small": {"units": "200", "dropout": "0"}, "medium": {"units": "650", "dropout": "0.5"}}


def read_history(model: Path) -> list[dict]:
    """The per-epoch training history (``epoch``, ``loss``, ``val_loss``, ``lr``, ``seconds``), from the model's
    checkpoint (the engine's, :func:`lstmkit.train.read_info`; the model file itself has none)."""
    from lstmkit.tasks.text.language_model import checkpoint_path
    from lstmkit.train import read_info

    return read_info(checkpoint_path(model)).training["history"]


def write_curve(history: list[dict], name: str, test_ppl: float) -> None:
    """Save (epoch, minutes, validation perplexity) from the training history; redraw the plot."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    minutes = 0.0
    lines = ["epoch,minutes,valid_perplexity"]
    for h in history:
        minutes += h["seconds"] / 60
        lines.append(f"{h['epoch']},{minutes:.2f},{math.exp(h['val_loss']):.2f}")
    lines.append(f"# test perplexity {test_ppl:.2f}")
    (RESULTS / f"ptb_{name}.csv").write_text("\n".join(lines) + "\n")
    plot_curves()


def plot_curves() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for f in sorted(RESULTS.glob("ptb_*.csv")):
        rows = [r.split(",") for r in f.read_text().splitlines()[1:] if r and not r.startswith("#")]
        ax.plot([float(r[1]) for r in rows], [float(r[2]) for r in rows], marker="o", label=f.stem.removeprefix("ptb_"))
    for ppl, label in ((114.5, "Zaremba small (test)"), (82.7, "Zaremba medium (test)")):
        ax.axhline(ppl, linestyle="--", linewidth=0.8, color="grey")
        ax.text(0.0, ppl, label, va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("training wall time (minutes, 2-core CPU)")
    ax.set_ylabel("validation perplexity")
    ax.set_yscale("log")
    ax.set_title("Penn Treebank: validation perplexity against time")
    ax.legend()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--epochs", type=int, default=13)
    p.add_argument("--minutes", type=float, default=None,
                   help="a time-boxed run instead (cosine LR from 1 over the budget): NOT the Zaremba protocol")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--config", choices=sorted(CONFIGS), default="small")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "ptb")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--evaluate-only", action="store_true",
                   help="skip training: score the model (and its checkpoint's history) already in --out")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.config if args.minutes is None else f"{args.config}_{args.minutes:g}min"
    model = args.out / f"ptb_{name}.lstmkit"
    cfg = CONFIGS[args.config]
    cmd = [
        str(args.data / "ptb.train.txt"), "--valid", str(args.data / "ptb.valid.txt"), "-o", str(model),
        "--level", "word", "--layers", "2", "--units", cfg["units"], "--dropout", cfg["dropout"], "--optimizer", "sgd", "--lr", "20",
        "--clip", "0.25", "--bptt", "35", "--batch-size", "20", "--threads", str(args.threads), "--seed", str(args.seed),
    ]
    if args.minutes is None:
        cmd += ["--schedule", "step", "--decay-start", "4", "--lr-decay", "0.5", "--epochs", str(args.epochs)]
    else:
        cmd += ["--schedule", "cosine", "--minutes", str(args.minutes), "--log-every", "200"]
    train_wall = None if args.evaluate_only else run_train_lm(cmd)
    history = read_history(model)
    if train_wall is None:  # the training run's own epoch times
        train_wall = sum(h["seconds"] for h in history)
    import torch

    from lstmkit.tasks.text.language_model import evaluate_file

    torch.set_num_threads(args.threads)
    t1 = time.perf_counter()
    test = evaluate_file(model, args.data / "ptb.test.txt", bptt=35, batch_size=1)
    valid = evaluate_file(model, args.data / "ptb.valid.txt", bptt=35, batch_size=1)
    eval_wall = time.perf_counter() - t1
    protocol = (f"Zaremba {args.config}, tied" if args.minutes is None
                else f"2x{cfg['units']} dropout {cfg['dropout']} tied, time-boxed {args.minutes} min, cosine")
    write_curve(history, name, math.exp(test))
    print(f"RESULT ptb word ({protocol}): valid perplexity {math.exp(valid):.2f}, "
          f"test perplexity {math.exp(test):.2f} ({test:.4f} nats/word); training wall {train_wall / 60:.1f} min, "
          f"evaluation {eval_wall:.0f} s, threads {args.threads}, load average at end {os.getloadavg()}; "
          f"Zaremba's {args.config} test perplexity {REFERENCE[args.config]}: "
          f"{'matched or beaten' if math.exp(test) <= REFERENCE[args.config] else 'not reached'}")


if __name__ == "__main__":
    main()
