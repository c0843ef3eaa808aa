r"""The statistical methods a :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster` selects among,
and the transforms every method can model on.

**Transforms** (``transform=``), fitted per target column on the training rows::

    "none":    z = y
    "log":     z = log(y)                          (y > 0)
    "boxcox":  z = (y^λ - 1) / λ,  z = log(y) at λ = 0   (y > 0)

Box-Cox's ``λ`` is chosen by Guerrero's method (1993; as ``forecast::BoxCox.lambda``): cut the
series into subseries of one season (2 rows without one), and take the ``λ`` in [-1, 2] that
minimises the coefficient of variation of ``sd_i / mean_i^(1 - λ)`` over them (the ``λ`` that
makes the spread independent of the level). Forecasts and bounds are transformed back (the back
transform of a mean is a median; no bias adjustment).

**Seasonal naive** (naive when ``m = 1``): ``ŷ[T + h] = y[T + h - m ceil(h / m)]``; its interval
(Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 5.5) is
``ŷ ± z σ sqrt(floor((h - 1) / m) + 1)`` with ``σ²`` the mean square of the in-sample seasonal
differences ``y[t] - y[t - m]``.

**ETS** (:class:`AutoETS`): statsmodels' state-space ``ETSModel`` with additive errors, fitted by
maximum likelihood; among no trend / damped additive trend and no season / additive season (when
``m > 1`` and the series holds two seasons and two rows more), the model with the lowest AICc
(Hyndman et al. 2002's automatic ETS, restricted to the damped trend that forecasts best in the
M-competitions). Its intervals are the model's analytic ones. A fitted model keeps its parameters
(smoothing weights, damping and initial states); :meth:`AutoETS.forecast` runs the model with them
over a history that starts where the fitted series started (new rows appended), so a saved model
needs only JSON.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Sequence

import numpy as np

from lstmkit.errors import ConfigError, DataError

TRANSFORMS = ("none", "log", "boxcox")
BOXCOX_RANGE = (-1.0, 2.0)


# ---------------------------------------------------------------------------------------------
# transforms


def guerrero_lambda(values: np.ndarray, season: int) -> float:
    """Guerrero's Box-Cox ``λ`` for a positive series (see the module docstring), rounded to 0.01."""
    from scipy.optimize import minimize_scalar

    x = np.asarray(values, dtype=np.float64)
    period = max(2, int(season))
    groups = len(x) // period
    if groups < 2:
        return 1.0
    mat = x[len(x) - groups * period:].reshape(groups, period)
    mean, sd = mat.mean(axis=1), mat.std(axis=1, ddof=1)

    def cv(lam: float) -> float:
        ratio = sd / mean ** (1.0 - lam)
        m = ratio.mean()
        return float(ratio.std(ddof=1) / m) if m > 0 else float("inf")

    res = minimize_scalar(cv, bounds=BOXCOX_RANGE, method="bounded")
    return round(float(res.x), 2)


