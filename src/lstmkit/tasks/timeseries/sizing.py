r"""Data-aware defaults of the :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster`.

When the user leaves a setting unset (``None``), the forecaster sizes it from the series it is
given and says so in one line (through :class:`lstmkit.util.advice.Advice`)::

    season=12: the index is monthly (frequency MS)
    horizon=18: the usual horizon for monthly series (M4 competition: 18), at most a fifth of 174 rows
    context=60: five seasons of 12 (at least 3 x horizon 18), leaving 79 training windows

The rules, with ``n`` the rows of the series and ``m`` the season:

* **season** ``m``: from the index frequency (hourly 24, daily 7, weekly 52, monthly 12, quarterly
  4, yearly 1, sub-daily: the steps in a day); when the index has no frequency (plain row numbers),
  from the autocorrelation of the linearly detrended series: the lag ``k >= 2`` of its highest
  local peak when that peak is above 0.45 (and above the 95% noise band ``2 / sqrt(n)``), else 1.
* **cycle** ``p`` (for the LSTM's context and segment only): ``m`` when ``m > 1``, else the same
  autocorrelation peak (yearly sunspots and lynx have a ~10-year cycle that no frequency names).
* **long series** (``n >= 4,320`` rows, ten windows of 336 + 96): the long-horizon benchmark
  protocol of ETT, Weather, Electricity (Informer, Autoformer, DLinear): context 336, horizon 96,
  batch 256, 10 epochs, patience 3. This is what ETTh1 gets, as before.
* **short series**: ``horizon = min(h_freq, max(1, n // 5))`` where ``h_freq`` is the M4
  competition's horizon for the frequency (yearly 6, quarterly 8, monthly 18, weekly 13, daily 14,
  hourly 48; sub-daily or autocorrelation seasons: ``2 m``; nothing known: 8), so that at least
  four fifths of the rows stay to fit and validate on. ``context`` is the smallest multiple of
  ``p`` that covers ``max(3 horizon, 2 p)`` steps (N-BEATS reads 2-7 horizons), shortened (in
  steps of ``p``, then of 1) until the rows the LSTM trains on give at least 16 windows; a series
  where even ``context = max(2, p)`` leaves fewer than 16 windows has no LSTM candidate (the
  statistical methods still run). ``segment`` is ``p`` when it divides the context in at least
  two segments (a season per LSTM step), else the largest divisor of the context up to a
  seventh of it.
* **batch size and epochs** from the number of training windows ``w``:
  :func:`lstmkit.util.advice.batch_size_for` (``w // 16`` rounded down to a power of two, 4..32:
  at least 16 steps per epoch) and :func:`~lstmkit.util.advice.epochs_for` with 1,000 steps
  (10..200 epochs; early stopping ends sooner), patience a fifth of the epochs (at least 3).

A series too short for any model (fewer than ``2 horizon + 2`` rows: a horizon to validate on and
at least ``horizon + 2`` rows to fit on before it) is a one-line :class:`~lstmkit.errors.DataError`
saying how many rows are needed and which option to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmkit.errors import DataError
from lstmkit.util.advice import batch_size_for, epochs_for, patience_for

#: rows from which the long-horizon protocol's sizes apply (ten windows of 336 + 96)
LONG_ROWS = 4320
LONG_CONTEXT, LONG_HORIZON, LONG_BATCH, LONG_EPOCHS, LONG_PATIENCE = 336, 96, 256, 10, 3
#: the fewest training windows for which the LSTM is worth fitting
MIN_WINDOWS = 16
#: gradient steps the short-series epochs aim for
SHORT_STEPS = 1000
#: an autocorrelation peak must be at least this high to count as a season or cycle
ACF_THRESHOLD = 0.45

#: M4 competition horizons (Makridakis et al. 2020) by frequency
M4_HORIZONS = {"yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14, "hourly": 48}


def frequency_kind(freq: str | None) -> str | None:
    """``"yearly"``, ``"quarterly"``, ``"monthly"``, ``"weekly"``, ``"daily"``, ``"hourly"``, ``"subdaily"``
    (minutes, seconds), ``"other"`` (a multiple like ``2D``) or None (no frequency)."""
    if not freq:
        return None
    import pandas as pd

    off = pd.tseries.frequencies.to_offset(freq)
    o = pd.offsets
    if off.n != 1:
        return "other"
    kinds = [
        ((o.YearBegin, o.YearEnd, o.BYearBegin, o.BYearEnd), "yearly"),
        ((o.QuarterBegin, o.QuarterEnd, o.BQuarterBegin, o.BQuarterEnd), "quarterly"),
        ((o.MonthBegin, o.MonthEnd, o.BusinessMonthBegin, o.BusinessMonthEnd), "monthly"),
        ((o.Week,), "weekly"),
        ((o.Day, o.BusinessDay), "daily"),
        ((o.Hour,), "hourly"),
    ]
    for types, kind in kinds:
        if isinstance(off, types):
            return kind
    if isinstance(off, o.Tick) and pd.Timedelta(off) < pd.Timedelta(hours=1):
        return "subdaily"
    return "other"


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation ``r_0..r_max_lag`` of ``values`` (1-D) after removing a least-squares line::

        x_t = v_t - (a + b t),   r_k = sum_t x_t x_{t+k} / sum_t x_t^2
    """
    v = np.asarray(values, dtype=np.float64)
    t = np.arange(len(v), dtype=np.float64)
    if len(v) >= 3:
        v = v - np.polyval(np.polyfit(t, v, 1), t)
    x = v - v.mean()
    denom = float(np.dot(x, x))
    if denom <= 0:
        return np.zeros(max_lag + 1)
    return np.array([float(np.dot(x[: len(x) - k], x[k:])) / denom for k in range(max_lag + 1)])


