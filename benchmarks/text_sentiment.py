"""Text classification on the movie review polarity data: LSTM variants against SimpleRNN and TF-IDF + LR.

With several ``--seeds`` each model is also reported as the mean (± std) over seeds and as an
ensemble (argmax of the seeds' averaged probabilities). Every model is trained on train.jsonl (1600 reviews), early-stopped on valid.jsonl (200, validation
accuracy, patience 2) and scored once on test.jsonl (200), all in this one run, on one torch thread::

    .venv/bin/python benchmarks/text_sentiment.py [--data DIR] [--epochs 8] [--patience 2] [--clipnorm C] \
        [--max-length 400] [--seeds 0 1 2] [--models ...]

Each review keeps its last ``--max-length`` words (truncation "pre"); padding is masked.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from lstmkit.tasks.text.sentiment import resolve_data_dir
from lstmkit.tasks.text.classifier import TextClassifier, classification_report, read_dataset, tfidf_baseline

MODELS = {
    "LSTM": dict(),
    "BiLSTM": dict(bidirectional=True),
    "LSTM + attention": dict(attention=True),
    "LSTM + mean pooling": dict(pooling="mean"),
    "LSTM + max pooling": dict(pooling="max"),
    "SimpleRNN": dict(cell="simple_rnn"),
    "LSTM + LM pre-training": dict(pretrain_epochs=None),  # None: --pretrain-epochs
    "BiLSTM + LM pre-training": dict(bidirectional=True, pretrain_epochs=None),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=400)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--clipnorm", type=float, default=None, help="clip the global gradient norm (TextClassifier global_clipnorm)")
    ap.add_argument("--pretrain-epochs", type=int, default=4, help="language-model pre-training epochs (pre-trained models)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    d = resolve_data_dir(args.data)
    train, valid, test = (read_dataset(d / f"{s}.jsonl") for s in ("train", "valid", "test"))
    print(f"data: {d} (train {len(train)}, valid {len(valid)}, test {len(test)}); max_length {args.max_length}, "
          f"epochs <= {args.epochs}, patience {args.patience}, clipnorm {args.clipnorm}, seeds {args.seeds}, torch threads 1")
    rows = []
    start = t0 = time.perf_counter()
    pred = tfidf_baseline(train.texts, train.labels, test.texts)
    rep = classification_report(test.labels, pred, sorted(set(train.labels)))
    rows.append(("TF-IDF + LR", rep.accuracy, rep.macro_f1, "-", time.perf_counter() - t0))
    print(f"{'TF-IDF + LR':<18} test acc {rep.accuracy:.4f}", flush=True)
    for name in args.models:
        probs = []
        accs = []
        for seed in args.seeds:
            params = {k: (args.pretrain_epochs if v is None else v) for k, v in MODELS[name].items()}
            clf = TextClassifier(max_length=args.max_length, epochs=args.epochs, patience=args.patience, seed=seed,
                                 global_clipnorm=args.clipnorm, threads=1, verbose=int("pretrain_epochs" in params), **params)
            t0 = time.perf_counter()
            clf.fit(train.texts, train.labels, valid=(valid.texts, valid.labels))
            secs = time.perf_counter() - t0
            p = clf.predict_proba(test.texts)
            probs.append(p)
            rep = classification_report(test.labels, [clf.classes_[i] for i in p.argmax(1)], clf.classes_)
            accs.append(rep.accuracy)
            label = name if len(args.seeds) == 1 else f"{name} (seed {seed})"
            rows.append((label, rep.accuracy, rep.macro_f1, f"{clf.best_epoch_}/{len(clf.history_['loss'])}", secs))
            print(f"{label:<24} test acc {rep.accuracy:.4f}  best epoch {clf.best_epoch_}, {secs:.0f} s", flush=True)
        if len(args.seeds) > 1:
            mean = sum(accs) / len(accs)
            std = (sum((a - mean) ** 2 for a in accs) / (len(accs) - 1)) ** 0.5
            rows.append((f"{name}: mean of {len(accs)} seeds", mean, float("nan"), f"± {std:.4f}", float("nan")))
            avg = sum(probs) / len(probs)
            rep = classification_report(test.labels, [clf.classes_[i] for i in avg.argmax(1)], clf.classes_)
            rows.append((f"{name}: {len(accs)}-seed ensemble", rep.accuracy, rep.macro_f1, "-", float("nan")))
            print(f"{name}: mean {mean:.4f} ± {std:.4f}, ensemble {rep.accuracy:.4f}", flush=True)

    print()
    print(f"| {'model':<30} | test accuracy | macro-F1 | best/run epochs | seconds |")
    print(f"|{'-' * 32}|---------------|----------|-----------------|---------|")
    for label, acc, f1, ep, secs in rows:
        f1s = "" if f1 != f1 else f"{f1:.4f}"
        ss = "" if secs != secs else f"{secs:.0f}"
        print(f"| {label:<30} | {acc:13.4f} | {f1s:>8} | {ep:>15} | {ss:>7} |")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
