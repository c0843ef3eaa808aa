"""Text classification on the movie review polarity data: LSTM variants against SimpleRNN and TF-IDF + LR.

With several ``--seeds`` each model is also reported as the mean (± std) over seeds and as an
ensemble (argmax of the seeds' averaged probabilities). Every model is trained on train.jsonl (1600
reviews), early-stopped on valid.jsonl (200, validation accuracy) and scored once on test.jsonl (200),
all in this one run, on one torch thread::

    .venv/bin/python benchmarks/text_sentiment.py [--data DIR] [--epochs N] [--patience N] [--clipnorm C] \
        [--max-length N] [--seeds 0 1 2] [--models ...]

The first models (LSTM ... SimpleRNN, LM pre-training) keep the settings of the earlier runs in
docs/text.md: the last 400 words of each review, at most 8 epochs, patience 2, no dropout. The recipe
that reaches the 0.85 target, ``BiLSTM + mean pooling (recipe)``, is written out in ``MODELS`` (it is
also what TextClassifier's defaults choose on this data); ``TextClassifier defaults`` is
``TextClassifier()`` with nothing set (it chooses the architecture on the validation file itself).
``--epochs``, ``--patience``, ``--max-length`` override every model's own setting when given.
Padding is masked and batches group reviews of similar length.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from lstmkit.tasks.text.sentiment import resolve_data_dir
from lstmkit.tasks.text.classifier import TextClassifier, classification_report, read_dataset, tfidf_baseline

#: The settings of runs 1-5 in docs/text.md (before the data-aware defaults): the last 400 words, 8 epochs,
#: patience 2, a 128-wide embedding of every training word, no dropout.
EARLIER = dict(max_length=400, epochs=8, patience=2, pooling="last", bidirectional=False, embedding_dim=128,
               dropout=0.0, embedding_dropout=0.0, min_count=1)

MODELS = {
    "LSTM": dict(EARLIER),
    "BiLSTM": dict(EARLIER, bidirectional=True),
    "LSTM + attention": dict(EARLIER, attention=True, pooling=None),
    "LSTM + mean pooling": dict(EARLIER, pooling="mean"),
    "LSTM + max pooling": dict(EARLIER, pooling="max"),
    "SimpleRNN": dict(EARLIER, cell="simple_rnn"),
    "LSTM + LM pre-training": dict(EARLIER, pretrain_epochs=None),  # None: --pretrain-epochs
    "BiLSTM + LM pre-training": dict(EARLIER, bidirectional=True, pretrain_epochs=None),
    # Run 6 (docs/text.md): a bidirectional LSTM over the last 1,024 words (most of each review), mean over the
    # real steps, dropout 0.5 on the embedding features (one mask per review) and before the classifier, a
    # 64-wide embedding of the words seen at least twice; epochs (10) and patience (3) from the data.
    "BiLSTM + mean pooling (recipe)": dict(pooling="mean", bidirectional=True, max_length=1024, embedding_dim=64,
                                           embedding_dropout=0.5, dropout=0.5, min_count=2),
    "TextClassifier defaults": dict(),
}
RECIPE = "BiLSTM + mean pooling (recipe)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--epochs", type=int, default=None, help="every model's maximum epochs (default: the model's own)")
    ap.add_argument("--patience", type=int, default=None, help="every model's patience (default: the model's own)")
    ap.add_argument("--max-length", type=int, default=None, help="every model's max_length (default: the model's own)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--clipnorm", type=float, default=None, help="clip the global gradient norm (TextClassifier global_clipnorm)")
    ap.add_argument("--pretrain-epochs", type=int, default=4, help="language-model pre-training epochs (pre-trained models)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    d = resolve_data_dir(args.data)
    train, valid, test = (read_dataset(d / f"{s}.jsonl") for s in ("train", "valid", "test"))
    print(f"data: {d} (train {len(train)}, valid {len(valid)}, test {len(test)}); overrides: max_length {args.max_length}, "
          f"epochs {args.epochs}, patience {args.patience}, clipnorm {args.clipnorm}; seeds {args.seeds}, torch threads 1")
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
            params = {k: (args.pretrain_epochs if k == "pretrain_epochs" and v is None else v)
                      for k, v in MODELS[name].items()}
            for key in ("max_length", "epochs", "patience"):
                if getattr(args, key) is not None:
                    params[key] = getattr(args, key)
            clf = TextClassifier(seed=seed, clip_norm=args.clipnorm, threads=1, verbose=False, **params)
            t0 = time.perf_counter()
            clf.fit(train.texts, train.labels, valid=(valid.texts, valid.labels))
            secs = time.perf_counter() - t0
            p = clf.predict_proba(test.texts)
            probs.append(p)
            rep = classification_report(test.labels, [clf.classes_[i] for i in p.argmax(1)], clf.classes_)
            accs.append(rep.accuracy)
            label = name if len(args.seeds) == 1 else f"{name} (seed {seed})"
            rows.append((label, rep.accuracy, rep.macro_f1, f"{clf.best_epoch_}/{len(clf.history_['loss'])}", secs))
            val = clf.history_["val_accuracy"][clf.best_epoch_ - 1]
            print(f"{label:<24} test acc {rep.accuracy:.4f}  valid acc {val:.4f}  best epoch {clf.best_epoch_}, {secs:.0f} s"
                  f"  ({clf.describe_fit()})", flush=True)
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
