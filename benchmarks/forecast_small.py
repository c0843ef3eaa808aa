"""Short public series, defaults only: lstmkit's Forecaster beside seasonal naive, naive and ETS on a holdout.

Every series is forecast once from the end of its training rows by ``Forecaster(verbose=False)``
(every size chosen from the data, ``method="auto"``) through
:func:`lstmkit.tasks.timeseries.holdout.evaluate_holdout`, holding out the default horizon (the M4
horizon of the frequency, at most a fifth of the rows). Development series (the defaults were
chosen looking at these):

* sktime ``load_uschange()``: US consumption growth, quarterly 1970Q1-2016Q3 (187 rows; the loader
  gives row numbers, here a quarterly index); target ``Consumption``, the other columns ignored;
* sktime ``load_longley()``: ``TOTEMP``, yearly 1947-1962 (16 rows);
* sktime's bundled ``seatbelts.csv`` (no loader; the UK road casualties of R's ``Seatbelts``):
  ``KSI`` (killed or seriously injured), monthly 1969-1984 (192 rows); the ``label`` column (the
  seatbelt law) is ignored;
* statsmodels ``sunspots`` (``SUNACTIVITY``, yearly 1700-2008, 309 rows), ``nile`` (``volume``,
  yearly 1871-1970, 100 rows) and ``co2`` (Mauna Loa, weekly with gaps, resampled to monthly means
  with the missing months interpolated: 1958-03..2001-12, 526 rows).

Held out (never looked at while choosing the defaults): sktime ``load_airline``, ``load_lynx``,
``load_shampoo_sales`` and /work/shared/data/air_passengers (the last 24 months, as in
``benchmarks/forecast_air_passengers.py``).

One torch thread, seed 0::

    .venv/bin/python benchmarks/forecast_small.py [--only nile co2] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit.tasks.timeseries.holdout import evaluate_holdout

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _yearly(values: np.ndarray, first: int, name: str) -> pd.DataFrame:
    index = pd.period_range(str(first), periods=len(values), freq="Y").to_timestamp(how="start")
    return pd.DataFrame({name: np.asarray(values, dtype=np.float64)}, index=index)


def load(name: str) -> tuple[pd.DataFrame, str, int | None]:
    """``(frame, target, holdout or None for the default)`` of one benchmark series."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    if name == "uschange":
        from sktime.datasets import load_uschange

        y, _ = load_uschange()
        index = pd.period_range("1970Q1", periods=len(y), freq="Q").to_timestamp(how="start")
        return pd.DataFrame({"Consumption": y.to_numpy(dtype=np.float64)}, index=index), "Consumption", None
    if name == "longley":
        from sktime.datasets import load_longley

        y, _ = load_longley()
        return y.to_frame(), "TOTEMP", None  # PeriodIndex: evaluate_holdout converts it
    if name == "seatbelts":
        import sktime

        path = Path(sktime.__file__).parent / "datasets" / "data" / "seatbelts" / "seatbelts.csv"
        frame = pd.read_csv(path, index_col=0, parse_dates=True)
        return frame[["KSI"]].astype(np.float64), "KSI", None
    if name in ("sunspots", "nile", "co2"):
        import statsmodels.api as sm

        if name == "sunspots":
            d = sm.datasets.sunspots.load_pandas().data
            return _yearly(d["SUNACTIVITY"].to_numpy(), 1700, "SUNACTIVITY"), "SUNACTIVITY", None
        if name == "nile":
            d = sm.datasets.nile.load_pandas().data
            return _yearly(d["volume"].to_numpy(), 1871, "volume"), "volume", None
        d = sm.datasets.co2.load_pandas().data
        monthly = d.resample("MS").mean().interpolate()
        return monthly, "co2", None
    if name in ("airline", "lynx", "shampoo"):
        from sktime.datasets import load_airline, load_lynx, load_shampoo_sales

        y = {"airline": load_airline, "lynx": load_lynx, "shampoo": load_shampoo_sales}[name]()
        return y.rename(name).to_frame(), name, None
    if name == "air_passengers":
        from lstmkit.data.timeseries import read_series

        return read_series(SHARED / "air_passengers" / "airline-passengers.csv", time_col="Month"), "Passengers", 24
    raise KeyError(name)