def dominant_period(values: np.ndarray, *, threshold: float = ACF_THRESHOLD) -> tuple[int, float | None]:
    """``(lag, r)`` of the highest autocorrelation peak at a lag of 2 .. n/3 (at most 400) that is a
    local maximum above ``threshold`` and the noise band ``2 / sqrt(n)``; ``(1, None)`` when none is."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n < 8:
        return 1, None
    max_lag = max(3, min(n // 3, 400))
    r = autocorrelation(v, max_lag)
    floor = max(threshold, 2.0 / math.sqrt(n))
    peaks = [k for k in range(2, max_lag) if r[k] > r[k - 1] and r[k] >= r[k + 1] and r[k] > floor]
    if not peaks:
        return 1, None
    best = max(peaks, key=lambda k: r[k])
    return int(best), float(r[best])


def season_from_index(freq: str | None, values: np.ndarray) -> tuple[int, str]:
    """The seasonal period ``m`` and why: from the frequency, else from the autocorrelation of the
    first target column ``values``."""
    from lstmkit.data.timeseries import season_for_freq

    kind = frequency_kind(freq)
    if kind is not None and kind != "other":
        m = season_for_freq(freq)
        return m, f"the index is {kind} (frequency {freq})" + ("; no season" if m == 1 else "")
    lag, r = dominant_period(values)
    where = f"the index has {'frequency ' + str(freq) if freq else 'no frequency'}"
    if lag > 1:
        return lag, f"{where}; the detrended series' autocorrelation peaks at lag {lag} (r = {r:.2f})"
    return 1, f"{where}; no autocorrelation peak above {ACF_THRESHOLD} (no season)"


def cycle_for(season: int, values: np.ndarray) -> tuple[int, str]:
    """The cycle ``p`` the LSTM's context and segments follow: the season, else an autocorrelation peak."""
    if season > 1:
        return season, f"the season {season}"
    lag, r = dominant_period(values)
    if lag > 1:
        return lag, f"an autocorrelation peak at lag {lag} (r = {r:.2f})"
    return 1, "no season or cycle"


