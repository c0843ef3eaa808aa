"""Forecasting baselines to print beside every model: naive, seasonal naive, DLinear and ETS.

All share one interface, batched over windows::

    model.fit(train_values (T, C), valid_values=None)     # valid: used by DLinear for early stopping
    model.predict(contexts (N, L, C), horizon) -> (N, horizon, C)

* :class:`Naive`: ``ŷ[t + k] = x[t]``, the last value, for every step ahead.
* :class:`SeasonalNaive`: ``ŷ[t + k] = x[t + k - m·ceil(k/m)]``, the last season (``m`` steps) repeated.
* :class:`DLinear` (Zeng et al., "Are Transformers Effective for Time Series Forecasting?", AAAI 2023):
  the context ``x`` (L steps, each channel on its own, weights shared across channels) is split
  into a trend ``T = MA_k(x)`` (moving average, the ends padded by repeating the first/last value)
  and a remainder ``S = x - T``; then ``ŷ = W_s S + b_s + W_t T + b_t`` with two ``L -> H`` linear
  maps. Trained on z-scored training windows (statistics of the training rows) with Adam and MSE,
  the learning rate halved every epoch, early stopping on the validation windows.
* :class:`ETS`: statsmodels' Holt-Winters exponential smoothing fitted to each context window;
  univariate only.

:func:`baseline_table` runs them all on a test set and returns metric rows.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from lstmkit.data.timeseries import StandardScaler, gather_windows, window_starts
from lstmkit.errors import ConfigError, DataError, InputValueError, ShapeError
from lstmkit.util.checks import accepts_old_names, check_int
from lstmkit.tasks.timeseries.metrics import metrics_row


def _values(values: Any, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ShapeError(f"{name}: expected a series (T, C), found shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputValueError(f"{name}: the series contains NaN or inf")
    return x


def _contexts(contexts: Any, horizon: Any, name: str) -> tuple[np.ndarray, int]:
    x = np.asarray(contexts, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] == 0:
        raise ShapeError(f"{name}.predict: expected contexts (N, L, C), found shape {x.shape}")
    return x, check_int("horizon", horizon, 1)


class Naive:
    """The last observed value, repeated ``horizon`` times."""

    name = "naive"

    def fit(self, train_values: Any = None, valid_values: Any = None) -> "Naive":
        return self

    def predict(self, contexts: Any, horizon: int) -> np.ndarray:
        x, horizon = _contexts(contexts, horizon, "Naive")
        return np.repeat(x[:, -1:, :], horizon, axis=1)


class SeasonalNaive:
    """The last ``season`` values, repeated: step ``k`` (1-based) ahead copies ``x[L - season + (k-1) % season]``."""

    name = "seasonal naive"

    def __init__(self, season: int) -> None:
        self.season = check_int("season", season, 1)

    def fit(self, train_values: Any = None, valid_values: Any = None) -> "SeasonalNaive":
        return self

    def predict(self, contexts: Any, horizon: int) -> np.ndarray:
        x, horizon = _contexts(contexts, horizon, "SeasonalNaive")
        length = x.shape[1]
        if length < self.season:
            raise ConfigError(f"SeasonalNaive: the context has {length} steps, fewer than season={self.season}")
        idx = length - self.season + np.arange(horizon) % self.season
        return x[:, idx, :]


def _dlinear_net(context: int, horizon: int, kernel: int) -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class DLinearNet(nn.Module):
        """``(B, L, C) -> (B, H, C)``: moving-average decomposition, one linear map per part."""

        def __init__(self) -> None:
            super().__init__()
            self.seasonal = nn.Linear(context, horizon)
            self.trend = nn.Linear(context, horizon)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            series = x.transpose(1, 2)  # (B, C, L)
            pad = (kernel - 1) // 2
            padded = torch.cat(
                [series[..., :1].expand(-1, -1, pad), series, series[..., -1:].expand(-1, -1, pad)], dim=-1
            )
            b, c, _ = padded.shape
            trend = F.avg_pool1d(padded.reshape(b * c, 1, -1), kernel, stride=1).reshape(b, c, -1)
            return (self.seasonal(series - trend) + self.trend(trend)).transpose(1, 2)

    return DLinearNet()


@accepts_old_names({"lr": "learning_rate"})
class DLinear:
    """DLinear (Zeng et al. 2023), channel-independent, trained on z-scored windows.

    ``context`` L and ``horizon`` H are fixed at construction; ``kernel`` (odd) is the moving-average
    width. Training, as in the DLinear code for ETTh1: Adam with ``learning_rate`` 5e-3 (``lr`` is its old
    name, still accepted; both at once are a one-line ConfigError), multiplied by
    ``lr_decay`` (0.5) after every epoch (its ``type1`` schedule); MSE on the training windows in
    shuffled mini-batches of ``batch_size`` (32); at most ``epochs`` (10) epochs; early stopping after
    ``patience`` (3) epochs without a better validation MSE, keeping the best weights. Same ``seed``,
    same data, one thread -> the same model. ``history_`` lists each epoch's mean training and
    validation MSE (on the z-scored scale).

    Measured on ETTh1 ("ett" split, context 336, all 7 columns z-scored with training statistics,
    seed 0, one thread): test MSE / MAE 0.3769 / 0.3997 at horizon 96 (published: 0.375 / 0.399).
    """

    name = "DLinear"

    def __init__(
        self,
        context: int,
        horizon: int,
        *,
        kernel: int = 25,
        learning_rate: float = 5e-3,
        lr_decay: float = 0.5,
        epochs: int = 10,
        batch_size: int = 32,
        patience: int = 3,
        seed: int = 0,
        threads: int | None = 1,
    ) -> None:
        self.context = check_int("context", context, 1)
        self.horizon = check_int("horizon", horizon, 1)
        self.kernel = check_int("kernel", kernel, 1)
        if self.kernel % 2 == 0:
            raise ConfigError(f"kernel must be odd (the moving average is centred); found {kernel}")
        if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
            raise ConfigError(f"learning_rate must be a positive number; found {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        if not (isinstance(lr_decay, (int, float)) and 0 < lr_decay <= 1):
            raise ConfigError(f"lr_decay must be in (0, 1]; found {lr_decay!r}")
        self.lr_decay = float(lr_decay)
        self.epochs = check_int("epochs", epochs, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.patience = check_int("patience", patience, 1)
        self.seed = int(seed)
        self.threads = threads
        self.scaler_: StandardScaler | None = None
        self.net_: Any = None
        self.history_: list[dict[str, float]] = []
        self.train_result_: Any = None  # the engine's lstmkit.train.TrainResult of the last fit

    def _windows(self, z: np.ndarray, what: str) -> np.ndarray:
        starts = window_starts(len(z), self.context, self.horizon)
        if not starts.size:
            raise DataError(
                f"DLinear: the {what} series has {len(z)} rows; context {self.context} + horizon "
                f"{self.horizon} needs at least {self.context + self.horizon}"
            )
        return starts

    def _run(self, z: np.ndarray) -> np.ndarray:
        """Forecasts ``(N, H, C)`` of z-scored float32 contexts ``(N, L, C)``, in chunks, no gradient."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(z), 2048):
                out.append(self.net_(torch.from_numpy(z[i : i + 2048])).numpy())
        return np.concatenate(out) if out else np.empty((0, self.horizon, z.shape[2]), np.float32)

    def fit(self, train_values: Any, valid_values: Any = None) -> "DLinear":
        """Train through :class:`lstmkit.train.Trainer`: the step decay is :class:`~lstmkit.train.StepDecay`
        (``lr_decay`` after every epoch), early stopping :class:`~lstmkit.train.EarlyStopping` on
        ``valid_mse`` with the best weights restored; the window order is one ``numpy`` generator's
        permutation per epoch (seeded with ``seed``), as it always was."""
        import torch

        from lstmkit.nn.threads import torch_threads
        from lstmkit.tasks.timeseries.network import ReplayedOrder
        from lstmkit.train import EarlyStopping, StepDecay, StepOutput, Trainer

        train = _values(train_values, "DLinear.fit train_values")
        self.scaler_ = StandardScaler().fit(train)
        z = self.scaler_.transform(train).astype(np.float32)
        starts = self._windows(z, "training")
        valid = None
        if valid_values is not None:
            zv = self.scaler_.transform(_values(valid_values, "DLinear.fit valid_values")).astype(np.float32)
            valid = gather_windows(zv, self._windows(zv, "validation"), self.context, self.horizon)
        seed = self.seed
        batches = ReplayedOrder(torch.from_numpy(starts), batch_size=self.batch_size,
                                new_generator=lambda: np.random.default_rng(seed),
                                draw=lambda rng, n: torch.from_numpy(rng.permutation(n)))

        def step(net: Any, rows: Any, carry: Any) -> StepOutput:
            x, y = gather_windows(z, rows.numpy(), self.context, self.horizon)
            return StepOutput(torch.mean((net(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2), weight=len(x))

        def evaluate(net: Any) -> dict[str, float]:
            return {"valid_mse": float(np.mean((self._run(valid[0]) - valid[1]) ** 2))}

        with torch_threads(self.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net_ = _dlinear_net(self.context, self.horizon, self.kernel)
            result = self.train_result_ = Trainer(
                self.net_, torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate), step, batches,
                epochs=self.epochs,
                schedule=StepDecay(factor=self.lr_decay, start_epoch=1),
                early_stopping=None if valid is None else EarlyStopping("valid_mse", mode="min", patience=self.patience),
                evaluate=None if valid is None else evaluate, handle_sigint=False,
            ).fit()
        self.net_.eval()
        self.history_ = [{"epoch": h["epoch"], "train_mse": h["loss"],
                          **({"valid_mse": h["valid_mse"]} if "valid_mse" in h else {})} for h in result.history]
        return self

    def predict(self, contexts: Any, horizon: int) -> np.ndarray:
        from lstmkit.nn.threads import torch_threads

        if self.net_ is None or self.scaler_ is None:
            raise ConfigError("DLinear.predict: call fit first")
        x, horizon = _contexts(contexts, horizon, "DLinear")
        if horizon != self.horizon:
            raise ConfigError(f"DLinear was trained for horizon {self.horizon}; found horizon={horizon}")
        channels = self.scaler_.mean_.shape[0]
        if x.shape[1:] != (self.context, channels):
            raise ShapeError(f"DLinear.predict: expected contexts (N, {self.context}, {channels}), found {x.shape}")
        with torch_threads(self.threads):
            z = self._run(self.scaler_.transform(x).astype(np.float32))
        return self.scaler_.inverse_transform(z.astype(np.float64))


_ETS_KINDS = ("add", "mul", None)


class ETS:
    """Holt-Winters exponential smoothing (statsmodels ``ExponentialSmoothing``), one fit per window.

    ``trend`` and ``seasonal``: ``"add"``, ``"mul"`` or ``None``; ``damped`` damps the trend;
    ``season``: the seasonal period (needed with ``seasonal``; a window must hold two seasons).
    Parameters and initial states are estimated by maximum likelihood on each context window, the
    forecast is the fitted model's ``horizon``-step forecast. Univariate only: ``C = 1``. A window on
    which statsmodels fails falls back to the seasonal-naive (or naive) forecast; ``fallbacks_`` counts them.
    """

    name = "ETS"

    def __init__(
        self, season: int | None = None, *, trend: str | None = "add", seasonal: str | None = "add", damped: bool = False
    ) -> None:
        for what, kind in (("trend", trend), ("seasonal", seasonal)):
            if kind not in _ETS_KINDS:
                raise ConfigError(f"ETS {what} must be 'add', 'mul' or None; found {kind!r}")
        if damped and trend is None:
            raise ConfigError("ETS damped=True needs a trend")
        if seasonal is not None and season is None:
            raise ConfigError(f"ETS with seasonal={seasonal!r} needs season (the seasonal period, >= 2)")
        self.season = None if season is None else check_int("season", season, 2 if seasonal else 1)
        self.trend, self.seasonal, self.damped = trend, seasonal, bool(damped)
        self.fallbacks_ = 0

    def _univariate(self, channels: int, where: str) -> None:
        if channels != 1:
            raise ConfigError(
                f"ETS is univariate: {where} has {channels} columns; forecast one target column at a time"
            )

    def fit(self, train_values: Any = None, valid_values: Any = None) -> "ETS":
        if train_values is not None:
            self._univariate(_values(train_values, "ETS.fit train_values").shape[1], "the training series")
        return self

    def _one(self, series: np.ndarray, horizon: int) -> np.ndarray:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        model = ExponentialSmoothing(
            series,
            trend=self.trend,
            seasonal=self.seasonal,
            seasonal_periods=self.season if self.seasonal else None,
            damped_trend=self.damped,
            initialization_method="estimated",
        )
        return np.asarray(model.fit().forecast(horizon), dtype=np.float64)

    def predict(self, contexts: Any, horizon: int) -> np.ndarray:
        x, horizon = _contexts(contexts, horizon, "ETS")
        self._univariate(x.shape[2], "the context")
        if self.seasonal and x.shape[1] < 2 * self.season:
            raise ConfigError(
                f"ETS with season {self.season} needs a context of at least {2 * self.season} steps; found {x.shape[1]}"
            )
        if "mul" in (self.trend, self.seasonal) and (x <= 0).any():
            i = int(np.argmax((x <= 0).any(axis=(1, 2))))
            raise InputValueError(f"ETS with multiplicative components needs positive values; window {i} has some <= 0")
        fallback = SeasonalNaive(self.season) if self.seasonal else Naive()
        out = np.empty((x.shape[0], horizon, 1))
        self.fallbacks_ = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(x.shape[0]):
                try:
                    f = self._one(x[i, :, 0], horizon)
                    if not np.isfinite(f).all():
                        raise ValueError("non-finite forecast")
                except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                    f = fallback.predict(x[i : i + 1], horizon)[0, :, 0]
                    self.fallbacks_ += 1
                out[i, :, 0] = f
        return out


def baseline_table(
    train_values: Any,
    valid_values: Any,
    test_x: Any,
    test_y: Any,
    horizon: int,
    season: int,
    insample: Any,
    *,
    dlinear: bool = True,
    ets: bool | None = None,
    ets_seasonal: str | None = "add",
    ets_max_windows: int | None = 100,
    seed: int = 0,
    threads: int | None = 1,
) -> list[dict[str, Any]]:
    """Metric rows ``{"model", "mse", "mae", "smape", "mase", "seconds"}`` of the baselines on a test set.

    ``test_x`` (N, L, C) / ``test_y`` (N, horizon, C) are the test windows (the scale of the metrics is
    theirs; ``train_values``/``valid_values`` must be on the same scale). Rows, in this order:

    * ``naive``;
    * ``seasonal naive``, when ``season`` > 1 and the context holds a season;
    * ``DLinear``, trained on ``train_values`` with early stopping on ``valid_values`` (when they hold
      a window; else a fixed 10 epochs); left out with ``dlinear=False`` or when the training series
      is shorter than ``L + horizon``;
    * ``ETS`` (additive trend, ``ets_seasonal`` seasonality when the context holds two seasons), when
      the series is univariate (``ets=None``) or ``ets=True``. ETS fits one model per window, so when
      there are more than ``ets_max_windows`` windows it scores that many, evenly spaced, and the row's
      name says so (``"ETS (100 of 2785 windows)"``; a fit takes about 0.5 s on a 336-step hourly window).

    MASE scales by ``insample`` with ``season``; ``seconds`` is the fit + predict wall time.
    """
    x = np.asarray(test_x, dtype=np.float64)
    y = np.asarray(test_y, dtype=np.float64)
    horizon = check_int("horizon", horizon, 1)
    season = check_int("season", season, 1)
    if x.ndim != 3 or y.shape != (x.shape[0], horizon, x.shape[2]):
        raise ShapeError(
            f"baseline_table: expected test_x (N, L, C) and test_y (N, {horizon}, C); found {x.shape}, {y.shape}"
        )
    length = x.shape[1]
    models: list[tuple[Any, np.ndarray]] = [(Naive(), np.arange(len(x)))]
    if 1 < season <= length:
        models.append((SeasonalNaive(season), np.arange(len(x))))
    if dlinear and len(np.asarray(train_values)) >= length + horizon:
        if valid_values is not None and len(np.asarray(valid_values)) < length + horizon:
            valid_values = None
        models.append((DLinear(length, horizon, seed=seed, threads=threads), np.arange(len(x))))
    if ets or (ets is None and x.shape[2] == 1):
        seasonal = ets_seasonal if 1 < season and 2 * season <= length else None
        keep = np.arange(len(x))
        if ets_max_windows is not None and len(x) > check_int("ets_max_windows", ets_max_windows, 1):
            keep = np.unique(np.linspace(0, len(x) - 1, ets_max_windows).round().astype(np.int64))
        models.append((ETS(season if seasonal else None, seasonal=seasonal), keep))
    rows = []
    for model, keep in models:
        start = time.perf_counter()
        model.fit(train_values, valid_values)
        pred = model.predict(x[keep], horizon)
        seconds = time.perf_counter() - start
        name = model.name if len(keep) == len(x) else f"{model.name} ({len(keep)} of {len(x)} windows)"
        rows.append({"model": name, **metrics_row(y[keep], pred, insample, season), "seconds": seconds})
    return rows


__all__ = ["Naive", "SeasonalNaive", "DLinear", "ETS", "baseline_table"]