DEVELOPMENT = ["uschange", "longley", "seatbelts", "sunspots", "nile", "co2"]
HELD_OUT = ["airline", "lynx", "shampoo", "air_passengers"]


def run(name: str, seed: int) -> dict:
    frame, target, holdout = load(name)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate_holdout(frame, holdout=holdout, target=target, verbose=False, seed=seed)
    seconds = time.perf_counter() - t0
    rows = {r["model"]: r for _, r in report.metrics.iterrows()}
    lk = next(r for k, r in rows.items() if k.startswith("lstmkit"))
    base = {k: rows[k] for k in ("seasonal naive", "naive", "ETS") if k in rows}
    return {"name": name, "rows": len(frame), "h": report.holdout, "m": report.season, "chosen": report.chosen,
            "lstmkit": lk, "LSTM": rows.get("LSTM"), "base": base, "seconds": seconds,
            "validation": report.validation}


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown"
    for line in out.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def table(results: list[dict], title: str) -> None:
    print(f"\n{title}")
    head = (f"{'series':15} {'rows':>5} {'h':>3} {'m':>3} {'chosen':15} | {'lstmkit MASE':>12} {'sNaive':>8} {'naive':>8} "
            f"{'ETS':>8} {'LSTM':>8} | {'MAE':>9} {'RMSE':>9} {'MAPE':>7} {'sMAPE':>7} | {'ETS MAE':>9} {'sN MAE':>9}")
    print(head)
    for r in results:
        lk, b = r["lstmkit"], r["base"]
        sn = b.get("seasonal naive", b["naive"])

        def m(row):
            return f"{row['mase']:8.3f}" if row is not None else f"{'-':>8}"

        print(f"{r['name']:15} {r['rows']:5d} {r['h']:3d} {r['m']:3d} {r['chosen']:15} | {lk['mase']:12.3f} "
              f"{m(b.get('seasonal naive'))} {m(b['naive'])} {m(b['ETS'])} {m(r['LSTM'])} | {lk['mae']:9.4g} "
              f"{lk['rmse']:9.4g} {lk['mape']:7.2f} {lk['smape']:7.2f} | {b['ETS']['mae']:9.4g} {sn['mae']:9.4g}")
    wins = sum(r["lstmkit"]["mase"] <= min(r["base"][k]["mase"] for k in ("seasonal naive", "naive") if k in r["base"]) + 1e-12
               for r in results)
    ets = sum(r["lstmkit"]["mase"] <= r["base"]["ETS"]["mase"] + 1e-12 for r in results)
    print(f"lstmkit at or below the (seasonal) naive MASE on {wins}/{len(results)}, at or below ETS on {ets}/{len(results)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", default=None, help="run only these series")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    print(f"CPU: {_cpu()}; torch threads 1; defaults only (Forecaster(verbose=False)); seeds {args.seeds}")
    for title, names in (("development series", DEVELOPMENT), ("held-out series (never tuned on)", HELD_OUT)):
        names = [n for n in names if args.only is None or n in args.only]
        if not names:
            continue
        for seed in args.seeds:
            results = []
            for name in names:
                r = run(name, seed)
                results.append(r)
                val = ", ".join(f"{k} {v:.3f}" for k, v in sorted((r["validation"] or {}).items(), key=lambda kv: kv[1]))
                print(f"  {name}: chose {r['chosen']} ({r['seconds']:.1f} s); validation MASE: {val}", flush=True)
            table(results, f"{title}, seed {seed}: holdout MASE (lower is better) and lstmkit's other metrics")


if __name__ == "__main__":
    main()
