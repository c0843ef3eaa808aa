"""Forecast accuracy: MSE, RMSE, MAE, sMAPE, MAPE, MASE and interval coverage (numpy, any equal shapes).

Forecasts are usually ``(N, H, C)``: N windows, H steps ahead, C series. Every metric is the mean over
all entries (for MASE: per series, then the mean over series)::

    mse   = mean((y - ŷ)²)
    rmse  = sqrt(mse)
    mae   = mean(|y - ŷ|)
    smape = mean(200 · |y - ŷ| / (|y| + |ŷ|))          # M4 definition, 0..200; a 0/0 term counts 0
    mape  = mean(100 · |y - ŷ| / |y|)                   # NaN when some y = 0
    mase  = mean_c( mean(|y_c - ŷ_c|) / mean_t |x_c[t] - x_c[t - m]| )   # x = the training series, m = season
    coverage = mean(lower <= y <= upper)

MASE divides by the in-sample error of the seasonal-naive forecast on the *training* series, as in
the M4 competition (Hyndman & Koehler 2006), so a MASE below 1 beats that forecast's one-step
in-sample error. :func:`accuracy_row` gives the five numbers every holdout report prints: MAE, RMSE,
MAPE, sMAPE and MASE (with the season falling back to 1 when the training series is not longer than
one season).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.errors import InputValueError, ShapeError


def _pair(y_true: Any, y_pred: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ShapeError(f"{name}: y_true has shape {t.shape} but the forecast has shape {p.shape}")
    if t.size == 0:
        raise ShapeError(f"{name}: no values to score (shape {t.shape})")
    return t, p


def mse(y_true: Any, y_pred: Any) -> float:
    """Mean squared error."""
    t, p = _pair(y_true, y_pred, "mse")
    return float(np.mean((t - p) ** 2))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, ``sqrt(mse)``."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(t - p)))


def smape(y_true: Any, y_pred: Any) -> float:
    """Symmetric MAPE on the 0-200 scale (M4): mean of ``200 |y - ŷ| / (|y| + |ŷ|)``; 0/0 terms count 0."""
    t, p = _pair(y_true, y_pred, "smape")
    den = np.abs(t) + np.abs(p)
    terms = np.divide(200.0 * np.abs(t - p), den, out=np.zeros_like(den), where=den > 0)
    return float(np.mean(terms))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error, ``100 · mean(|y - ŷ| / |y|)``; NaN when some ``y`` is 0."""
    t, p = _pair(y_true, y_pred, "mape")
    if (t == 0).any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(t - p) / np.abs(t)))


def mase_scale(insample: Any, season: int = 1) -> np.ndarray:
    """Per-column ``mean_t |x[t] - x[t - season]|`` of the training series ``insample`` (T, C) or (T,)."""
    x = np.asarray(insample, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ShapeError(f"mase: expected the training series as (T, C) or (T,), found shape {x.shape}")
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise InputValueError(f"mase: season must be an integer >= 1; found {season!r}")
    if x.shape[0] <= season:
        raise InputValueError(f"mase: the training series has {x.shape[0]} rows; it needs more than season={season}")
    return np.mean(np.abs(x[season:] - x[:-season]), axis=0)


def mase(y_true: Any, y_pred: Any, insample: Any, season: int = 1) -> float:
    """Mean absolute scaled error: each column's MAE divided by :func:`mase_scale` of the training
    series, averaged over columns (the last axis of ``y_true``; a 1-D ``insample`` is one column).
    A column whose training series never changes gets ``inf`` (or NaN when its error is 0 too)."""
    t, p = _pair(y_true, y_pred, "mase")
    scale = mase_scale(insample, season)
    if np.ndim(insample) == 1:
        t, p = t[..., None], p[..., None]
    if t.shape[-1] != scale.shape[0]:
        raise ShapeError(
            f"mase: the forecast has {t.shape[-1]} columns (last axis) but the training series has {scale.shape[0]}"
        )
    err = np.mean(np.abs(t - p).reshape(-1, t.shape[-1]), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(err / scale))


def coverage(y_true: Any, lower: Any, upper: Any) -> float:
    """Fraction of ``y_true`` inside ``[lower, upper]`` (the empirical coverage of an interval)."""
    t, lo = _pair(y_true, lower, "coverage")
    _, hi = _pair(y_true, upper, "coverage")
    return float(np.mean((lo <= t) & (t <= hi)))


def metrics_row(y_true: Any, y_pred: Any, insample: Any, season: int = 1) -> dict[str, float]:
    """``{"mse", "mae", "smape", "mase"}`` of one forecast (the columns of every evaluation table)."""
    return {
        "mse": mse(y_true, y_pred),
        "mae": mae(y_true, y_pred),
        "smape": smape(y_true, y_pred),
        "mase": mase(y_true, y_pred, insample, season),
    }


def accuracy_row(y_true: Any, y_pred: Any, insample: Any, season: int = 1) -> dict[str, float]:
    """``{"mae", "rmse", "mape", "smape", "mase"}`` of one forecast (the columns of a holdout report).

    MASE scales by the seasonal-naive in-sample MAE of ``insample`` with ``season``, or with 1 when
    ``insample`` has no more than ``season`` rows (Hyndman & Koehler 2006)."""
    rows = np.asarray(insample).shape[0] if np.ndim(insample) else 0
    m = season if rows > season else 1
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "mape": mape(y_true, y_pred),
        "smape": smape(y_true, y_pred),
        "mase": mase(y_true, y_pred, insample, m),
    }


__all__ = ["mse", "rmse", "mae", "smape", "mape", "mase", "mase_scale", "coverage", "metrics_row", "accuracy_row"]
