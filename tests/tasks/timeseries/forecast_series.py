"""Shared by the forecasting tests: a small Forecaster setting and a synthetic monthly series."""

from __future__ import annotations

import numpy as np
import pandas as pd

TINY = dict(units=8, verbose=False, seed=0)


def monthly(n=120, seed=0, level=100.0, trend=0.3, noise=2.0, start="2000-01-01"):
    """``n`` months of ``level + trend * t + 10 sin(2 pi t / 12) + noise``, a DataFrame with column ``y``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = level + trend * t + 10 * np.sin(2 * np.pi * t / 12) + noise * rng.standard_normal(n)
    return pd.DataFrame({"y": y}, index=pd.date_range(start, periods=n, freq="MS"))