def default_horizon(n: int, freq: str | None, season: int) -> tuple[int, str]:
    """The horizon for a series of ``n`` rows (see the module docstring)."""
    if n >= LONG_ROWS:
        return LONG_HORIZON, f"{n:,} rows: the long-horizon protocol (ETT, Informer/DLinear) forecasts 96 steps"
    kind = frequency_kind(freq)
    if kind in M4_HORIZONS:
        base, why = M4_HORIZONS[kind], f"the M4 horizon for {kind} series is {M4_HORIZONS[kind]}"
    elif season > 1:
        base, why = 2 * season, f"two seasons of {season}"
    else:
        base, why = 8, "no frequency or season; 8 steps"
    cap = max(1, n // 5)
    if cap < base:
        return cap, f"{why}, cut to a fifth of the {n} rows so that four fifths remain to fit and validate on"
    return base, why


def min_rows(horizon: int) -> int:
    """The fewest rows any method can be fitted and validated on for ``horizon``: ``2 horizon + 2``."""
    return 2 * int(horizon) + 2


def require_rows(n: int, horizon: int, what: str, option: str = "--horizon") -> None:
    """A one-line DataError when ``n`` rows cannot hold ``horizon`` (see :func:`min_rows`)."""
    need = min_rows(horizon)
    if n < need:
        most = max(0, (n - 2) // 2)
        fix = f"lower {option} to at most {most} or give more data" if most >= 1 else "give a longer series"
        raise DataError(
            f"{what}: series too short: {n} rows; horizon {horizon} needs at least {need} "
            f"(a horizon to validate on and {horizon + 2} rows before it); {fix}"
        )


def validation_span(n: int, horizon: int) -> int:
    """Rows at the end kept for choosing the method (and the LSTM's epoch) when no validation set is
    given: ``horizon + k - 1``, i.e. ``k`` forecast origins one step apart whose targets all lie in it,
    ``k = min(horizon, max(1, n // 20))``, and at most ``n - 2 horizon - 1`` so that ``horizon + 2``
    rows stay before it (a series that passes :func:`require_rows` always has ``k >= 1``)."""
    k = max(1, min(int(horizon), max(1, n // 20), n - 2 * int(horizon) - 1))
    return int(horizon) + k - 1


def default_context(train_rows: int, horizon: int, cycle: int) -> tuple[int | None, str]:
    """The LSTM's context for ``train_rows`` rows (None: no context leaves :data:`MIN_WINDOWS` windows)."""
    p = max(1, int(cycle))
    want = p * math.ceil(max(3 * horizon, 2 * p) / p)
    why = (f"{want // p} cycles of {p}, covering 3 x horizon {horizon}" if p > 1
           else f"3 x horizon {horizon}")
    low = max(2, p)
    candidates = list(range(want, low - 1, -p)) + list(range(min(want, low) - 1, 1, -1))
    for L in candidates:
        windows = train_rows - L - horizon + 1
        if windows >= MIN_WINDOWS:
            if L != want:
                why += f", shortened to {L} so that {train_rows} rows give {windows} training windows"
            else:
                why += f"; {train_rows} rows give {windows} training windows"
            return L, why
    return None, (f"{train_rows} rows leave fewer than {MIN_WINDOWS} training windows even for context "
                  f"{max(2, min(want, low))} and horizon {horizon}")


def default_segment(context: int, cycle: int) -> tuple[int, str]:
    """``cycle`` when it cuts ``context`` into at least two segments, else the largest divisor of
    ``context`` up to ``context // 7`` (:func:`lstmkit.tasks.timeseries.files.auto_segment`)."""
    from lstmkit.tasks.timeseries.files import auto_segment

    if cycle > 1 and context % cycle == 0 and context // cycle >= 2:
        return cycle, f"one cycle of {cycle} per LSTM step ({context // cycle} steps)"
    s = auto_segment(context)
    return s, f"the largest divisor of context {context} up to context/7 ({context // s} LSTM steps)"


@dataclass
class TrainingSizes:
    batch_size: int
    batch_reason: str
    epochs: int
    epochs_reason: str
    patience: int
    patience_reason: str


def training_sizes(windows: int, long: bool) -> TrainingSizes:
    """Batch size, epochs and patience for ``windows`` training windows (see the module docstring)."""
    if long:
        why = "the long-horizon recipe (ETT)"
        return TrainingSizes(LONG_BATCH, f"{windows:,} training windows; {why}", LONG_EPOCHS, why,
                             LONG_PATIENCE, why)
    bs, bs_why = batch_size_for(windows, target_steps_per_epoch=16, low=4, high=32)
    ep, ep_why = epochs_for(windows, bs, min_steps=SHORT_STEPS, low=10, high=200)
    pa, pa_why = patience_for(ep)
    return TrainingSizes(bs, bs_why.replace("training samples", "training windows"), ep, ep_why, pa, pa_why)


def describe(value: Any) -> str:
    return "auto" if value is None else str(value)


__all__ = [
    "LONG_ROWS", "MIN_WINDOWS", "M4_HORIZONS", "frequency_kind", "autocorrelation", "dominant_period",
    "season_from_index", "cycle_for", "default_horizon", "min_rows", "require_rows", "validation_span",
    "default_context", "default_segment", "TrainingSizes", "training_sizes",
]