@dataclass
class Transform:
    """A per-column transform (``kind`` in :data:`TRANSFORMS`, ``lambdas`` for Box-Cox)."""

    kind: str = "none"
    lambdas: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, kind: str, values: np.ndarray, season: int, names: Sequence[str]) -> "Transform":
        if kind not in TRANSFORMS:
            raise ConfigError(f"transform must be one of {', '.join(map(repr, TRANSFORMS))}; found {kind!r}")
        x = np.asarray(values, dtype=np.float64)
        if kind != "none":
            for j, name in enumerate(names):
                low = float(np.min(x[:, j]))
                if low <= 0:
                    raise DataError(
                        f"transform={kind!r}: column {name!r} has values <= 0 (smallest {low:.4g}); a {kind} "
                        f"transform needs positive values (use --transform none)")
        lambdas = [guerrero_lambda(x[:, j], season) for j in range(x.shape[1])] if kind == "boxcox" else []
        return cls(kind, lambdas)

    def forward(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        if self.kind == "none":
            return x
        if self.kind == "log":
            return np.log(x)
        out = np.empty_like(x)
        for j, lam in enumerate(self.lambdas):
            out[..., j] = np.log(x[..., j]) if lam == 0 else (x[..., j] ** lam - 1.0) / lam
        return out

    def inverse(self, values: np.ndarray) -> np.ndarray:
        z = np.asarray(values, dtype=np.float64)
        if self.kind == "none":
            return z
        if self.kind == "log":
            return np.exp(np.minimum(z, 700.0))
        out = np.empty_like(z)
        for j, lam in enumerate(self.lambdas):
            if lam == 0:
                out[..., j] = np.exp(np.minimum(z[..., j], 700.0))
            else:
                out[..., j] = np.maximum(lam * z[..., j] + 1.0, 1e-12) ** (1.0 / lam)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "lambdas": [float(v) for v in self.lambdas]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Transform":
        return cls(str(data.get("kind", "none")), [float(v) for v in data.get("lambdas", [])])


# ---------------------------------------------------------------------------------------------
# seasonal naive


def seasonal_naive(history: np.ndarray, horizon: int, season: int, level: float | None = None
                   ) -> dict[str, np.ndarray]:
    """``{"point"}`` (and ``"lower"``, ``"upper"`` with ``level``), each ``(horizon, C)``, of the seasonal
    naive forecast after ``history`` ``(T, C)``; naive when ``season`` is 1 or longer than the history."""
    x = np.asarray(history, dtype=np.float64)
    m = season if 1 <= season <= len(x) else 1
    idx = len(x) - m + np.arange(horizon) % m
    out = {"point": x[idx]}
    if level is not None:
        diffs = x[m:] - x[:-m] if len(x) > m else np.zeros((1, x.shape[1]))
        sigma = np.sqrt(np.mean(diffs ** 2, axis=0))
        k = np.floor(np.arange(horizon) / m) + 1.0
        half = NormalDist().inv_cdf(0.5 + level / 2) * sigma[None, :] * np.sqrt(k)[:, None]
        out["lower"], out["upper"] = out["point"] - half, out["point"] + half
    return out


# ---------------------------------------------------------------------------------------------
# ETS


@dataclass
class EtsSpec:
    """One ETS model: ``trend`` (None or ``"add"``, damped), ``seasonal`` (None or ``"add"``) and ``season``."""

    trend: str | None = None
    seasonal: str | None = None
    season: int = 1

    @property
    def name(self) -> str:
        return f"ETS(A,{'Ad' if self.trend else 'N'},{'A' if self.seasonal else 'N'})"

    def model(self, y: np.ndarray) -> Any:
        import pandas as pd
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        return ETSModel(pd.Series(np.asarray(y, dtype=np.float64)), error="add", trend=self.trend,
                        damped_trend=self.trend is not None, seasonal=self.seasonal,
                        seasonal_periods=self.season if self.seasonal else None)

    def to_json(self) -> dict[str, Any]:
        return {"trend": self.trend, "seasonal": self.seasonal, "season": int(self.season)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "EtsSpec":
        return cls(data.get("trend"), data.get("seasonal"), int(data.get("season", 1)))


def ets_specs(n: int, season: int) -> list[EtsSpec]:
    """The models :class:`AutoETS` compares on ``n`` rows: no trend always; a damped trend from 8
    rows; an additive season when ``season > 1`` and ``n >= 2 season + 2``."""
    specs = [EtsSpec(None, None, season)]
    if n >= 8:
        specs.append(EtsSpec("add", None, season))
    if season > 1 and n >= 2 * season + 2:
        specs.append(EtsSpec(None, "add", season))
        if n >= 8:
            specs.append(EtsSpec("add", "add", season))
    return specs


class AutoETS:
    """ETS chosen by AICc among :func:`ets_specs` for one series (see the module docstring).

    After :meth:`fit`: ``spec_`` (:class:`EtsSpec`), ``params_`` (the fitted parameters, a list of
    floats), ``aicc_``, ``fitted_rows_`` (rows of the series it was fitted on); None when no model
    could be fitted (``n < 3``, or statsmodels failed for each), in which case forecasts are naive.
    """

    def __init__(self, season: int = 1, spec: EtsSpec | None = None) -> None:
        self.season = max(1, int(season))
        self.fixed_spec = spec
        self.spec_: EtsSpec | None = None
        self.params_: list[float] | None = None
        self.aicc_: float | None = None
        self.fitted_rows_ = 0

    def fit(self, y: np.ndarray) -> "AutoETS":
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        self.fitted_rows_ = len(y)
        self.spec_ = self.params_ = self.aicc_ = None
        if len(y) < 3:
            return self
        specs = [self.fixed_spec] if self.fixed_spec is not None else ets_specs(len(y), self.season)
        best = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for spec in specs:
                try:
                    res = spec.model(y).fit(disp=False)
                except (ValueError, ArithmeticError, np.linalg.LinAlgError, IndexError):
                    continue
                aicc = float(res.aicc)
                if not np.all(np.isfinite(res.params)) or not math.isfinite(aicc):
                    if self.fixed_spec is None:
                        continue
                    aicc = float("inf")
                if best is None or aicc < best[0]:
                    best = (aicc, spec, res)
        if best is not None:
            self.aicc_, self.spec_ = best[0], best[1]
            self.params_ = [float(v) for v in np.asarray(best[2].params, dtype=np.float64)]
        return self

    def forecast(self, y: np.ndarray, horizon: int, level: float | None = None) -> dict[str, np.ndarray]:
        """``{"point"}`` (and bounds), each ``(horizon,)``, after ``y``: the fitted model run over ``y``
        (which must start where the fitted series started) with the fitted parameters."""
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.spec_ is None or self.params_ is None:
            out = seasonal_naive(y[:, None], horizon, 1, level)
            return {k: v[:, 0] for k, v in out.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = self.spec_.model(y).smooth(np.asarray(self.params_))
                out = {"point": np.asarray(res.forecast(horizon), dtype=np.float64)}
                if level is not None:
                    frame = res.get_prediction(start=len(y), end=len(y) + horizon - 1).summary_frame(alpha=1 - level)
                    out["lower"] = frame["pi_lower"].to_numpy(dtype=np.float64)
                    out["upper"] = frame["pi_upper"].to_numpy(dtype=np.float64)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError, IndexError):
                out = {k: v[:, 0] for k, v in seasonal_naive(y[:, None], horizon, 1, level).items()}
        if not all(np.isfinite(v).all() for v in out.values()):
            out = {k: v[:, 0] for k, v in seasonal_naive(y[:, None], horizon, 1, level).items()}
        return out

    def to_json(self) -> dict[str, Any]:
        return {"spec": None if self.spec_ is None else self.spec_.to_json(), "params": self.params_,
                "aicc": self.aicc_, "fitted_rows": self.fitted_rows_, "season": self.season}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AutoETS":
        obj = cls(int(data.get("season", 1)))
        spec = data.get("spec")
        obj.spec_ = None if spec is None else EtsSpec.from_json(spec)
        params = data.get("params")
        obj.params_ = None if params is None else [float(v) for v in params]
        obj.aicc_ = data.get("aicc")
        obj.fitted_rows_ = int(data.get("fitted_rows", 0))
        return obj

    @property
    def name(self) -> str:
        return "naive (no ETS fit)" if self.spec_ is None else self.spec_.name


def ets_forecasts(models: Sequence[AutoETS], series: np.ndarray, horizon: int, level: float | None = None
                  ) -> dict[str, np.ndarray]:
    """One :class:`AutoETS` per column of ``series`` ``(T, C)``: ``{"point", ...}`` each ``(horizon, C)``."""
    parts = [m.forecast(series[:, j], horizon, level) for j, m in enumerate(models)]
    return {k: np.stack([p[k] for p in parts], axis=1) for k in parts[0]}


__all__ = ["TRANSFORMS", "Transform", "guerrero_lambda", "seasonal_naive", "EtsSpec", "ets_specs", "AutoETS",
           "ets_forecasts"]
