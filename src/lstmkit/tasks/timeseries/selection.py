r"""Choosing the forecasting method on a validation window.

``method="auto"`` (the :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster` default) scores
every candidate on the same validation windows and keeps the one with the lowest **MASE**::

    MASE(method) = mean over targets c of  mean_{windows, steps} |y - ŷ| / s_c,
    s_c = mean_t |x_c[t] - x_c[t - m]|      (x: the rows the candidates were fitted on, m: the season)

MASE, not MAE, so that targets on different scales weigh the same (with one target the two rank
the methods alike). The candidates:

* ``"lstm"``: the LSTM network (when the series gives it enough training windows);
* ``"ets"``: :class:`~lstmkit.tasks.timeseries.local.AutoETS` (damped trend and additive season
  when the season and length allow, chosen by AICc);
* ``"seasonal_naive"``: the last season repeated (naive when there is no season);
* ``"ensemble"``: the mean of **ETS and the LSTM** (of ETS and seasonal naive when the series is
  too short for an LSTM): a statistical model and a learned one, whose errors are the least alike
  (the hybrid idea behind the M4 winners). Seasonal naive is a benchmark with no trend and no
  level adaptation; averaging it in anchors the forecast to last season (on the development series,
  "the best two on validation" paired it with ETS on seatbelts, holdout MASE 0.97 against 0.50 for
  ETS + LSTM), so it competes only on its own.

The ensemble is chosen when its validation MASE is lowest **or within 5% of the best single
method's**: a few overlapping validation windows cannot tell methods that close apart, and a mean of
two good forecasts is the safer bet (Kourentzes, Barrow & Petropoulos 2019, "Another look at
forecast selection and combination: evidence from forecast pooling"). Other exact ties go to the
simpler method (seasonal naive, then ETS, then the LSTM).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHODS = ("auto", "lstm", "ets", "seasonal_naive", "ensemble")
#: the single methods, simplest first (the order that breaks ties)
SINGLE = ("seasonal_naive", "ets", "lstm")
CANDIDATES = SINGLE + ("ensemble",)
LABELS = {"lstm": "LSTM", "ets": "ETS", "seasonal_naive": "seasonal naive", "ensemble": "ensemble"}
#: the ensemble is kept over a single method that beats it on validation by less than this fraction
ENSEMBLE_MARGIN = 0.05


@dataclass
class Selection:
    """What the validation windows said: ``scores`` (MASE per candidate), ``mae`` (per candidate),
    ``windows`` (how many forecast origins), ``rows`` (the validation rows), ``members`` (the
    ensemble's two methods, :func:`ensemble_members`) and ``chosen``."""

    scores: dict[str, float]
    mae: dict[str, float]
    windows: int
    rows: int
    members: list[str] = field(default_factory=list)
    chosen: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"scores": {k: float(v) for k, v in self.scores.items()},
                "mae": {k: float(v) for k, v in self.mae.items()}, "windows": int(self.windows),
                "rows": int(self.rows), "members": list(self.members), "chosen": self.chosen}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Selection":
        return cls({k: float(v) for k, v in data.get("scores", {}).items()},
                   {k: float(v) for k, v in data.get("mae", {}).items()}, int(data.get("windows", 0)),
                   int(data.get("rows", 0)), list(data.get("members", [])), data.get("chosen"))

    def line(self) -> str:
        parts = ", ".join(f"{LABELS.get(k, k)} {v:.3f}" for k, v in sorted(self.scores.items(), key=lambda kv: kv[1]))
        what = f"{self.windows} window{'s' if self.windows != 1 else ''}"
        return f"validation MASE over the last {self.rows} rows ({what}): {parts}"


def mase_by_target(y: np.ndarray, pred: np.ndarray, scale: np.ndarray) -> float:
    """Mean over targets of ``mean |y - pred| / scale`` for ``(N, H, C)`` arrays and ``scale`` ``(C,)``."""
    err = np.mean(np.abs(np.asarray(y) - np.asarray(pred)).reshape(-1, y.shape[-1]), axis=0)
    safe = np.where(scale > 0, scale, 1.0)
    return float(np.mean(err / safe))


def mase_scale(insample: np.ndarray, season: int) -> np.ndarray:
    """``mean_t |x[t] - x[t - m]|`` per column (``m`` = 1 when the series is not longer than ``season``);
    a column that never changes gets its mean absolute value (or 1) so that scores stay finite."""
    x = np.asarray(insample, dtype=np.float64)
    m = season if len(x) > season else 1
    if len(x) <= m:
        return np.ones(x.shape[1])
    s = np.mean(np.abs(x[m:] - x[:-m]), axis=0)
    size = np.max(np.abs(x), axis=0)
    fallback = np.where(size > 0, size, 1.0)
    return np.where(s > 1e-9 * fallback, s, fallback)


def ensemble_members(available: Any) -> list[str]:
    """The ensemble's two methods: ETS and the LSTM; ETS and seasonal naive when there is no LSTM."""
    singles = [k for k in SINGLE if k in available]
    if "ets" in singles and "lstm" in singles:
        return ["ets", "lstm"]
    return singles[:2] if len(singles) >= 2 else []


def select(forecasts: dict[str, np.ndarray], y: np.ndarray, insample: np.ndarray, season: int, rows: int,
           *, force: str | None = None) -> Selection:
    """Score ``forecasts`` (method -> ``(N, H, C)`` point forecasts in the data's units) against ``y``,
    add the ensemble (:func:`ensemble_members`), and choose (``force``: that method, scored all the same)."""
    scale = mase_scale(insample, season)
    scores = {k: mase_by_target(y, v, scale) for k, v in forecasts.items()}
    maes = {k: float(np.mean(np.abs(y - v))) for k, v in forecasts.items()}
    members = ensemble_members(forecasts)
    if len(members) == 2:
        ens = np.mean([forecasts[k] for k in members], axis=0)
        scores["ensemble"] = mase_by_target(y, ens, scale)
        maes["ensemble"] = float(np.mean(np.abs(y - ens)))
    order = [k for k in CANDIDATES if k in scores]
    chosen = force if force is not None else min(order, key=lambda k: (scores[k], order.index(k)))
    if force is None and chosen != "ensemble" and "ensemble" in scores \
            and scores["ensemble"] <= (1.0 + ENSEMBLE_MARGIN) * scores[chosen]:
        chosen = "ensemble"
    return Selection(scores, maes, int(y.shape[0]), int(rows), members, chosen)


__all__ = ["METHODS", "SINGLE", "CANDIDATES", "LABELS", "ENSEMBLE_MARGIN", "Selection", "select", "ensemble_members", "mase_by_target", "mase_scale"]
