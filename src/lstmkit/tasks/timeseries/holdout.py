"""Hold out the last N points, fit on the rest, score the forecast beside the simple baselines.

::

    from lstmkit.tasks.timeseries.holdout import evaluate_holdout

    report = evaluate_holdout(series)                 # a pandas Series or DataFrame (DatetimeIndex, PeriodIndex or none)
    report = evaluate_holdout(df, target="KSI", holdout=12, units=64)   # any Forecaster parameter
    report.chosen                                     # "ets", "lstm", "seasonal_naive" or "ensemble"
    report.metrics                                    # one row per model: mae rmse mape smape mase
    print(report.table())

**The holdout length** ``N``: ``holdout=`` when given; else the ``horizon=`` given; else the
horizon the forecaster would choose for the whole series
(:func:`lstmkit.tasks.timeseries.sizing.default_horizon`: the M4 horizon of the frequency, at most
a fifth of the rows; 96 for series of 4,320 rows or more). The forecaster is then fitted on the
first ``len - N`` rows with ``horizon = N`` (a ``horizon=`` that differs from ``holdout=`` is a
ConfigError) and forecasts the N held-out points once, from the end of the training rows.

**Rows of** ``metrics`` (MAE, RMSE, MAPE, sMAPE, MASE; MASE scaled by the seasonal-naive in-sample
MAE of the training rows, Hyndman & Koehler 2006):

* ``"lstmkit (<method>)"``: the forecaster with its chosen method (what ``predict`` gives);
* ``"LSTM"``: the forecaster's LSTM network alone, when it has one and chose another method (it was
  trained on the rows before the validation window; for the record);
* the baselines, each fitted on the training rows only: ``"seasonal naive"`` (the last season
  repeated; when the season is 1 this is the naive forecast and the row is ``"naive"``), ``"naive"``
  (also shown beside a seasonal naive), and ``"ETS"`` (:class:`~lstmkit.tasks.timeseries.local.AutoETS`:
  statsmodels' ETS with additive errors, no/damped trend and no/additive season chosen by AICc).

Every target is scored; with several targets the metrics are means over them (MASE: per target,
then the mean).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lstmkit.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from lstmkit.tasks.timeseries.forecaster import Forecaster

METRICS = ("mae", "rmse", "mape", "smape", "mase")


@dataclass
class HoldoutReport:
    """What :func:`evaluate_holdout` returns.

    ``metrics``: a DataFrame, one row per model (``model``; ``mae``, ``rmse``, ``mape``, ``smape``,
    ``mase``), lstmkit first. ``chosen``: the forecaster's method. ``holdout``: N, ``season``: the
    seasonal period used (seasonal naive, ETS, MASE). ``targets``: the columns scored. ``forecasts``:
    a DataFrame over the held-out timestamps: ``<target>`` (actual) and ``<target>:<model>`` per model.
    ``validation``: the validation MASE of each candidate (None without selection). ``forecaster``:
    the fitted :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster` (fitted on the first
    ``len - N`` rows). ``notes``: caveats.
    """

    metrics: "pd.DataFrame"
    chosen: str
    holdout: int
    season: int
    targets: list[str]
    forecasts: "pd.DataFrame"
    validation: dict[str, float] | None
    forecaster: "Forecaster"
    notes: list[str] = field(default_factory=list)

    def row(self, model: str) -> dict[str, float]:
        """The metrics of ``model`` (a row name, or ``"lstmkit"`` for the forecaster's row)."""
        for _, r in self.metrics.iterrows():
            if r["model"] == model or (model == "lstmkit" and str(r["model"]).startswith("lstmkit")):
                return {k: float(r[k]) for k in METRICS}
        raise KeyError(model)

    def table(self) -> str:
        """The metrics as fixed-width text, one line per model."""
        lines = [f"{'model':28} " + " ".join(f"{m.upper() if m != 'smape' else 'sMAPE':>10}" for m in METRICS)]
        for _, r in self.metrics.iterrows():
            lines.append(f"{str(r['model']):28} " + " ".join(_fmt(r[m]) for m in METRICS))
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    v = float(v)
    if v != v:
        return f"{'-':>10}"
    return f"{v:10.4f}" if abs(v) < 1e5 else f"{v:10.4g}"


def _as_frame(data: Any, target: Any) -> "pd.DataFrame":
    import pandas as pd

    if isinstance(data, pd.Series):
        name = data.name if data.name is not None else (target if isinstance(target, str) else "value")
        data = data.to_frame(name=name)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"evaluate_holdout: expected a pandas Series or DataFrame, found {type(data).__name__}")
    if isinstance(data.index, pd.PeriodIndex):
        data = data.set_axis(data.index.to_timestamp(how="start").rename(data.index.name), axis=0)
    return data


def holdout_length(frame: "pd.DataFrame", horizon: int | None = None, season: int | None = None) -> tuple[int, str]:
    """The default holdout of a series (see the module docstring) and why."""
    from lstmkit.data.timeseries import infer_freq
    from lstmkit.tasks.timeseries.sizing import default_horizon, season_from_index

    if horizon is not None:
        return int(horizon), "the horizon given"
    freq = infer_freq(frame.index)
    m = season if season is not None else season_from_index(freq, frame.to_numpy(dtype=np.float64)[:, 0])[0]
    return default_horizon(len(frame), freq, m)


def evaluate_holdout(data: Any, holdout: int | None = None, target: Any = None, **params: Any) -> HoldoutReport:
    """Fit a :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster` (``params``: any of its
    parameters; defaults otherwise) on all but the last ``holdout`` rows of ``data`` and score its
    forecast of them beside seasonal naive, naive and ETS (see the module docstring).

    ``data``: a pandas Series or DataFrame indexed by a DatetimeIndex, a PeriodIndex (converted to
    the periods' start timestamps) or plain row numbers. ``target``: the column(s) to forecast
    (default: the forecaster's, every numeric column that is not a covariate); other columns are
    ignored unless named in ``covariates=``.
    """
    import pandas as pd

    from lstmkit.tasks.timeseries.forecaster import Forecaster
    from lstmkit.tasks.timeseries.local import AutoETS, seasonal_naive
    from lstmkit.tasks.timeseries.metrics import accuracy_row
    from lstmkit.tasks.timeseries.selection import LABELS
    from lstmkit.tasks.timeseries.sizing import min_rows
    from lstmkit.util.checks import check_int

    frame = _as_frame(data, target)
    if target is not None:
        params["targets"] = target
    probe = Forecaster(**{k: v for k, v in params.items() if k != "horizon"})
    probe._check_params()
    targets = probe.targets if probe.targets is None else ([probe.targets] if isinstance(probe.targets, str) else list(probe.targets))
    covariates = [] if probe.covariates is None else ([probe.covariates] if isinstance(probe.covariates, str) else list(probe.covariates))
    columns = None if targets is None else targets + covariates
    checked = probe._frame(frame, "data", columns)
    if targets is None:
        targets = [c for c in checked.columns if c not in covariates]
    given_h = params.get("horizon")
    if holdout is None:
        holdout, _ = holdout_length(checked[targets], given_h, params.get("season"))
    holdout = check_int("holdout", holdout, 1)
    if given_h is not None and int(given_h) != holdout:
        raise ConfigError(f"horizon={given_h} but holdout={holdout}; the held-out rows are one forecast of "
                          f"horizon steps, so give one of them (or the same value)")
    n = len(checked)
    need = min_rows(holdout)
    if n - holdout < need:
        most = max(0, (n - 2) // 3)
        fix = f"lower --holdout to at most {most} or give more data" if most >= 1 else "give a longer series"
        raise DataError(f"data: series too short: {n} rows; holding out the last {holdout} leaves {max(n - holdout, 0)}, "
                        f"and a forecast of {holdout} steps needs at least {need} rows to fit and validate on; {fix}")
    train, test = checked.iloc[: n - holdout], checked.iloc[n - holdout:]
    try:
        fc = Forecaster(**{**params, "horizon": holdout}).fit(train)
    except DataError as e:
        msg = str(e)
        if "series too short" in msg and "training data" in msg:
            raise DataError(f"{msg} (after holding out the last {holdout} of {n} rows; lower --holdout)") from None
        raise
    C = len(fc.targets_)
    y = test[fc.targets_].to_numpy(dtype=np.float64)
    insample = train[fc.targets_].to_numpy(dtype=np.float64)
    season = fc.season_()
    rows: list[dict[str, Any]] = []
    preds: dict[str, np.ndarray] = {}
    notes: list[str] = []
    preds[f"lstmkit ({fc.method_})"] = fc.predict(train)[fc.targets_].to_numpy(dtype=np.float64)
    if fc.network_ is not None and fc.method_ != "lstm":
        z = fc._scaled(train)
        res = fc._run(z[None, -int(fc.context_):])
        preds["LSTM"] = fc._clip({"point": fc._original(fc._unscale_targets(res["point"][0].astype(np.float64)))},
                                 warn=False)["point"]
        notes.append("the LSTM row is the network trained on the rows before the validation window "
                     f"(not chosen: {LABELS.get(fc.method_, fc.method_)} had the lower validation MASE)")
    if season > 1 and len(insample) > season:
        preds["seasonal naive"] = seasonal_naive(insample, holdout, season)["point"]
    preds["naive"] = seasonal_naive(insample, holdout, 1)["point"]
    ets = [AutoETS(season).fit(insample[:, j]) for j in range(C)]
    preds["ETS"] = np.stack([m.forecast(insample[:, j], holdout)["point"] for j, m in enumerate(ets)], axis=1)
    for name, p in preds.items():
        per = [accuracy_row(y[:, j], p[:, j], insample[:, j], season) for j in range(C)]
        rows.append({"model": name, **{k: float(np.mean([r[k] for r in per])) for k in METRICS}})
    forecasts = pd.DataFrame(index=test.index)
    for j, t in enumerate(fc.targets_):
        forecasts[t] = y[:, j]
        for name, p in preds.items():
            forecasts[f"{t}:{name}"] = p[:, j]
    validation = None if fc.selection_ is None else dict(fc.selection_.scores)
    return HoldoutReport(pd.DataFrame(rows), fc.method_, holdout, season, list(fc.targets_), forecasts, validation,
                         fc, notes)


__all__ = ["HoldoutReport", "evaluate_holdout", "holdout_length", "METRICS"]
