"""ETTh1 / ETTh2 long-horizon benchmark: lstmkit's LSTM forecaster against DLinear, naive and seasonal naive.

The standard protocol (Informer / Autoformer / DLinear code): rows [0, 8640) train, [8640, 11520)
validation, [11520, 14400) test (12/4/4 months of hours; validation and test windows read their
context from the rows before); every one of the 7 columns is both input and output; z-scores with the
training rows' statistics; context 336; MSE and MAE on the z-scores, averaged over every test window
(stride 1), step and channel (``--targets OT``: the univariate setting, OT alone). All models are trained and scored in this one process, one torch thread::

    .venv/bin/python benchmarks/forecast_ett.py [--datasets ETTh1 ETTh2] [--horizons 96 192 336 720]
        [--epochs 10] [--units 256] [--segment 48] [--loss mae] [--dropout 0.5] [--instance-norm last] [--seed 0]
        [--targets OT] [--intervals quantile] [--plot PNG]

The LSTM (``lstmkit.tasks.timeseries.forecaster.Forecaster``) trains with Adam (cosine decay), early stopping on
the validation MSE; the DLinear baseline (``lstmkit.tasks.timeseries.baselines``) with its own recipe
(Adam 5e-3 halved per epoch, batch 32, early stopping). Published test MSE at horizon 96 on ETTh1:
DLinear 0.375, PatchTST 0.370, SegRNN 0.341 (context 720).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit.data.timeseries import gather_windows, read_series, split_borders, window_starts
from lstmkit.tasks.timeseries.baselines import baseline_table
from lstmkit.tasks.timeseries.forecaster import Forecaster

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ett"
CONTEXT = 336
SEASON = 24  # hourly data: daily season (seasonal naive, MASE, ETS)


def _windows(z: np.ndarray, rows: tuple[int, int], horizon: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = rows
    return gather_windows(z[a:b], window_starts(b - a, CONTEXT, horizon), CONTEXT, horizon)


def run_one(name: str, horizon: int, args: argparse.Namespace) -> list[dict]:
    df = read_series(args.data / f"{name}.csv", time_col="date", columns=args.targets)
    borders = split_borders(len(df), context=CONTEXT, horizon=horizon, scheme="ett")
    fc = Forecaster(
        CONTEXT, horizon, segment=args.segment, units=args.units, layers=args.layers, dropout=args.dropout,
        instance_norm=args.instance_norm, head=args.head, loss=args.loss, intervals=args.intervals, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, patience=args.patience, stride=args.stride, seed=args.seed,
        threads=1, verbose=1, method="lstm",  # this benchmark measures the LSTM (method="auto" may choose ETS)
    )
    t0 = time.perf_counter()
    fc.fit(df, valid="ett")
    fit_s = time.perf_counter() - t0
    test_start, test_end = borders["test"][0] + CONTEXT, borders["test"][1]
    bt = fc.backtest(df.iloc[:test_end], start=test_start, stride=1, baselines=False, scale="standardized")
    lstm_s = time.perf_counter() - t0
    note = f"best epoch {fc.best_epoch_}/{len(fc.history_['loss'])}, valid MSE {fc.valid_mse_:.4f}, fit {fit_s:.0f} s"
    if args.intervals:
        note += f", {fc.level:.0%} interval coverage {bt.metrics.loc[0, 'coverage']:.3f}"
    rows = [{"dataset": name, "horizon": horizon, "model": "LSTM", "mse": bt.metrics.loc[0, "mse"],
             "mae": bt.metrics.loc[0, "mae"], "seconds": lstm_s, "windows": bt.windows, "note": note}]
    if args.plot is not None and (name, horizon) == (args.datasets[0], args.horizons[0]):
        plot_window(df, fc, test_end - horizon - 24 * 7 * 4, args.plot)
    z = fc.scaler_.transform(df.to_numpy())  # the same training-row statistics for every model
    test_x, test_y = _windows(z, borders["test"], horizon)
    assert len(test_x) == bt.windows
    if not args.no_baselines:
        t0 = time.perf_counter()
        train = z[slice(*borders["train"])]
        table = baseline_table(train, z[slice(*borders["valid"])], test_x, test_y, horizon, SEASON, train,
                               dlinear=True, ets=None, seed=args.seed, threads=1)
        for r in table:
            rows.append({"dataset": name, "horizon": horizon, "model": r["model"], "mse": r["mse"], "mae": r["mae"],
                         "seconds": r["seconds"], "windows": len(test_x), "note": ""})
        print(f"  baselines: {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def plot_window(df, fc: Forecaster, origin: int, path: Path, column: str = "OT") -> None:
    """One test forecast of ``column`` from row ``origin`` (the last week of context, actuals, forecast, interval)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = fc.predict(df.iloc[:origin])
    past = df[column].iloc[origin - 24 * 7 : origin]
    actual = df[column].iloc[origin : origin + fc.horizon]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(past.index, past, color="black", lw=1, label="history")
    ax.plot(actual.index, actual, color="black", lw=1, ls="--", label="actual")
    ax.plot(out.index, out[column], color="tab:blue", lw=1.5, label="LSTM forecast")
    if f"{column}_lower" in out:
        ax.fill_between(out.index, out[f"{column}_lower"], out[f"{column}_upper"], color="tab:blue", alpha=0.2,
                        label=f"{fc.level:.0%} interval")
    ax.set_title(f"{column}: {fc.horizon}-hour forecast from {df.index[origin - 1]:%Y-%m-%d %H:%M} (test split)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"  plot: {path}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--datasets", nargs="+", default=["ETTh1", "ETTh2"])
    ap.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--segment", type=int, default=48)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--instance-norm", default="last")
    ap.add_argument("--head", default="direct")
    ap.add_argument("--loss", default="mae")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--stride", type=int, default=1, help="between training windows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", nargs="+", default=None, help="columns read and forecast (default: all 7)")
    ap.add_argument("--intervals", default=None, choices=["quantile", "gaussian"])
    ap.add_argument("--plot", type=Path, default=None, help="PNG of one ETTh1 OT test forecast (first dataset/horizon)")
    ap.add_argument("--no-baselines", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"ETT benchmark: context {CONTEXT}, {vars(args)}, torch threads 1", flush=True)
    start = time.perf_counter()
    rows = []
    for name in args.datasets:
        for horizon in args.horizons:
            print(f"{name} horizon {horizon}:", flush=True)
            rows += run_one(name, horizon, args)
            print(f"  done, {time.perf_counter() - start:.0f} s in all", flush=True)
    print()
    print(f"{'dataset':8} {'H':>4} {'model':26} {'MSE':>7} {'MAE':>7} {'MSE/DLinear':>11} {'seconds':>8}  note")
    for r in rows:
        ref = [q["mse"] for q in rows if q["dataset"] == r["dataset"] and q["horizon"] == r["horizon"] and q["model"] == "DLinear"]
        ratio = f"{r['mse'] / ref[0]:.3f}" if ref else "-"
        print(f"{r['dataset']:8} {r['horizon']:>4} {r['model']:26} {r['mse']:7.4f} {r['mae']:7.4f} {ratio:>11} "
              f"{r['seconds']:8.1f}  {r['note']}")
    print(f"total {time.perf_counter() - start:.0f} s; seed {args.seed}; command: {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
