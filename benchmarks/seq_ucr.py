"""SequenceClassifier with defaults only against 1-NN Euclidean on sktime's bundled UCR / UEA sets.

Suite sets (used to choose the defaults of docs/sequence-classification.md): BasicMotions (UEA, 6
channels, 40 train series), JapaneseVowels (UEA, 12 channels, variable length 7-29), ACSF1 (UCR,
length 1,460, 100 train series) and PLAID (UCR, variable length 100-1,344). Held-out sets (never
used to choose anything; reported separately): ArrowHead, GunPoint, ItalyPowerDemand, OSULeaf.
Every set uses its archive's own train / test split.

For each set: ``SequenceClassifier(verbose=False).fit(train)`` (every setting at its default; the
choices it made are printed), its test accuracy, the 1-NN Euclidean baseline's
(:func:`lstmkit.tasks.sequences.baselines.one_nn_euclidean`), the published LSTM-FCN figure where one
was found (:data:`PUBLISHED`, with its source) and the training seconds (one torch thread by default;
seconds on a shared machine are indicative only)::

    .venv/bin/python benchmarks/seq_ucr.py                          # the four suite sets
    .venv/bin/python benchmarks/seq_ucr.py --sets BasicMotions ACSF1
    .venv/bin/python benchmarks/seq_ucr.py --held-out               # the four held-out sets

``load_set(name)`` and :data:`PUBLISHED` are what benchmarks/suite.py imports.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SUITE = ("BasicMotions", "JapaneseVowels", "ACSF1", "PLAID")
HELD_OUT = ("ArrowHead", "GunPoint", "ItalyPowerDemand", "OSULeaf")

_LOADERS = {
    "BasicMotions": "load_basic_motions", "JapaneseVowels": "load_japanese_vowels", "ACSF1": "load_acsf1",
    "PLAID": "load_plaid", "ArrowHead": "load_arrow_head", "GunPoint": "load_gunpoint",
    "ItalyPowerDemand": "load_italy_power_demand", "OSULeaf": "load_osuleaf",
}

_KARIM_CSV = ("Karim et al. 2018 (LSTM-FCN, IEEE Access 6:1662), model kept at the minimum training loss: "
              "github.com/titu1994/LSTM-FCN, Results/train_loss_old_datasets.csv")
_NOT_FOUND = ("not found: the set is not in the 85-set archive of the LSTM-FCN paper, and no table with it "
              "could be read here (see docs/sequence-classification.md)")

#: Published LSTM-FCN test accuracy per set: ``accuracy`` (None when no figure was found), ``source``.
PUBLISHED: dict[str, dict[str, Any]] = {
    "BasicMotions": {"accuracy": None, "source": _NOT_FOUND.replace("85-set archive of the LSTM-FCN paper",
                                                                     "LSTM-FCN paper (univariate only)")},
    "JapaneseVowels": {"accuracy": None, "source": _NOT_FOUND.replace("85-set archive of the LSTM-FCN paper",
                                                                       "LSTM-FCN paper (univariate only)")},
    "ACSF1": {"accuracy": None, "source": _NOT_FOUND},
    "PLAID": {"accuracy": None, "source": _NOT_FOUND},
    "ArrowHead": {"accuracy": 0.89714, "source": _KARIM_CSV},
    "GunPoint": {"accuracy": 1.0, "source": _KARIM_CSV},
    "ItalyPowerDemand": {"accuracy": 0.9621, "source": _KARIM_CSV},
    "OSULeaf": {"accuracy": 0.98347, "source": _KARIM_CSV},
}


def load_set(name: str) -> tuple[list[np.ndarray], list[str], list[np.ndarray], list[str]]:
    """``(train_X, train_y, test_X, test_y)``: lists of ``(T_i, F)`` float32 arrays and string labels,
    from sktime's bundled copy (its own train / test split)."""
    if name not in _LOADERS:
        raise SystemExit(f"unknown set {name!r}; known: {', '.join(_LOADERS)}")
    import sktime.datasets as datasets

    loader = getattr(datasets, _LOADERS[name])
    out: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for split in ("train", "test"):
            X, y = loader(split=split, return_X_y=True)  # nested DataFrame: one cell per (case, channel)
            series = []
            for i in range(len(X)):
                channels = [np.asarray(X.iloc[i, j], dtype=np.float32) for j in range(X.shape[1])]
                series.append(np.stack(channels, axis=1))
            out += [series, [str(v) for v in np.asarray(y).tolist()]]
    return out[0], out[1], out[2], out[3]


def cpu_name() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    for line in text.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def run(name: str, threads: int) -> dict[str, Any]:
    from lstmkit.tasks.sequences.baselines import one_nn_euclidean
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    train_X, train_y, test_X, test_y = load_set(name)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SequenceClassifier(verbose=False, threads=threads).fit(train_X, train_y)
    seconds = time.perf_counter() - start
    acc = float(np.mean(np.asarray(clf.predict(test_X), dtype=object) == np.asarray(test_y, dtype=object)))
    nn = one_nn_euclidean(train_X, train_y, test_X)
    nn_acc = float(np.mean(np.asarray(nn, dtype=object) == np.asarray(test_y, dtype=object)))
    _, counts = np.unique(test_y, return_counts=True)
    s = clf.settings_
    return {
        "set": name, "train": len(train_X), "test": len(test_X), "accuracy": acc, "one_nn": nn_acc,
        "chance": float(counts.max() / counts.sum()), "published": PUBLISHED[name]["accuracy"], "seconds": seconds,
        "settings": (f"normalize={s['normalize']} downsample={s['downsample']} batch={s['batch_size']} "
                     f"epochs={s['epochs']} ensemble={s['ensemble']} selection={s['selection']}"),
        "warnings": [str(w.message) for w in caught if "LstmkitWarning" in type(w.message).__name__],
    }


def table(rows: list[dict[str, Any]], title: str) -> str:
    lines = [f"### {title}", "",
             "| set | train / test | lstmkit (defaults) | 1-NN Euclidean | chance | published LSTM-FCN | train s | settings chosen |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        pub = "not found" if r["published"] is None else f"{r['published']:.4f}"
        lines.append(f"| {r['set']} | {r['train']} / {r['test']} | {r['accuracy']:.4f} | {r['one_nn']:.4f} | "
                     f"{r['chance']:.3f} | {pub} | {r['seconds']:.0f} | {r['settings']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=None, help=f"sets to run (default: {', '.join(SUITE)})")
    parser.add_argument("--held-out", action="store_true", help=f"run the held-out sets ({', '.join(HELD_OUT)})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    names = args.sets or (list(HELD_OUT) if args.held_out else list(SUITE))
    print(f"CPU: {cpu_name()}; torch threads: {args.threads}", flush=True)
    suite, held = [], []
    for name in names:
        r = run(name, args.threads)
        (held if name in HELD_OUT else suite).append(r)
        pub = "not found" if r["published"] is None else f"{r['published']:.4f}"
        print(f"{name}: lstmkit {r['accuracy']:.4f}, 1-NN Euclidean {r['one_nn']:.4f}, published LSTM-FCN {pub}, "
              f"trained in {r['seconds']:.0f} s ({r['settings']})", flush=True)
        for w in r["warnings"]:
            print(f"  warning: {w}", flush=True)
    if suite:
        print("\n" + table(suite, "Suite sets (used to choose the defaults)"))
    if held:
        print("\n" + table(held, "Held-out sets (never used to choose anything)"))
    sources = {PUBLISHED[r["set"]]["source"] for r in suite + held}
    print("\nPublished figures: " + " | ".join(sorted(sources)))


if __name__ == "__main__":
    main()
