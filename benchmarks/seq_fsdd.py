"""Free Spoken Digit Dataset: SimpleRNN, GRU and LSTM side by side on the official split, one process.

The 3,000 recordings (8 kHz, ``{digit}_{speaker}_{index}.wav``) are featurised once (MFCCs, cached in
memory for every model); the official split puts index 0-4 in test (300 files) and 5-49 in training
(2,700), of which 10% (stratified, seeded) are held out for early stopping. Every recurrent model has the
same features, the same units, layers, pooling and training settings; only the cell differs, so the
parameter counts differ (printed). A non-recurrent baseline (logistic regression on each recording's
per-coefficient MFCC mean and standard deviation) is scored too. One torch thread::

    .venv/bin/python benchmarks/seq_fsdd.py [--data DIR] [--epochs 40] [--units 64] [--seeds 0]
        [--png docs/img/seq_fsdd_confusion.png]

Target: LSTM test accuracy >= 0.97. Budget: about 10 minutes on one thread for the three cells.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit.data.audio import AudioFeatures
from lstmkit.data.sequences import read_audio
from lstmkit.tasks.sequences.classifier import SequenceClassifier
from lstmkit.tasks.text.classifier import classification_report

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"
TEST_PATTERN = r"_[0-4]\.wav$"
CELLS = {"SimpleRNN": "rnn", "GRU": "gru", "LSTM": "lstm"}


def pooled_stats_baseline(train, test, seed: int) -> list:
    """Logistic regression on [mean, std] over frames of each (standardised) MFCC sequence."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def stats(seqs):
        return np.stack([np.concatenate([s.mean(0), s.std(0)]) for s in seqs])

    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000, random_state=seed))
    pipe.fit(stats(train.sequences), train.labels)
    return list(pipe.predict(stats(test.sequences)))


def save_confusion_png(report, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=120)
    cm = report.confusion
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(report.labels)), report.labels)
    ax.set_yticks(range(len(report.labels)), report.labels)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title, fontsize=10)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--units", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--bidirectional", action="store_true")
    ap.add_argument("--pooling", default="mean", choices=["last", "mean", "attention"])
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--learning-rate", type=float, default=0.003)
    ap.add_argument("--n-mfcc", type=int, default=13)
    ap.add_argument("--deltas", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    ap.add_argument("--png", type=Path, default=None, help="write the LSTM's test confusion matrix (first seed) here")
    args = ap.parse_args()
    torch.set_num_threads(1)

    start = time.perf_counter()
    t0 = time.perf_counter()
    data = read_audio(args.data, AudioFeatures(n_mfcc=args.n_mfcc, deltas=args.deltas))
    feat_secs = time.perf_counter() - t0
    test, train = data.split(TEST_PATTERN)
    lengths = np.array([len(s) for s in data.sequences])
    print(f"data: {args.data}: {len(data)} files featurised in {feat_secs:.1f} s ({data.audio.n_features} features: "
          f"{data.audio.n_mfcc} MFCCs + {data.audio.deltas} delta orders, {data.audio.hop_ms:g} ms hop, "
          f"{data.audio.sample_rate} Hz); frames per file min {lengths.min()}, mean {lengths.mean():.0f}, max {lengths.max()}")
    print(f"split: train {len(train)} (10% of it held out for early stopping), test {len(test)} "
          f"(names matching {TEST_PATTERN!r}); torch threads 1")
    print(f"models: {args.layers} layer(s) x {args.units} units{' bidirectional' if args.bidirectional else ''}, "
          f"pooling {args.pooling}, dropout {args.dropout}, Adam lr {args.learning_rate}, batch 32, "
          f"epochs <= {args.epochs}, patience {args.patience}, seeds {args.seeds}", flush=True)
    digits = sorted(set(train.labels), key=int)
    rows = []
    t0 = time.perf_counter()
    rep = classification_report(test.labels, pooled_stats_baseline(train, test, args.seeds[0]), digits)
    rows.append(("MFCC mean/std + LR", "-", rep.accuracy, rep.macro_f1, "-", time.perf_counter() - t0))
    print(f"{'MFCC mean/std + LR':<20} test acc {rep.accuracy:.4f}", flush=True)
    first_lstm = None
    accs: dict[str, list[float]] = {}
    for name in args.cells:
        for seed in args.seeds:
            clf = SequenceClassifier(
                model="lstm", cell=CELLS[name], units=args.units, layers=args.layers, bidirectional=args.bidirectional,
                pooling=args.pooling, dropout=args.dropout, learning_rate=args.learning_rate, epochs=args.epochs,
                patience=args.patience, seed=seed, threads=1, audio=data.audio,
            )
            clf.fit(train.sequences, train.labels)
            rep = classification_report(test.labels, clf.predict(test.sequences), digits)
            label = name if len(args.seeds) == 1 else f"{name} (seed {seed})"
            epochs = f"{clf.best_epoch_}/{len(clf.history_['loss'])}"
            rows.append((label, clf.count_params(), rep.accuracy, rep.macro_f1, epochs, clf.fit_seconds_))
            accs.setdefault(name, []).append(rep.accuracy)
            print(f"{label:<20} test acc {rep.accuracy:.4f}  macro-F1 {rep.macro_f1:.4f}  best epoch {epochs}, "
                  f"{clf.fit_seconds_:.0f} s", flush=True)
            if name == "LSTM" and seed == args.seeds[0]:
                first_lstm = (seed, rep)   # the figure shows the first seed, not the best one
    print()
    print("| model | parameters | test accuracy | macro-F1 | best epoch / run | fit seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, n_params, acc, f1, epochs, secs in rows:
        print(f"| {label} | {n_params} | {acc:.4f} | {f1:.4f} | {epochs} | {secs:.0f} |")
    if "LSTM" in accs:
        lstm = float(np.mean(accs["LSTM"]))
        for name, a in accs.items():
            errors = 1 - float(np.mean(a))
            spread = f" ± {np.std(a, ddof=1):.4f} (std)" if len(a) > 1 else ""
            print(f"{name}: mean test accuracy {np.mean(a):.4f}{spread} over {len(a)} seed(s); error rate {errors:.4f} "
                  f"= {errors / max(1e-9, 1 - lstm):.2f}x the LSTM's")
        worst = min(accs["LSTM"])
        print(f"target LSTM >= 0.97: {'met' if lstm >= 0.97 else 'NOT met'} (mean {lstm:.4f}, worst seed {worst:.4f})")
    if args.png is not None and first_lstm is not None:
        seed, rep = first_lstm
        save_confusion_png(rep, f"FSDD test (index 0-4), LSTM seed {seed}: accuracy {rep.accuracy:.3f}", args.png)
        print(f"confusion matrix: {args.png}")
    print(f"wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
