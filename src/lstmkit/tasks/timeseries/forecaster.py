"""Forecasting: :class:`Forecaster` (scikit-learn style, pandas in and out), an LSTM that is chosen
only when it beats the simple methods on a validation window.

::

    fc = Forecaster()                  # every size from the data: season, horizon, context, batch, epochs
    fc.fit(df)                         # LSTM, ETS, seasonal naive and their ensemble, scored on the last
                                       # validation window; the best (lowest MASE) is refitted on every row
    fc.method_                         # "lstm", "ets", "seasonal_naive" or "ensemble"
    fc.predict(df)                     # DataFrame: the next `horizon` timestamps (and bounds with intervals=)

    fc = Forecaster(context=336, horizon=96, targets=["OT"], covariates=["HUFL", "HULL"], intervals="quantile")
    fc.fit(df, valid="ett")            # or valid=0.2 / a DataFrame; scaler fitted on training rows only
    bt = fc.backtest(df, start="2018-01-01", stride=24)   # rolling origin, batched; bt.metrics has the baselines
    fc.score(df, start=...)            # backtest MSE of the LSTM (lower is better)
    stream = fc.stream(history)        # stateful stepping of the LSTM: stream.update(row); stream.forecast()
    fc.save("ot.lstmkit"); Forecaster.load("ot.lstmkit")

The network is :class:`lstmkit.tasks.timeseries.network.LSTMForecastNetwork` (segment-wise, channel-independent,
instance-normalised LSTM; see that module for the equations). Data flow of the LSTM::

    df (T, targets + covariates) --transform (targets)--> --StandardScaler (training rows)--> z
        --last `context` rows--> network --> (H, targets, P) --inverse scaling, inverse transform--> forecast

The data-aware defaults are in :mod:`lstmkit.tasks.timeseries.sizing`, the statistical methods and
transforms in :mod:`lstmkit.tasks.timeseries.local`, the selection rule in
:mod:`lstmkit.tasks.timeseries.selection`. Covariates are channels that are read but not forecast
(by the LSTM; ETS and seasonal naive forecast each target from its own past).

Saved as one safetensors file (``kind="forecaster"``): the network's weights (when there is a
network) and JSON metadata: the hyper-parameters as used (the sizes chosen from the data in place
of ``None``), network config, scaler, column names, time index name and frequency, the training
summary, the chosen method and the selection scores, the ETS models' parameters, the transform,
and the advice (each default chosen, with its reason, and the warnings raised). No pickle.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from lstmkit.errors import ConfigError, DataError, LstmkitError, ModelFileError
from lstmkit.tasks.timeseries.files import auto_segment, load_checked
from lstmkit.tasks.timeseries.stream import ForecastStream
from lstmkit.util.advice import Advice, check_gradient_steps, check_non_negative_bounds, patience_for
from lstmkit.util.checks import ParamsMixin, check_int, prepare_output, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

KIND = "forecaster"
INTERVALS = ("quantile", "gaussian")
LR_SCHEDULES = ("cosine", "constant")
SCALES = ("original", "standardized")
#: forecast origins at most scored when choosing the method on a given validation set
SELECT_WINDOWS = 20
#: rows at most an ETS model is fitted on (the last ones; statsmodels' cost grows with the length)
ETS_MAX_ROWS = 1000
#: windows at most a backtest scores with a method that fits ETS (as the ETS baseline)
ETS_BACKTEST_WINDOWS = 100


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _number(name: str, value: Any, low: float, high: float | None = None, *, open_low: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if ok:
        ok = (value > low if open_low else value >= low) and (high is None or value < high)
    if not ok:
        rng = f"{'>' if open_low else '>='} {low}" + (f" and < {high}" if high is not None else "")
        raise ConfigError(f"{name} must be a number {rng}; found {value!r}")
    return float(value)


def _names(name: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(v, str) and v for v in names):
        raise ConfigError(f"{name} must be a column name or a list of column names; found {value!r}")
    return names


@dataclass
class Backtest:
    """What :meth:`Forecaster.backtest` returns.

    ``forecasts``: one row per (window, step, target): ``origin`` (the last observed label),
    ``time``, ``step`` (1..H), ``column``, ``actual``, ``forecast`` (and ``lower``, ``upper``), the LSTM's.
    ``metrics``: one row per model (``model`` column): ``mse``, ``mae``, ``smape``, ``mase``, and
    ``coverage`` (the share of actuals inside the interval; the LSTM's, when it has intervals). The
    first row is the LSTM; when the forecaster chose another method, a row ``"lstmkit: <method>"``
    follows it; then the baselines.
    ``windows``: how many forecast origins; ``start``: the first forecast timestamp;
    ``scale``: ``"original"`` units or ``"standardized"`` (z-scores of the training scaler);
    ``interval_level``: the nominal level of the intervals (None without); ``notes``: caveats;
    ``method``: the forecaster's chosen method.
    """

    forecasts: "pd.DataFrame"
    metrics: "pd.DataFrame"
    windows: int
    start: Any
    stride: int
    scale: str
    interval_level: float | None
    notes: list[str] = field(default_factory=list)
    method: str = "lstm"


class Forecaster(ParamsMixin):
    """A forecaster with scikit-learn's interface (see the module docstring).

    Hyper-parameters (stored as given; :meth:`fit` checks them). ``None`` means: chosen from the
    data by the rules of :mod:`lstmkit.tasks.timeseries.sizing`, each choice printed in one line
    (with ``verbose``) and kept in ``advice_``; an explicit value always wins.

    * ``context`` (rows the LSTM reads per forecast), ``horizon`` (steps forecast); ``None``: long
      series (4,320 rows or more) get 336 and 96, the long-horizon protocol; shorter ones the M4
      horizon of their frequency (at most a fifth of the rows) and a context of whole seasons
      covering three horizons;
    * ``method``: ``"auto"`` (default: the LSTM, ETS, seasonal naive and the ensemble of ETS and the
      LSTM, scored by MASE on a validation window; the lowest wins), ``"lstm"`` (the LSTM alone,
      the behaviour before ``method`` existed), ``"ets"``, ``"seasonal_naive"``, ``"ensemble"``;
    * ``transform``: ``"none"`` (default), ``"log"`` or ``"boxcox"`` (Guerrero's λ per target),
      applied to the targets before every method and undone on the forecasts and bounds;
    * ``targets`` (columns forecast; ``None``: every numeric column that is not a covariate; a
      column with an empty or repeated name is never picked), ``covariates`` (columns only the LSTM
      reads), ``time_col`` (a timestamp column of the DataFrames, when the time axis is not the index);
    * ``segment`` (steps per LSTM input segment, must divide ``context``; ``None``: the season when it
      cuts the context into two or more segments (short series), else the largest divisor of
      ``context`` up to ``context // 7``, 48 for 336; 1 = a plain per-step LSTM),
      ``units`` (embedding/LSTM width), ``layers``, ``instance_norm`` (``"last"``: subtract the
      window's last value, the default; ``"mean"``: RevIN-style, subtract the mean and divide by the
      std; ``"none"``; ``True``/``False`` mean ``"mean"``/``"none"``), ``head`` (``"direct"``
      or ``"autoregressive"``), ``dropout``;
    * ``intervals`` (``None``, ``"quantile"``: pinball loss on the ``(1 - level)/2``, 0.5 and
      ``(1 + level)/2`` quantiles, or ``"gaussian"``: mean and scale by negative log-likelihood;
      ETS and seasonal naive give their own Gaussian intervals at ``level``),
      ``level`` (nominal coverage of the intervals, default 0.8), ``loss`` (point models: ``"mse"``
      or ``"mae"``). For a series that is never negative, forecasts and bounds are clipped at 0
      (with a warning when a bound had to be);
    * training (through the one engine, :mod:`lstmkit.train`): ``epochs``, ``batch_size``,
      ``learning_rate`` (Adam; ``lr`` is accepted as an alias), ``lr_schedule`` (``"cosine"`` decay per
      step to 0, or ``"constant"``), ``clip_norm`` (clip the global gradient norm; ``None``: off, the
      default), ``patience`` (early stopping on the validation MSE, or loss with intervals; best weights kept),
      ``stride`` (between training windows), ``precision`` (``"fp32"``, ``"bf16"``: autocast where the
      CPU has bfloat16 matrix units, else a ConfigError; ``"auto"``: bf16 only where it is faster, see
      :mod:`lstmkit.train.precision`), ``seed``, ``threads`` (torch threads; ``None`` leaves torch's
      setting), ``verbose`` (``True``/1, the default: each default chosen and the method selected, one
      line each on stderr, and one line per epoch on stdout; ``False``/0: silent, warnings still raised);
    * ``season`` (for seasonal naive, ETS and MASE; ``None``: from the frequency, 24 hourly, 12
      monthly..., or from the autocorrelation when the index has none), ``fill`` (``None``: missing
      values are an error; ``"interpolate"``, ``"ffill"``, ``"zero"``).

    After :meth:`fit`: ``method_`` (the method forecasts use), ``selection_`` (a
    :class:`~lstmkit.tasks.timeseries.selection.Selection`: the validation MASE of each candidate;
    None without a validation window), ``advice_`` (:class:`lstmkit.util.advice.Advice`),
    ``context_``, ``horizon_``, ``segment_``, ``batch_size_``, ``epochs_``, ``patience_``, ``season_value_``
    (the sizes used), ``network_`` and ``scaler_`` (None when no LSTM was fitted), ``ets_`` (one
    :class:`~lstmkit.tasks.timeseries.local.AutoETS` per target when the method uses ETS),
    ``transform_``, ``history_`` (per epoch: ``loss``, ``val_mse``, ``val_loss``, ``seconds``),
    ``best_epoch_``, ``valid_mse_``, ``fit_seconds_``, ``train_windows_``, ``refit_epochs_`` (epochs
    of the final refit on every row, or None) and ``train_result_``, the engine's
    :class:`lstmkit.train.TrainResult` (not saved).
    """

    _PARAMS = (
        "context", "horizon", "targets", "covariates", "time_col", "segment", "units", "layers", "instance_norm",
        "head", "dropout", "intervals", "level", "loss", "epochs", "batch_size", "learning_rate", "lr_schedule",
        "clip_norm", "patience", "stride", "precision", "seed", "threads", "season", "fill", "verbose",
        "method", "transform",
    )
    #: Older spellings of hyper-parameters (accepted by ``__init__``, ``set_params`` and in saved files).
    _ALIASES = {"lr": "learning_rate"}

    def __init__(
        self,
        context: int | None = None,
        horizon: int | None = None,
        targets: str | Sequence[str] | None = None,
        covariates: str | Sequence[str] | None = None,
        *,
        time_col: str | None = None,
        segment: int | None = None,
        units: int = 256,
        layers: int = 1,
        instance_norm: str | bool = "last",
        head: str = "direct",
        dropout: float = 0.5,
        intervals: str | None = None,
        level: float = 0.8,
        loss: str = "mae",
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 1e-3,
        lr_schedule: str = "cosine",
        clip_norm: float | None = None,
        patience: int | None = None,
        stride: int = 1,
        precision: str = "fp32",
        seed: int = 0,
        threads: int | None = 1,
        season: int | None = None,
        fill: str | None = None,
        verbose: int | bool = True,
        method: str = "auto",
        transform: str = "none",
        lr: float | None = None,
    ) -> None:
        if lr is not None:
            if learning_rate != 1e-3:
                raise ConfigError("give the learning rate once: learning_rate= (or its alias lr=), not both")
            learning_rate = lr
        self.context = context
        self.horizon = horizon
        self.targets = targets
        self.covariates = covariates
        self.time_col = time_col
        self.segment = segment
        self.units = units
        self.layers = layers
        self.instance_norm = instance_norm
        self.head = head
        self.dropout = dropout
        self.intervals = intervals
        self.level = level
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.clip_norm = clip_norm
        self.patience = patience
        self.stride = stride
        self.precision = precision
        self.seed = seed
        self.threads = threads
        self.season = season
        self.fill = fill
        self.verbose = verbose
        self.method = method
        self.transform = transform
        self._reset_fitted()

    def _reset_fitted(self) -> None:
        self.network_: Any = None
        self.scaler_: Any = None
        self.targets_: list[str] | None = None
        self.covariates_: list[str] | None = None
        self.index_name_: Any = None
        self.freq_: str | None = None
        self.last_fit_label_: str | None = None
        self.history_: dict[str, list[float]] = {}
        self.best_epoch_: int | None = None
        self.valid_mse_: float | None = None
        self.fit_seconds_: float | None = None
        self.train_windows_: int | None = None
        self.train_result_: Any = None  # the engine's lstmkit.train.TrainResult of the last fit (not saved)
        self.method_: str | None = None
        self.selection_: Any = None
        self.advice_: Advice | None = None
        self.context_: int | None = None
        self.horizon_: int | None = None
        self.segment_: int | None = None
        self.batch_size_: int | None = None
        self.epochs_: int | None = None
        self.patience_: int | None = None
        self.season_value_: int | None = None
        self.ets_: list[Any] | None = None
        self.ets_start_: str | None = None
        self.transform_: Any = None
        self.nonneg_: list[bool] = []
        self.refit_epochs_: int | None = None
        self._members: list[str] = []

    @property
    def lr(self) -> Any:
        """The learning rate (an alias of ``learning_rate``)."""
        return self.learning_rate

    @lr.setter
    def lr(self, value: Any) -> None:
        self.learning_rate = value

    def set_params(self, **params: Any) -> Forecaster:
        """scikit-learn's ``set_params``; ``lr`` is accepted for ``learning_rate``."""
        out: dict[str, Any] = {}
        for key, value in params.items():
            name = self._ALIASES.get(key, key)
            if name in out:
                raise ConfigError(f"Forecaster.set_params: {name!r} given twice (as {key!r} and {name!r})")
            out[name] = value
        return super().set_params(**out)

    def __repr__(self) -> str:
        return (
            f"Forecaster(context={self.context}, horizon={self.horizon}, targets={self.targets!r}, "
            f"covariates={self.covariates!r}, method={self.method!r}, head={self.head!r}, intervals={self.intervals!r})"
        )

    # ------------------------------------------------------------------------------ checks
    def _verbosity(self) -> int:
        v = self.verbose
        return int(bool(v)) if isinstance(v, bool) else int(v)

    def _norm_mode(self) -> str:
        mode = self.instance_norm
        if mode is True:
            return "mean"
        if mode is False or mode is None:
            return "none"
        from lstmkit.tasks.timeseries.network import INSTANCE_NORMS

        if mode not in INSTANCE_NORMS:
            raise ConfigError(f"instance_norm must be one of {', '.join(map(repr, INSTANCE_NORMS))} or a bool; found {mode!r}")
        return mode

    def _segment_length(self) -> int:
        """The segment of the fitted network (or of the given ``segment``/``context``)."""
        if self.segment_ is not None:
            return int(self.segment_)
        context = self.context if self.context is not None else 336
        if self.segment is None:
            return auto_segment(int(context))
        seg = check_int("segment", self.segment, 1)
        if context % seg:
            raise ConfigError(f"segment must divide context={context}; found segment={seg}")
        return seg

    def _check_params(self) -> None:
        from lstmkit.tasks.timeseries.local import TRANSFORMS
        from lstmkit.tasks.timeseries.selection import METHODS

        for name in ("context", "horizon", "epochs", "batch_size", "patience", "segment", "season"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        for name in ("units", "layers", "stride"):
            check_int(name, getattr(self, name), 1)
        check_int("seed", self.seed, 0)
        if not isinstance(self.verbose, bool):
            check_int("verbose", self.verbose, 0)
        if self.threads is not None:
            check_int("threads", self.threads, 1)
        _number("dropout", self.dropout, 0.0, 1.0)
        _number("learning_rate", self.learning_rate, 0.0, open_low=True)
        if self.clip_norm is not None:
            _number("clip_norm", self.clip_norm, 0.0, open_low=True)
        from lstmkit.train.precision import check_precision

        check_precision(self.precision)
        _number("level", self.level, 0.0, 1.0, open_low=True)
        if self.context is not None and self.segment is not None and self.context % self.segment:
            raise ConfigError(f"segment must divide context={self.context}; found segment={self.segment}")
        self._norm_mode()
        for name, value, choices in (
            ("head", self.head, ("direct", "autoregressive")), ("loss", self.loss, ("mse", "mae")),
            ("lr_schedule", self.lr_schedule, LR_SCHEDULES), ("method", self.method, METHODS),
            ("transform", self.transform, TRANSFORMS),
        ):
            if value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; found {value!r}")
        if self.intervals is not None and self.intervals not in INTERVALS:
            raise ConfigError(f"intervals must be None, 'quantile' or 'gaussian'; found {self.intervals!r}")
        targets, covariates = _names("targets", self.targets), _names("covariates", self.covariates) or []
        both = set(targets or []) & set(covariates)
        if both:
            raise ConfigError(f"column {sorted(both)[0]!r} is listed both as a target and as a covariate")
        if covariates and self.head == "autoregressive":
            raise ConfigError(
                "head='autoregressive' cannot use covariates (their future values are unknown); use head='direct'"
            )
        from lstmkit.tasks.timeseries.sizing import LONG_BATCH, LONG_CONTEXT, LONG_HORIZON

        # Before the data is read the sizes left to the data are taken at their largest defaults.
        context = int(self.context if self.context is not None else LONG_CONTEXT)
        segment = int(self.segment) if self.segment is not None else auto_segment(context)
        self._check_memory(len(targets or [None]) + len(covariates), context,
                           int(self.horizon if self.horizon is not None else LONG_HORIZON), segment,
                           int(self.batch_size if self.batch_size is not None else LONG_BATCH))

    def _check_memory(self, n_columns: int, context: int, horizon: int, segment: int, batch_size: int) -> None:
        """Sizes that cannot be trained in this machine's memory: one line naming ``units``, before allocating."""
        from lstmkit.util.memory import check_training_fits, lstm_params

        units, layers = int(self.units), int(self.layers)
        params = lstm_params(segment * n_columns, units, layers) + units * int(horizon) * n_columns * 3
        steps = max(int(context) // segment, 1)
        check_training_fits("units", self.units, params, activation_floats=6 * int(batch_size) * steps * units * layers)

    def _require_fitted(self, what: str) -> None:
        if self.method_ is None and self.network_ is None:
            raise ConfigError(f"Forecaster.{what}: not fitted yet; call fit(df) or Forecaster.load(path)")

    def _require_network(self, what: str) -> None:
        self._require_fitted(what)
        if self.network_ is None:
            raise ConfigError(f"Forecaster.{what}: this forecaster has no LSTM network (method {self.method_!r} "
                              "was fitted without one); fit it with method='lstm'")

    @property
    def columns_(self) -> list[str]:
        """Every column the model reads: the targets, then the covariates."""
        return list(self.targets_ or []) + list(self.covariates_ or [])

    @property
    def interval_level_(self) -> float | None:
        """Nominal coverage of the prediction intervals, or None without intervals."""
        return float(self.level) if self.intervals else None

    def season_(self) -> int:
        """The seasonal period for seasonal naive, ETS and MASE (``season``, else the one chosen at fit,
        else from the frequency)."""
        if self.season is not None:
            return int(self.season)
        if self.season_value_ is not None:
            return int(self.season_value_)
        from lstmkit.data.timeseries import season_for_freq

        return season_for_freq(self.freq_)

    # ------------------------------------------------------------------------------ frames
    def _frame(self, df: Any, source: str, columns: list[str] | None, advice: Advice | None = None) -> "pd.DataFrame":
        from lstmkit.data.timeseries import check_frame

        return check_frame(df, time_col=self.time_col, columns=columns, fill=self.fill, source=source, advice=advice)

    def _check_like_training(self, frame: "pd.DataFrame", source: str, need: int, what: str) -> "pd.DataFrame":
        """Same frequency as the training data, and at least ``need`` rows."""
        from lstmkit.data.timeseries import infer_freq

        freq = infer_freq(frame.index)
        if self.freq_ is not None and freq is not None and freq != self.freq_:
            raise DataError(f"{source}: the series has frequency {freq!r}, the model was trained on {self.freq_!r} data")
        if len(frame) < need:
            raise DataError(f"{source}: series too short: {len(frame)} rows; {what} needs at least {need} rows")
        return frame

    def _model_space(self, values: np.ndarray) -> np.ndarray:
        """Rows ``(T, C + K)`` in the data's units -> the targets transformed (covariates as they are)."""
        x = np.asarray(values, dtype=np.float64)
        if self.transform_ is None or self.transform_.kind == "none":
            return x
        C = len(self.targets_)
        out = x.copy()
        out[:, :C] = self.transform_.forward(x[:, :C])
        return out

    def _scale_rows(self, values: np.ndarray) -> np.ndarray:
        """Rows in the data's units -> the LSTM's inputs (transformed, then z-scored), float32."""
        return self.scaler_.transform(self._model_space(values)).astype(np.float32)

    def _scaled(self, frame: "pd.DataFrame") -> np.ndarray:
        return self._scale_rows(frame[self.columns_].to_numpy(dtype=np.float64))

    def _unscale_targets(self, values: np.ndarray) -> np.ndarray:
        """Targets ``(..., C)`` from training z-scores back to the (transformed) model space."""
        C = len(self.targets_)
        return values * self.scaler_.scale_[:C] + self.scaler_.mean_[:C]

    def _original(self, values: np.ndarray) -> np.ndarray:
        """Targets ``(..., C)`` in the model space -> the data's units (the inverse transform)."""
        if self.transform_ is None or self.transform_.kind == "none":
            return values
        return self.transform_.inverse(values)

    def _clip(self, result: dict[str, np.ndarray], warn: bool = True) -> dict[str, np.ndarray]:
        """Targets that were never negative: forecasts and bounds clipped at 0 (a warning when a bound was below)."""
        if not any(self.nonneg_):
            return result
        mask = np.asarray(self.nonneg_, dtype=bool)
        if warn and "lower" in result and self.advice_ is not None:
            for j, name in enumerate(self.targets_):
                if mask[j]:
                    check_non_negative_bounds(self.advice_, np.zeros(1), result["lower"][..., j], name)
        return {k: np.where(mask, np.maximum(v, 0.0), v) for k, v in result.items()}

    # ------------------------------------------------------------------------------ fit
    def _split(self, frame: "pd.DataFrame", valid: Any, context: int) -> tuple[tuple[int, int], tuple[int, int] | None, "pd.DataFrame | None"]:
        """(train rows, valid rows of ``frame`` or None, a separate validation frame or None)."""
        import pandas as pd

        from lstmkit.data.timeseries import split_borders

        n, L, H = len(frame), int(context), int(self.horizon_)
        if valid is None:
            if n < L + H:
                raise DataError(f"training data: series too short: {n} rows; context {L} + horizon {H} needs at least {L + H}")
            return (0, n), None, None
        if isinstance(valid, pd.DataFrame):
            return (0, n), None, valid
        if isinstance(valid, str):
            b = split_borders(n, context=L, horizon=H, scheme=valid)
            return b["train"], b["valid"], None
        if isinstance(valid, (float, np.floating)) and not isinstance(valid, bool) and 0 < valid < 1:
            cut = n - int(n * valid)
            if cut < L + H or n - cut < H:
                raise DataError(
                    f"training data: series too short for valid={valid}: {n} rows give {cut} training rows "
                    f"(context {L} + horizon {H} needs {L + H}) and {n - cut} validation rows (needs {H})"
                )
            return (0, cut), (cut - L, n), None
        raise ConfigError(
            "valid must be None, a fraction in (0, 1) (the last rows), 'ett', 'fractions' or a DataFrame; "
            f"found {valid!r}"
        )

    @staticmethod
    def _train_rows_estimate(n: int, valid: Any, internal_rows: int) -> int:
        """Rows the LSTM will train on, before the context is known (for sizing it)."""
        from lstmkit.data.timeseries import ETT_BORDERS_HOURS

        if valid is None:
            return n - internal_rows
        if isinstance(valid, str):
            return ETT_BORDERS_HOURS[0] if valid == "ett" else int(n * 0.7)
        if isinstance(valid, (float, np.floating)) and not isinstance(valid, bool) and 0 < valid < 1:
            return n - int(n * valid)
        return n

    def fit(self, df: "pd.DataFrame", valid: Any = None) -> Forecaster:
        """Check the data, size what was left unset, fit the candidates, choose the method, refit it.

        ``valid``: ``None`` (default): with ``method="auto"`` or ``"ensemble"`` (and with ``"lstm"``
        when ``epochs`` is left to the data) the last :func:`~lstmkit.tasks.timeseries.sizing.validation_span`
        rows are held back: the candidates are fitted on the rows before, scored there (the LSTM also
        early-stops there), and the chosen method is refitted on every row (the LSTM for its best
        number of epochs). With ``method="lstm"`` and ``epochs`` given: trained on every row, no early
        stopping (the behaviour before ``method`` existed). ``"ets"`` and ``"seasonal_naive"`` fit on every row.

        Given ``valid``: a fraction (the last rows are validation; windows may read their context from
        the training rows before), ``"ett"`` or ``"fractions"`` (:func:`lstmkit.data.timeseries.split_borders`:
        train and validation rows of ``df``; its test rows are not touched), or a DataFrame holding a
        validation series. The LSTM trains on the training rows, early-stopping on the validation MSE
        of the point forecast (in training z-scores), or, with intervals, the validation loss (pinball /
        negative log-likelihood); the candidates are scored on up to 20 validation windows; nothing is
        refitted (the LSTM stays as trained, exactly as before ``method`` existed).

        Training runs through :class:`lstmkit.train.Trainer` (so also in ``torchrun`` data parallelism:
        every process calls ``fit`` on the same data and trains its shard of each batch).
        """
        from lstmkit.data.timeseries import infer_freq
        from lstmkit.tasks.timeseries import sizing
        from lstmkit.tasks.timeseries.local import AutoETS, Transform

        self._check_params()
        self._resolved_precision()  # bf16 where the CPU cannot run it fails before any data work
        self._reset_fitted()
        advice = self.advice_ = Advice(echo=None)  # choices are echoed once every check has passed
        targets, covariates = _names("targets", self.targets), _names("covariates", self.covariates) or []
        columns = None if targets is None else targets + covariates
        frame = self._frame(df, "training data", columns, advice)
        missing = [c for c in covariates if c not in frame.columns]
        if missing:
            raise DataError(f"training data: unknown covariate {missing[0]!r}; columns present: {', '.join(map(str, frame.columns))}")
        if targets is None:
            targets = [c for c in frame.columns if c not in covariates]
            if not targets:
                raise DataError("training data: every numeric column is a covariate; name the targets")
        self.targets_, self.covariates_ = [str(t) for t in targets], [str(c) for c in covariates]
        frame = frame[self.columns_]
        self.freq_ = infer_freq(frame.index)
        self.index_name_ = frame.index.name
        values = frame.to_numpy(dtype=np.float64)
        n, C = len(frame), len(self.targets_)
        method = self.method

        # ---- sizes
        m, why = sizing.season_from_index(self.freq_, values[:, 0]) if self.season is None else (None, "")
        season = int(advice.choose("season", self.season, m, why))
        h, why = sizing.default_horizon(n, self.freq_, season) if self.horizon is None else (None, "")
        H = int(advice.choose("horizon", self.horizon, h, why))
        self.season_value_, self.horizon_ = season, H
        sizing.require_rows(n, H, "training data")
        long = n >= sizing.LONG_ROWS
        uses_lstm = method in ("auto", "lstm", "ensemble")
        validate = method in ("auto", "ensemble") or (method == "lstm" and (valid is not None or self.epochs is None))
        internal = validate and valid is None
        V = sizing.validation_span(n, H) if internal else 0
        cycle, cycle_why = (season, "") if long else sizing.cycle_for(season, values[:, 0])
        L: int | None = None
        if uses_lstm:
            rows_est = self._train_rows_estimate(n, valid, V)
            if self.context is not None:
                L, why = int(self.context), ""
            elif long:
                L, why = sizing.LONG_CONTEXT, f"{n:,} rows: the long-horizon protocol (ETT, Informer/DLinear) reads 336 steps"
            else:
                L, why = sizing.default_context(rows_est, H, cycle)
                if cycle > 1 and cycle != season:
                    why += f" ({cycle_why})"
            if L is None:
                if method == "lstm":
                    raise DataError(
                        f"training data: too short for the LSTM: {why}; use --method ets or seasonal_naive "
                        f"(method=), a smaller --horizon, or give more data")
                advice.note("lstm", "left out", why)
                uses_lstm = False
            else:
                L = int(advice.choose("context", self.context, L, why))
                if self.segment is not None:
                    S = int(self.segment)
                    if L % S:
                        raise ConfigError(f"segment must divide context={L}; found segment={S}")
                    advice.choose("segment", S, None, "")
                else:
                    S, why = sizing.default_segment(L, 1 if long else cycle)
                    S = int(advice.choose("segment", None, S, why))
                self.context_, self.segment_ = L, S
        if method != "auto":
            advice.choose("method", method, None, "")

        # ---- rows: training, validation, origins to score
        valid_frame = None
        if internal:
            train_rows: tuple[int, int] = (0, n - V)
            valid_rows = (n - V - L, n) if uses_lstm else None
            if uses_lstm and n - V - L - H + 1 < 1:
                raise DataError(
                    f"training data: series too short: {n} rows; context {L} + horizon {H} needs at least {L + H} "
                    f"training rows, and the last {V} rows are kept to validate on (needs {L + H + V}); "
                    f"lower --context or give more data")
            origins = np.arange(n - V, n - H + 1)
        elif valid is None or not uses_lstm:
            train_rows, valid_rows, origins = (0, n), None, np.zeros(0, dtype=np.int64)
        else:
            train_rows, valid_rows, valid_frame = self._split(frame, valid, L)
            if valid_rows is not None:
                a, b = valid_rows
                origins = np.arange(a + L, b - H + 1)
            else:
                origins = np.zeros(0, dtype=np.int64)
            if len(origins) > SELECT_WINDOWS:
                origins = np.unique(np.linspace(origins[0], origins[-1], SELECT_WINDOWS).round().astype(np.int64))
        self.transform_ = Transform.fit(self.transform, values[slice(*train_rows), :C], season, self.targets_)
        if self.transform != "none":
            advice.choose("transform", self.transform, None, "")
        self.nonneg_ = [bool(np.min(values[:, j]) >= 0) for j in range(C)]
        model_values = self._model_space(values)

        # ---- LSTM sizes (from the windows it will see)
        windows = 0
        if uses_lstm:
            from lstmkit.data.timeseries import window_starts

            windows = len(window_starts(train_rows[1] - train_rows[0], L, H, stride=int(self.stride)))
            if windows == 0:
                raise DataError(f"training data: series too short: {train_rows[1] - train_rows[0]} training rows; "
                                f"context {L} + horizon {H} needs at least {L + H}")
            ts = sizing.training_sizes(windows, long)
            self.batch_size_ = int(advice.choose("batch_size", self.batch_size, ts.batch_size, ts.batch_reason))
            self.epochs_ = int(advice.choose("epochs", self.epochs, ts.epochs, ts.epochs_reason))
            pa, pa_why = (ts.patience, ts.patience_reason) if long else patience_for(self.epochs_)
            self.patience_ = int(advice.choose("patience", self.patience, pa, pa_why))
            self._check_memory(len(self.columns_), L, H, self.segment_, self.batch_size_)

        # ---- every check has passed: say what was chosen
        if self._verbosity():
            for c in advice.choices:
                if not c.given:
                    _stderr(c.line())
            advice.echo = _stderr
        if internal and len(origins) < 3 and method in ("auto", "ensemble"):
            advice.warn(f"the method is chosen on {len(origins)} validation window(s) of {H} steps ({n} rows); "
                        f"the choice is noisy (give a longer series or a smaller --horizon)")

        # ---- fit the candidates on the training rows
        from lstmkit.nn.threads import torch_threads

        a, b = train_rows
        if uses_lstm:
            valid_series = None
            from lstmkit.data.timeseries import StandardScaler

            self.scaler_ = StandardScaler().fit(model_values[a:b])
            series = self.scaler_.transform(model_values).astype(np.float32)
            if valid_frame is not None:
                vf = self._frame(valid_frame, "validation data", self.columns_)[self.columns_]
                self._check_like_training(vf, "validation data", L + H, "a validation window")
                valid_series = self._scale_rows(vf.to_numpy(dtype=np.float64))
            elif valid_rows is not None:
                valid_series = series[slice(*valid_rows)]
            with torch_threads(self.threads):
                seed_everything(self.seed)
                self._train(series[a:b], valid_series)
            check_gradient_steps(advice, int(self.train_result_.steps),
                                 remedy="raise --epochs or lower --batch-size")
        wants_ets = method in ("auto", "ensemble", "ets")
        ets_models = None
        if wants_ets:
            s0 = max(a, b - ETS_MAX_ROWS)
            ets_models = [AutoETS(season).fit(model_values[s0:b, j]) for j in range(C)]
            self.ets_, self.ets_start_ = ets_models, str(frame.index[s0])

        # ---- score on the validation windows and choose
        chosen = method
        if validate and (len(origins) or valid_frame is not None):
            candidates = ["seasonal_naive"] + (["ets"] if wants_ets else []) + (["lstm"] if uses_lstm else [])
            if valid_frame is not None:
                vf = self._frame(valid_frame, "validation data", self.columns_)[self.columns_]
                v_values = vf.to_numpy(dtype=np.float64)
                v_origins = np.arange(L, len(vf) - H + 1)
                if len(v_origins) > SELECT_WINDOWS:
                    v_origins = np.unique(np.linspace(v_origins[0], v_origins[-1], SELECT_WINDOWS).round().astype(np.int64))
                preds = self._at_origins(candidates, v_values, v_origins, None, members=None)
                y = np.stack([v_values[o : o + H, :C] for o in v_origins])
            else:
                preds = self._at_origins(candidates, values, origins, s0 if wants_ets else None, members=None)
                y = np.stack([values[o : o + H, :C] for o in origins])
            from lstmkit.tasks.timeseries.selection import ENSEMBLE_MARGIN, LABELS, select

            force = None if method == "auto" else method
            sel = select({k: v["point"] for k, v in preds.items()}, y, values[a:b, :C], season,
                         int(y.shape[0] + H - 1), force=force)
            self.selection_ = sel
            chosen = sel.chosen
            if method == "auto":
                why = sel.line()
                if chosen == "ensemble":
                    why += f"; ensemble = mean of {' and '.join(LABELS[k] for k in sel.members)}"
                lowest = sel.scores[chosen] <= min(sel.scores.values())
                lead = "lowest" if lowest else f"within {ENSEMBLE_MARGIN:.0%} of the best single method's"
                advice.note("method", chosen, f"{lead} {why}")
            else:
                advice.note("validation", "MASE", sel.line())
                if method == "lstm" and sel.scores.get("lstm", 0) > 1.1 * sel.scores["seasonal_naive"]:
                    advice.warn(f"the LSTM's validation MASE {sel.scores['lstm']:.3f} is worse than seasonal naive's "
                                f"{sel.scores['seasonal_naive']:.3f}; --method auto would not choose it")
        elif method == "auto":
            chosen = "lstm" if uses_lstm else "ets"
        if chosen == "ensemble" and self.selection_ is None:
            from lstmkit.tasks.timeseries.selection import ensemble_members

            members = ensemble_members(["seasonal_naive", "ets"] + (["lstm"] if uses_lstm else []))
        elif chosen == "ensemble":
            members = list(self.selection_.members)
        else:
            members = [chosen]
        self.method_ = chosen
        self._members = members

        # ---- refit the chosen method on every row (when validation rows were held back)
        if internal:
            if "ets" in members:
                s0 = max(0, n - ETS_MAX_ROWS)
                self.ets_ = [AutoETS(season).fit(model_values[s0:, j]) for j in range(C)]
                self.ets_start_ = str(frame.index[s0])
            else:
                self.ets_ = self.ets_start_ = None
            if "lstm" in members:
                from lstmkit.data.timeseries import StandardScaler

                self.refit_epochs_ = int(self.best_epoch_ or self.epochs_)
                self.scaler_ = StandardScaler().fit(model_values)
                series = self.scaler_.transform(model_values).astype(np.float32)
                keep = (self.history_, self.best_epoch_, self.valid_mse_, self.fit_seconds_ or 0.0)
                advice.note("refit", f"{self.refit_epochs_} epochs",
                            f"the LSTM trained again on all {n} rows for its best number of epochs")
                with torch_threads(self.threads):
                    seed_everything(self.seed)
                    self._train(series, None, epochs=self.refit_epochs_)
                self.history_, self.best_epoch_, self.valid_mse_ = keep[0], keep[1], keep[2]
                self.fit_seconds_ = keep[3] + (self.fit_seconds_ or 0.0)
            self.last_fit_label_ = str(frame.index[n - 1])
        else:
            if "ets" not in members:
                self.ets_ = self.ets_start_ = None
            if valid_rows is None and valid_frame is None:
                self.last_fit_label_ = str(frame.index[n - 1])
            else:
                last_row = max(train_rows[1], valid_rows[1] if valid_rows else 0) - 1
                self.last_fit_label_ = str(frame.index[last_row])
        if method in ("ets", "seasonal_naive"):
            self.last_fit_label_ = str(frame.index[n - 1])
        return self

    def _build_network(self) -> Any:
        from lstmkit.tasks.timeseries.network import LSTMForecastNetwork

        q = (0.5 - self.level / 2, 0.5, 0.5 + self.level / 2)
        return LSTMForecastNetwork(
            len(self.targets_), int(self.horizon_), n_covariates=len(self.covariates_), segment=int(self.segment_),
            hidden_size=int(self.units), num_layers=int(self.layers), instance_norm=self._norm_mode(), head=self.head,
            output=self.intervals or "point", quantiles=q, dropout=float(self.dropout), point_loss=self.loss,
        )

    def _batch(self, series: Any, starts: Any) -> tuple[Any, Any, Any]:
        """Windows at ``starts`` of a ``(T, C + K)`` tensor: ``x (B, L, C)``, ``cov (B, L, K) | None``, ``y (B, H, C)``."""
        import torch

        L, C = int(self.context_), len(self.targets_)
        idx = starts[:, None] + torch.arange(L + int(self.horizon_))
        w = series[idx]
        cov = w[:, :L, C:] if self.covariates_ else None
        return w[:, :L, :C], cov, w[:, L:, :C]

    def _validate(self, series: Any, starts: Any) -> tuple[float, float]:
        """``(MSE of the point forecast, mean training loss)`` over the windows at ``starts``."""
        import torch

        net = self.network_
        net.eval()
        total, count, loss_total = 0.0, 0, 0.0
        with torch.no_grad():
            for b in range(0, len(starts), 1024):
                x, cov, y = self._batch(series, starts[b : b + 1024])
                out = net(x, cov)
                err = net.point(out) - y
                total += float((err * err).sum())
                count += err.numel()
                loss_total += float(net.loss(out, y)) * len(x)
        return total / max(count, 1), loss_total / max(len(starts), 1)

    def _resolved_precision(self, name: str = "precision") -> str:
        """``"fp32"`` or ``"bf16"`` for ``precision`` on this CPU; ``"bf16"`` without bf16 units is a ConfigError."""
        from lstmkit.train.precision import resolve_precision

        return resolve_precision(self.precision, "cpu", name=name)

    def _train(self, train: np.ndarray, valid: np.ndarray | None, epochs: int | None = None) -> None:
        """Train ``network_`` through :class:`lstmkit.train.Trainer` on the windows of ``train``.

        Batches: the training windows' start rows, in the order of one ``torch.Generator`` seeded with
        ``seed`` (a permutation per epoch, :class:`~lstmkit.tasks.timeseries.network.ReplayedOrder`).
        Schedule: :class:`~lstmkit.train.Cosine` (no warm-up, floor 0) over every step of ``epochs``,
        or constant. Early stopping (with ``valid``): :class:`~lstmkit.train.EarlyStopping` on
        ``val_mse`` (point models) or ``val_loss`` (intervals), ``patience`` epochs, best weights restored.
        """
        import torch

        from lstmkit.data.timeseries import window_starts
        from lstmkit.tasks.timeseries.network import ReplayedOrder
        from lstmkit.train import Constant, Cosine, EarlyStopping, FunctionHooks, StepOutput, Trainer

        L, H = int(self.context_), int(self.horizon_)
        epochs = int(self.epochs_ if epochs is None else epochs)
        net = self.network_ = self._build_network()
        train_t = torch.from_numpy(np.ascontiguousarray(train))
        starts = torch.from_numpy(window_starts(len(train), L, H, stride=int(self.stride)))
        if len(starts) == 0:
            raise DataError(f"training data: series too short: {len(train)} training rows; context {L} + horizon {H} needs at least {L + H}")
        valid_t = valid_starts = None
        if valid is not None:
            valid_t = torch.from_numpy(np.ascontiguousarray(valid))
            valid_starts = torch.from_numpy(window_starts(len(valid), L, H))
            if len(valid_starts) == 0:
                raise DataError(f"validation data: too short: {len(valid)} rows; context {L} + horizon {H} needs at least {L + H}")
        self.train_windows_ = len(starts)
        seed = int(self.seed)
        batches = ReplayedOrder(starts, batch_size=int(self.batch_size_),
                                new_generator=lambda: torch.Generator().manual_seed(seed),
                                draw=lambda gen, n: torch.randperm(n, generator=gen))

        def step(model: Any, rows: Any, carry: Any) -> StepOutput:
            x, cov, y = self._batch(train_t, rows)
            out = model(x, cov, target=y)
            return StepOutput(model.loss(out.float(), y), weight=len(rows))

        evaluate = None
        if valid_t is not None:
            def evaluate(model: Any) -> dict[str, float]:
                val_mse, val_loss = self._validate(valid_t, valid_starts)
                return {"val_mse": val_mse, "val_loss": val_loss}

        # Point models stop on the validation MSE; interval models on their own loss (pinball / NLL),
        # which also scores the intervals.
        stopper = None if evaluate is None else EarlyStopping(
            monitor="val_loss" if self.intervals else "val_mse", mode="min", patience=int(self.patience_))
        epoch_t0 = [0.0]
        what = "refit, " if valid is None and self.refit_epochs_ is not None else ""

        def on_epoch_end(state: Any, logs: dict[str, float]) -> None:
            if not self._verbosity() or state.rank != 0:
                return
            line = f"epoch {state.epoch + 1}/{epochs}: {what}train loss {logs['loss']:.4f}"
            if "val_mse" in logs:
                line += f", valid MSE {logs['val_mse']:.4f}" + (f", valid loss {logs['val_loss']:.4f}" if self.intervals else "")
            print(f"{line} ({time.perf_counter() - epoch_t0[0]:.1f} s)", flush=True)

        hooks = FunctionHooks(on_epoch_begin=lambda state: epoch_t0.__setitem__(0, time.perf_counter()),
                              on_epoch_end=on_epoch_end)
        trainer = Trainer(
            net, torch.optim.Adam(net.parameters(), lr=float(self.learning_rate)), step, batches,
            epochs=epochs, schedule=Cosine() if self.lr_schedule == "cosine" else Constant(),
            clip_norm=None if self.clip_norm is None else float(self.clip_norm), early_stopping=stopper,
            precision=self._resolved_precision(), evaluate=evaluate, hooks=hooks, handle_sigint=False,
        )
        t0 = time.perf_counter()
        result = self.train_result_ = trainer.fit()
        net.eval()
        self.fit_seconds_ = time.perf_counter() - t0
        rows = result.history
        self.history_ = {
            "loss": [h["loss"] for h in rows], "val_mse": [h["val_mse"] for h in rows if "val_mse" in h],
            "val_loss": [h["val_loss"] for h in rows if "val_loss" in h], "seconds": [h["seconds"] for h in rows],
        }
        best = result.best_epoch
        self.best_epoch_ = best if best is not None else len(rows)
        self.valid_mse_ = self.history_["val_mse"][best - 1] if valid_t is not None and best is not None else None

    # ------------------------------------------------------------------------------ the methods at origins
    def _ets_for(self, model_targets: np.ndarray, labels: Any, ets_offset: int | None, fit_end: int
                 ) -> tuple[list[Any], int]:
        """The ETS models to run over ``model_targets`` and the row they start at: the fitted ones from the
        row they were fitted from (``ets_offset``, or found by its label), else the same models refitted on
        the last rows before ``fit_end`` (the first forecast origin: nothing after it is seen)."""
        from lstmkit.tasks.timeseries.local import AutoETS

        if ets_offset is None and self.ets_start_ is not None and labels is not None:
            for pos, label in enumerate(labels):
                if str(label) == self.ets_start_:
                    ets_offset = pos
                    break
        if ets_offset is not None:
            return list(self.ets_), int(ets_offset)
        start = max(0, int(fit_end) - ETS_MAX_ROWS)
        refit = [AutoETS(m.season, spec=m.spec_).fit(model_targets[start:fit_end, j]) if m.spec_ is not None
                 else AutoETS(m.season).fit(model_targets[start:fit_end, j]) for j, m in enumerate(self.ets_)]
        return refit, start

    def _at_origins(self, methods: Sequence[str], values: np.ndarray, origins: np.ndarray, ets_offset: int | None,
                    *, members: Sequence[str] | None, labels: Any = None, level: float | None = None
                    ) -> dict[str, dict[str, np.ndarray]]:
        """Forecasts of ``methods`` after each origin ``o`` (rows ``[0, o)`` observed) of ``values``
        ``(T, C + K)`` in the data's units: method -> ``{"point", ["lower", "upper"]}``, each ``(N, H, C)``
        in the data's units (``"ensemble"``: the mean of ``members``)."""
        from lstmkit.tasks.timeseries.local import ets_forecasts, seasonal_naive

        H, C = int(self.horizon_), len(self.targets_)
        mv = self._model_space(values)
        mt = mv[:, :C]
        needed = set(methods) | (set(members or []) if "ensemble" in methods else set())
        out: dict[str, dict[str, np.ndarray]] = {}
        if "seasonal_naive" in needed:
            parts = [seasonal_naive(mt[:o], H, self.season_(), level) for o in origins]
            out["seasonal_naive"] = {k: np.stack([p[k] for p in parts]) for k in parts[0]}
        if "ets" in needed:
            models, start = self._ets_for(mt, labels, ets_offset, int(np.min(origins)))
            parts = [ets_forecasts(models, mt[start:o], H, level) for o in origins]
            out["ets"] = {k: np.stack([p[k] for p in parts]) for k in parts[0]}
        for name in list(out):
            out[name] = {k: self._original(v) for k, v in out[name].items()}
        if "lstm" in needed:
            L = int(self.context_)
            z = self.scaler_.transform(mv).astype(np.float32)
            x = np.stack([z[o - L : o] for o in origins])
            res = self._run(x)
            out["lstm"] = {k: self._original(self._unscale_targets(v.astype(np.float64))) for k, v in res.items()}
            if level is not None and not self.intervals:
                out["lstm"] = {"point": out["lstm"]["point"]}
        if "ensemble" in methods:
            parts = [out[k] for k in members]
            keys = set.intersection(*(set(p) for p in parts))
            out["ensemble"] = {k: np.mean([p[k] for p in parts], axis=0) for k in keys}
        return {k: v for k, v in out.items() if k in methods}

    # ------------------------------------------------------------------------------ predict
    def _run(self, x: np.ndarray, *, stats_from: np.ndarray | None = None, batch_size: int = 1024) -> dict[str, np.ndarray]:
        """Scaled windows ``(N, T, C + K)`` -> point (and lower/upper) ``(N, H, C)`` in training z-scores.

        ``stats_from`` ``(N, T', C + K)``: rows whose instance-normalisation statistics are used.
        """
        import torch

        from lstmkit.nn.threads import torch_threads

        net, C = self.network_, len(self.targets_)
        net.eval()
        parts: dict[str, list[np.ndarray]] = {"point": [], "lower": [], "upper": []}
        with torch_threads(self.threads), torch.no_grad():
            for b in range(0, len(x), batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[b : b + batch_size]))
                cov = xb[..., C:] if self.covariates_ else None
                stats = None
                if stats_from is not None:
                    sb = torch.from_numpy(np.ascontiguousarray(stats_from[b : b + batch_size]))
                    stats = net.instance_stats(sb[..., :C], sb[..., C:] if self.covariates_ else None)
                out = net(xb[..., :C], cov, stats=stats)
                self._collect(out, parts)
        return {k: np.concatenate(v) for k, v in parts.items() if v}

    def _collect(self, out: Any, parts: dict[str, list[np.ndarray]]) -> None:
        net = self.network_
        parts["point"].append(net.point(out).numpy())
        if self.intervals:
            lower, upper = net.interval(out, float(self.level))
            parts["lower"].append(lower.numpy())
            parts["upper"].append(upper.numpy())

    def _frame_of(self, values: dict[str, np.ndarray], index: Any) -> "pd.DataFrame":
        """One forecast ``{"point", ["lower", "upper"]}`` ``(H, C)`` in the data's units -> a DataFrame."""
        import pandas as pd

        from lstmkit.data.timeseries import future_index

        values = self._clip(values)
        cols: dict[str, np.ndarray] = {}
        for j, name in enumerate(self.targets_):
            cols[name] = values["point"][:, j]
            if self.intervals and "lower" in values:
                cols[f"{name}_lower"] = values["lower"][:, j]
                cols[f"{name}_upper"] = values["upper"][:, j]
        out = pd.DataFrame(cols, index=future_index(index, int(self.horizon_)))
        out.attrs["interval_level"] = self.interval_level_
        out.attrs["method"] = self.method_
        return out

    def _forecast_frame(self, result: dict[str, np.ndarray], index: Any) -> "pd.DataFrame":
        """One LSTM forecast ``(1, H, C)`` in z-scores -> a DataFrame over ``future_index(index, H)``."""
        values = {k: self._original(self._unscale_targets(v[0].astype(np.float64))) for k, v in result.items()}
        return self._frame_of(values, index)

    def predict(self, df: "pd.DataFrame", *, window: int | str | None = None, stats_rows: int | None = None) -> "pd.DataFrame":
        """Forecast the ``horizon`` steps after the last row of ``df`` with the chosen method (``method_``).

        Returns a DataFrame indexed by the next timestamps (or integers) with one column per target
        and, with intervals, ``<target>_lower`` / ``<target>_upper`` (nominal coverage ``level``,
        also in ``result.attrs["interval_level"]``; the method in ``result.attrs["method"]``).

        ETS runs the fitted models (their parameters and initial states) over the rows of ``df`` from
        the row they were fitted from when ``df`` holds it (new rows appended: no refit), else refits
        the same models on ``df``; seasonal naive repeats ``df``'s last season; the ensemble averages
        its two members (ETS and the LSTM).

        LSTM only: ``window``: ``None`` reads the last ``context`` rows (the normal use); ``"all"`` reads every
        row of ``df`` except the first ``len(df) mod segment`` (the LSTM runs over all of them from a
        zero state, longer than it was trained on); an int reads that many last rows (a multiple of
        ``segment``). ``stats_rows``: take the instance-normalisation statistics from the first
        ``stats_rows`` rows of ``df`` instead of the rows read. ``predict(d, window="all",
        stats_rows=context)`` is exactly what a :class:`ForecastStream` primed with ``d[:context]``
        gives after the remaining rows (see :meth:`stream`).
        """
        self._require_fitted("predict")
        frame = self._frame(df, "prediction data", self.columns_)[self.columns_]
        if self.method_ != "lstm":
            if window is not None or stats_rows is not None:
                raise ConfigError(f"predict: window= and stats_rows= read the LSTM; this forecaster uses method {self.method_!r}")
            need = int(self.context_) if "lstm" in self._members_() else 1
            self._check_like_training(frame, "prediction data", need, f"method {self.method_}")
            values = frame.to_numpy(dtype=np.float64)
            res = self._at_origins([self.method_], values, np.array([len(values)]), None, members=self._members_(),
                                   labels=frame.index, level=self.interval_level_)[self.method_]
            return self._frame_of({k: v[0] for k, v in res.items()}, frame.index)
        L, S = int(self.context_), self.network_.segment
        need = L if window is None else S
        self._check_like_training(frame, "prediction data", need, f"context {L}" if window is None else "a forecast")
        z = self._scaled(frame)
        if window is None:
            rows = z[-L:]
        elif window == "all":
            rows = z[len(z) % S :]
        else:
            w = check_int("window", window, 1)
            if w % S or w > len(z):
                raise ConfigError(f"window must be a multiple of segment={S} and at most {len(z)} rows; found {w}")
            rows = z[-w:]
        stats_from = None
        if stats_rows is not None:
            k = check_int("stats_rows", stats_rows, 1)
            if k > len(z):
                raise ConfigError(f"stats_rows must be at most the {len(z)} rows given; found {k}")
            stats_from = z[None, :k]
        return self._forecast_frame(self._run(rows[None], stats_from=stats_from), frame.index)

    def _members_(self) -> list[str]:
        members = getattr(self, "_members", None)
        if members:
            return list(members)
        if self.method_ == "ensemble" and self.selection_ is not None and self.selection_.members:
            return list(self.selection_.members)
        return [self.method_] if self.method_ else []

    # ------------------------------------------------------------------------------ backtest
    def _start_row(self, frame: "pd.DataFrame", start: Any, notes: list[str], first: int) -> int:
        import pandas as pd

        n, H = len(frame), int(self.horizon_)
        if start is None:
            row = first
            if self.last_fit_label_ is not None:
                try:
                    label = pd.Timestamp(self.last_fit_label_) if isinstance(frame.index, pd.DatetimeIndex) else int(self.last_fit_label_)
                    pos = int(frame.index.searchsorted(label, side="right"))
                except (ValueError, TypeError):
                    pos = 0
                if first <= pos <= n - H:
                    row = pos
                else:
                    notes.append(
                        "the data do not extend past the training rows by a horizon; the backtest starts at the first "
                        "possible origin and its windows may overlap the training data"
                    )
            return row
        if isinstance(start, (int, np.integer)) and not isinstance(start, bool):
            row = int(start)
        else:
            if not isinstance(frame.index, pd.DatetimeIndex):
                raise ConfigError(f"start: this series has no timestamps; give a row number, found {start!r}")
            try:
                stamp = pd.Timestamp(start)
            except (ValueError, TypeError):
                raise ConfigError(f"start: expected a row number or a timestamp, found {start!r}") from None
            row = int(frame.index.searchsorted(stamp, side="left"))
        if not first <= row <= n - H:
            raise DataError(
                f"backtest start: the first forecast must be at row {first}..{n - H} (after context {first} rows and with "
                f"{H} rows to score); found row {row}"
            )
        return row

    def backtest(
        self,
        df: "pd.DataFrame",
        start: Any = None,
        stride: int = 1,
        *,
        baselines: bool = True,
        scale: str = "original",
        batch_size: int = 1024,
    ) -> Backtest:
        """Rolling-origin evaluation: forecast at every ``stride``-th origin from ``start`` on, batched.

        ``start``: the first forecast timestamp (or row number); ``None``: the first row after the
        rows the model was fitted on when ``df`` extends past them by a horizon, else row ``context``.
        Every window whose ``horizon`` targets lie in ``df`` is scored; all windows go through the
        network in batches of ``batch_size``. The first metrics row is the LSTM's (when there is a
        network); when the forecaster chose another method, a row ``"lstmkit: <method>"`` follows (a
        method with ETS scores at most 100 evenly spaced windows, as the ETS baseline). ``baselines``:
        also score naive, seasonal naive, DLinear (fitted on the rows before ``start``, their last fifth
        for early stopping) and, for one target, ETS, on the same windows. ``scale``: metrics in the
        data's units (``"original"``) or in the training scaler's z-scores (``"standardized"``, the ETT
        protocol; LSTM rows only). MASE uses the rows before ``start`` as the in-sample series.
        """
        import pandas as pd

        self._require_fitted("backtest")
        stride = check_int("stride", stride, 1)
        if scale not in SCALES:
            raise ConfigError(f"scale must be 'original' or 'standardized'; found {scale!r}")
        if scale == "standardized" and self.network_ is None:
            raise ConfigError("scale='standardized' uses the LSTM's scaler; this forecaster has no LSTM network")
        frame = self._frame(df, "backtest data", self.columns_)[self.columns_]
        H, C = int(self.horizon_), len(self.targets_)
        L = int(self.context_) if self.network_ is not None else max(self.season_(), 1)
        self._check_like_training(frame, "backtest data", L + H, f"context {L} + horizon {H}")
        notes: list[str] = []
        row = self._start_row(frame, start, notes, L)
        from lstmkit.data.timeseries import gather_windows, window_starts
        from lstmkit.tasks.timeseries.metrics import metrics_row

        values = frame.to_numpy(dtype=np.float64)
        starts = window_starts(len(values) - (row - L), L, H, stride=stride) + (row - L)
        season = self.season_()
        mase_season = season if row > season else 1
        rows: list[dict[str, Any]] = []
        forecasts = None
        if self.network_ is not None:
            z = self._scaled(frame)
            x, y = gather_windows(z, starts, L, H)
            result = self._run(x, batch_size=batch_size)
            y = y[..., :C].astype(np.float64)
            history = z[:row, :C].astype(np.float64)
            contexts = x[..., :C].astype(np.float64)
            if scale == "original":  # through the scaler and back, as always (the documented tables are these numbers)
                y = self._original(self._unscale_targets(y))
                history = self._original(self._unscale_targets(history))
                result = self._clip({k: self._original(self._unscale_targets(v.astype(np.float64))) for k, v in result.items()},
                                    warn=False)
                contexts = self._original(self._unscale_targets(contexts))
            rows = self._metric_rows(y, result, history, contexts, season, baselines, notes)
            forecasts = self._long_frame(frame.index, starts, y, result)
        y_all = np.stack([values[s + L : s + L + H, :C] for s in starts])
        history_all = values[:row, :C]
        if self.method_ != "lstm":
            origins = starts + L
            keep = np.arange(len(origins))
            name = f"lstmkit: {self.method_}"
            if self.method_ in ("ets", "ensemble") and len(origins) > ETS_BACKTEST_WINDOWS:
                keep = np.unique(np.linspace(0, len(origins) - 1, ETS_BACKTEST_WINDOWS).round().astype(np.int64))
                name += f" ({len(keep)} of {len(origins)} windows)"
            res = self._at_origins([self.method_], values, origins[keep], None, members=self._members_(),
                                   labels=frame.index, level=self.interval_level_)[self.method_]
            res = self._clip(res, warn=False)
            chosen_row = {"model": name, **metrics_row(y_all[keep], res["point"], history_all, mase_season)}
            if "lower" in res:
                from lstmkit.tasks.timeseries.metrics import coverage

                chosen_row["coverage"] = coverage(y_all[keep], res["lower"], res["upper"])
            if rows:
                rows.insert(1, chosen_row)
            else:
                rows = [chosen_row]
                forecasts = self._long_frame(frame.index, starts[keep], y_all[keep], res)
                if baselines:
                    from lstmkit.tasks.timeseries.baselines import baseline_table

                    contexts = np.stack([values[s : s + L, :C] for s in starts])
                    try:
                        rows += baseline_table(history_all, None, contexts, y_all, H, season, history_all, dlinear=False)
                    except LstmkitError as e:
                        notes.append(f"baselines left out: {e}")
        return Backtest(forecasts, pd.DataFrame(rows), len(starts), frame.index[row], stride, scale,
                        self.interval_level_, notes, self.method_ or "lstm")

    def _metric_rows(self, y: np.ndarray, result: dict[str, np.ndarray], history: np.ndarray, contexts: np.ndarray,
                     season: int, baselines: bool, notes: list[str]) -> list[dict[str, Any]]:
        from lstmkit.tasks.timeseries.metrics import coverage, metrics_row

        mase_season = season if len(history) > season else 1
        row = {"model": "LSTM", **metrics_row(y, result["point"], history, mase_season)}
        if self.intervals:
            row["coverage"] = coverage(y, result["lower"], result["upper"])
        rows = [row]
        if baselines:
            from lstmkit.tasks.timeseries.baselines import baseline_table

            cut = int(len(history) * 0.8)
            train_part, valid_part = history[:cut], history[max(cut - int(self.context_), 0):]
            try:
                rows += baseline_table(train_part, valid_part, contexts, y, int(self.horizon_), season, history)
            except LstmkitError as e:
                notes.append(f"baselines left out: {e}")
        return rows

    def _long_frame(self, index: Any, starts: np.ndarray, y: np.ndarray, result: dict[str, np.ndarray]) -> "pd.DataFrame":
        import pandas as pd

        N, H, C = y.shape
        L = int(self.context_) if self.network_ is not None else max(self.season_(), 1)
        origin_pos = np.repeat(starts + L - 1, H * C)
        time_pos = (starts[:, None, None] + L + np.arange(H)[None, :, None] + np.zeros((1, 1, C), dtype=np.int64)).reshape(-1)
        cols = {
            "origin": np.asarray(index)[origin_pos],
            "time": np.asarray(index)[time_pos],
            "step": np.tile(np.repeat(np.arange(1, H + 1), C), N),
            "column": np.tile(np.asarray(self.targets_, dtype=object), N * H),
            "actual": y.reshape(-1),
            "forecast": result["point"].reshape(-1),
        }
        if self.intervals and "lower" in result:
            cols["lower"] = result["lower"].reshape(-1)
            cols["upper"] = result["upper"].reshape(-1)
        return pd.DataFrame(cols)

    def score(self, df: "pd.DataFrame", start: Any = None, stride: int = 1, *, metric: str = "mse",
              scale: str = "original") -> float:
        """One backtest metric of the LSTM alone (``"mse"``, ``"mae"``, ``"smape"``, ``"mase"``; lower is better)."""
        if metric not in ("mse", "mae", "smape", "mase"):
            raise ConfigError(f"metric must be one of 'mse', 'mae', 'smape', 'mase'; found {metric!r}")
        self._require_network("score")
        bt = self.backtest(df, start, stride, baselines=False, scale=scale)
        return float(bt.metrics.loc[0, metric])

    # ------------------------------------------------------------------------------ stepping
    def stream(self, history: "pd.DataFrame") -> ForecastStream:
        """A :class:`ForecastStream` of the LSTM, primed with the last ``context`` rows of ``history``."""
        self._require_network("stream")
        frame = self._frame(history, "stream history", self.columns_)[self.columns_]
        L = int(self.context_)
        self._check_like_training(frame, "stream history", L, f"priming with context {L}")
        return ForecastStream(self, frame.iloc[-L:], frame.index[-3:])

    # ------------------------------------------------------------------------------ save/load
    def _saved_params(self) -> dict[str, Any]:
        """The hyper-parameters with the sizes chosen from the data in place of ``None``."""
        params = self.get_params()
        for name in ("context", "horizon", "segment", "batch_size", "epochs", "patience"):
            value = getattr(self, f"{name}_")
            if value is not None:
                params[name] = int(value)
        if self.season_value_ is not None and params.get("season") is None:
            params["season"] = int(self.season_value_)
        for name, fallback in (("epochs", 10), ("batch_size", 256), ("patience", 3)):
            if params.get(name) is None:
                params[name] = fallback
        if isinstance(params.get("verbose"), bool):
            params["verbose"] = int(params["verbose"])
        return params

    def _metadata(self) -> dict[str, str]:
        meta = {
            "params": json.dumps(self._saved_params()),
            "columns": json.dumps({"targets": self.targets_, "covariates": self.covariates_}),
            "index": json.dumps({"name": self.index_name_, "freq": self.freq_, "last_fit": self.last_fit_label_}),
            "training": json.dumps({
                "history": self.history_, "best_epoch": self.best_epoch_, "valid_mse": self.valid_mse_,
                "fit_seconds": self.fit_seconds_, "train_windows": self.train_windows_,
                "refit_epochs": self.refit_epochs_,
            }),
            "method": json.dumps({
                "method": self.method_, "members": self._members_(),
                "selection": None if self.selection_ is None else self.selection_.to_json(),
                "ets": None if self.ets_ is None else [m.to_json() for m in self.ets_],
                "ets_start": self.ets_start_, "transform": None if self.transform_ is None else self.transform_.to_json(),
                "nonneg": list(self.nonneg_), "season": self.season_value_,
            }),
            "advice": json.dumps(self.advice_.to_json() if self.advice_ is not None else {"choices": [], "warnings": []}),
        }
        if self.network_ is not None:
            meta["network"] = json.dumps(self.network_.get_config())
            meta["scaler"] = json.dumps(self.scaler_.get_config())
        return meta

    def save(self, path: str | PathLike[str]) -> Path:
        """Write one ``kind="forecaster"`` lstmkit file (weights, config, scaler, columns, frequency, training
        summary, the chosen method with what it needs, the advice)."""
        from lstmkit.models.serialization import save_tensors

        self._require_fitted("save")
        out = prepare_output(path, "forecaster.lstmkit")
        tensors = dict(self.network_.state_dict()) if self.network_ is not None else {}
        save_tensors(out, tensors, self._metadata(), kind=KIND)
        return out

    @classmethod
    def _from_file(cls, path: Any, tensors: dict[str, Any], meta: dict[str, str]) -> Forecaster:
        return load_checked(cls, path, tensors, meta)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Forecaster:
        """Load a file written by :meth:`save`; any other lstmkit file is a ModelFileError saying what it holds.

        The metadata is checked against its schema and the weights (see :func:`lstmkit.tasks.timeseries.files.load_checked`).
        Files written before ``method`` existed load as ``method_ = "lstm"``.
        """
        from lstmkit.models.serialization import file_kind, load_tensors, read_metadata

        kind = file_kind(read_metadata(path))
        if kind != KIND:
            from lstmkit.util.registry import describe

            what = describe(kind)
            raise ModelFileError(
                f"model file {str(path)!r} holds {what}, not a forecaster; train one with lstmkit forecast train"
            )
        tensors, meta = load_tensors(path)
        obj = cls._from_file(path, tensors, meta)
        if obj.network_ is not None:
            obj.network_.eval()
        return obj


__all__ = ["Forecaster", "ForecastStream", "Backtest", "KIND"]
