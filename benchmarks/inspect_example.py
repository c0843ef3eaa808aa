"""The example figures of ``docs/inspect.md``: a tiny real text classifier, inspected with ``lstmkit inspect``.

It trains a small LSTM ``TextClassifier`` (seeded, one torch thread) on a slice of the movie-review
polarity data (the first ``--reviews`` training reviews, cut at run time; nothing is copied into the
repository), reports its accuracy on the validation fold, saves it under ``runs/``, then runs
``lstmkit inspect`` on one sentence and writes ``docs/img/inspect_gates.png`` (the heatmap) and, when
Chromium is installed, ``docs/img/inspect_page.png`` (a screenshot of the HTML page)::

    .venv/bin/python benchmarks/inspect_example.py [--data DIR] [--reviews 1600] [--epochs 6] [--out runs/inspect]

Budget: about one minute on one thread (a few seconds of it is the inspection itself).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from lstmkit.inspect import inspect_to_dir
from lstmkit.tasks.text.classifier import TextClassifier

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "movie_review_polarity"
SENTENCE = ("the first half is dull and the jokes are tired , but then the film surprises you : "
            "the ending is moving , the acting is superb and i loved it")


def read_jsonl(path: Path, limit: int | None = None) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with path.open() as f:
        for line in f:
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(int(row["label"]))
            if limit is not None and len(texts) >= limit:
                break
    return texts, labels


def screenshot(page: Path, png: Path) -> bool:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not installed: no screenshot of the page (Debian: apt-get install -y chromium)")
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--window-size=1280,1250", f"--screenshot={png}",
                        page.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--reviews", type=int, default=1600, help="training reviews used (the first ones of train.jsonl)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "inspect")
    ap.add_argument("--img", type=Path, default=ROOT / "docs" / "img")
    args = ap.parse_args()
    torch.set_num_threads(1)
    texts, labels = read_jsonl(args.data / "train.jsonl", args.reviews)
    valid = read_jsonl(args.data / "valid.jsonl")
    t0 = time.perf_counter()
    clf = TextClassifier(units=32, embedding_dim=32, max_length=200, max_tokens=8000, epochs=args.epochs, batch_size=32,
                         learning_rate=3e-3, seed=0, threads=1,
                         # the recipe of docs/inspect.md's figures (before the data-aware defaults of issue 16)
                         pooling="last", bidirectional=False, dropout=0.0, embedding_dropout=0.0, min_count=1,
                         valid_fraction=0)
    clf.fit(texts, labels)
    print(f"trained on {len(texts)} reviews ({sum(labels)} positive) in {time.perf_counter() - t0:.1f} s; "
          f"validation accuracy {clf.score(*valid):.4f} on {len(valid[0])} reviews")
    model = clf.save(args.out / "reviews.lstmkit")
    print(f"P(positive) of the example sentence: {clf.predict_proba([SENTENCE])[0][clf.classes_.index(1)]:.3f}")
    t0 = time.perf_counter()
    result = inspect_to_dir(model, SENTENCE, args.out, top=8)
    print(f"inspected in {time.perf_counter() - t0:.1f} s: units {result.units} ({result.rule})")
    args.img.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.png, args.img / "inspect_gates.png")
    print(f"wrote {args.img / 'inspect_gates.png'}")
    if screenshot(result.html, args.img / "inspect_page.png"):
        print(f"wrote {args.img / 'inspect_page.png'}")


if __name__ == "__main__":
    main()
