"""Forecasting with an LSTM: :class:`Forecaster` (scikit-learn style, pandas in and out).

::

    fc = Forecaster(context=336, horizon=96, targets=["OT"], covariates=["HUFL", "HULL"], intervals="quantile")
    fc.fit(df, valid="ett")            # or valid=0.2 / a DataFrame / None; scaler fitted on training rows only
    fc.predict(df)                     # DataFrame: the next 96 timestamps; OT, OT_lower, OT_upper
    bt = fc.backtest(df, start="2018-01-01", stride=24)   # rolling origin, batched; bt.metrics has the baselines
    fc.score(df, start=...)            # backtest MSE (lower is better)
    stream = fc.stream(history)        # stateful stepping: stream.update(row); stream.forecast()
    fc.save("ot.lstmkit"); Forecaster.load("ot.lstmkit")

The network is :class:`lstmkit.tasks.timeseries.network.LSTMForecastNetwork` (segment-wise, channel-independent,
instance-normalised LSTM; see that module for the equations). Data flow::

    df (T, targets + covariates) --StandardScaler (training rows)--> z --last `context` rows-->
    network --> (H, targets, P) --inverse scaling--> forecast DataFrame

Covariates are channels that are read but not forecast; they are appended to each target channel's
segment features (channel-independent mode), so only their past is used.

Saved as one safetensors file (``kind="forecaster"``): the network's weights and JSON metadata with
the hyper-parameters, network config, scaler, column names, time index name and frequency, and the
training summary.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from lstmkit.errors import ConfigError, DataError, LstmkitError, ModelFileError
from lstmkit.tasks.timeseries.files import auto_segment, load_checked
from lstmkit.tasks.timeseries.stream import ForecastStream
from lstmkit.util.checks import ParamsMixin, check_int, prepare_output, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

KIND = "forecaster"
INTERVALS = ("quantile", "gaussian")
LR_SCHEDULES = ("cosine", "constant")
SCALES = ("original", "standardized")



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
    ``time``, ``step`` (1..H), ``column``, ``actual``, ``forecast`` (and ``lower``, ``upper``).
    ``metrics``: one row per model (``model`` column): ``mse``, ``mae``, ``smape``, ``mase``, and
    ``coverage`` (the share of actuals inside the interval; the LSTM's, when it has intervals).
    ``windows``: how many forecast origins; ``start``: the first forecast timestamp;
    ``scale``: ``"original"`` units or ``"standardized"`` (z-scores of the training scaler);
    ``interval_level``: the nominal level of the intervals (None without); ``notes``: caveats.
    """

    forecasts: "pd.DataFrame"
    metrics: "pd.DataFrame"
    windows: int
    start: Any
    stride: int
    scale: str
    interval_level: float | None
    notes: list[str] = field(default_factory=list)


class Forecaster(ParamsMixin):
    """An LSTM forecaster with scikit-learn's interface (see the module docstring).

    Hyper-parameters (stored as given; :meth:`fit` checks them):

    * ``context`` (rows read per forecast), ``horizon`` (steps forecast);
    * ``targets`` (columns forecast; ``None``: every numeric column that is not a covariate),
      ``covariates`` (columns only read), ``time_col`` (a timestamp column of the DataFrames, when
      the time axis is not the index);
    * ``segment`` (steps per LSTM input segment, must divide ``context``; ``None``: the largest
      divisor of ``context`` up to ``context // 7``, 48 for 336; 1 = a plain per-step LSTM),
      ``units`` (embedding/LSTM width), ``layers``, ``instance_norm`` (``"last"``: subtract the
      window's last value, the default; ``"mean"``: RevIN-style, subtract the mean and divide by the
      std; ``"none"``; ``True``/``False`` mean ``"mean"``/``"none"``), ``head`` (``"direct"``
      or ``"autoregressive"``), ``dropout``;
    * ``intervals`` (``None``, ``"quantile"``: pinball loss on the ``(1 - level)/2``, 0.5 and
      ``(1 + level)/2`` quantiles, or ``"gaussian"``: mean and scale by negative log-likelihood),
      ``level`` (nominal coverage of the intervals, default 0.8), ``loss`` (point models: ``"mse"``
      or ``"mae"``);
    * training (through the one engine, :mod:`lstmkit.train`): ``epochs``, ``batch_size``,
      ``learning_rate`` (Adam; ``lr`` is accepted as an alias), ``lr_schedule`` (``"cosine"`` decay per
      step to 0, or ``"constant"``), ``clip_norm`` (clip the global gradient norm; ``None``: off, the
      default), ``patience`` (early stopping on the validation MSE, or loss with intervals; best weights kept),
      ``stride`` (between training windows), ``precision`` (``"fp32"``, ``"bf16"``: autocast where the
      CPU has bfloat16 matrix units, else a ConfigError; ``"auto"``: bf16 only where it is faster, see
      :mod:`lstmkit.train.precision`), ``seed``, ``threads`` (torch threads; ``None`` leaves torch's
      setting), ``verbose`` (0 silent, 1 one line per epoch);
    * ``season`` (for seasonal-naive and MASE; ``None``: from the frequency, 24 hourly, 12 monthly...),
      ``fill`` (``None``: missing values are an error; ``"interpolate"``, ``"ffill"``, ``"zero"``).

    After :meth:`fit`: ``network_``, ``scaler_``, ``history_`` (per epoch: ``loss``, ``val_mse``,
    ``val_loss``, ``seconds``), ``best_epoch_``, ``valid_mse_``, ``fit_seconds_``, ``train_windows_`` and
    ``train_result_``, the engine's :class:`lstmkit.train.TrainResult` (stop reason, precision used,
    per-epoch learning rates; not saved).
    """

    _PARAMS = (
        "context", "horizon", "targets", "covariates", "time_col", "segment", "units", "layers", "instance_norm",
        "head", "dropout", "intervals", "level", "loss", "epochs", "batch_size", "learning_rate", "lr_schedule",
        "clip_norm", "patience", "stride", "precision", "seed", "threads", "season", "fill", "verbose",
    )
    #: Older spellings of hyper-parameters (accepted by ``__init__``, ``set_params`` and in saved files).
    _ALIASES = {"lr": "learning_rate"}

    def __init__(
        self,
        context: int = 336,
        horizon: int = 96,
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
        epochs: int = 10,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        lr_schedule: str = "cosine",
        clip_norm: float | None = None,
        patience: int = 3,
        stride: int = 1,
        precision: str = "fp32",
        seed: int = 0,
        threads: int | None = 1,
        season: int | None = None,
        fill: str | None = None,
        verbose: int = 0,
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
            f"covariates={self.covariates!r}, head={self.head!r}, intervals={self.intervals!r})"
        )

    # ------------------------------------------------------------------------------ checks
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
        if self.segment is None:
            return auto_segment(self.context)
        seg = check_int("segment", self.segment, 1)
        if self.context % seg:
            raise ConfigError(f"segment must divide context={self.context}; found segment={seg}")
        return seg

    def _check_params(self) -> None:
        check_int("context", self.context, 1)
        check_int("horizon", self.horizon, 1)
        for name in ("units", "layers", "epochs", "batch_size", "patience", "stride"):
            check_int(name, getattr(self, name), 1)
        check_int("seed", self.seed, 0)
        check_int("verbose", self.verbose, 0)
        if self.threads is not None:
            check_int("threads", self.threads, 1)
        if self.season is not None:
            check_int("season", self.season, 1)
        _number("dropout", self.dropout, 0.0, 1.0)
        _number("learning_rate", self.learning_rate, 0.0, open_low=True)
        if self.clip_norm is not None:
            _number("clip_norm", self.clip_norm, 0.0, open_low=True)
        from lstmkit.train.precision import check_precision

        check_precision(self.precision)
        _number("level", self.level, 0.0, 1.0, open_low=True)
        self._segment_length()
        self._norm_mode()
        for name, value, choices in (
            ("head", self.head, ("direct", "autoregressive")), ("loss", self.loss, ("mse", "mae")),
            ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
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
        self._check_memory(len(targets or [None]) + len(covariates))

    def _check_memory(self, n_columns: int) -> None:
        """Sizes that cannot be trained in this machine's memory: one line naming ``units``, before allocating."""
        from lstmkit.util.memory import check_training_fits, lstm_params

        segment = self._segment_length()
        units, layers = int(self.units), int(self.layers)
        params = lstm_params(segment * n_columns, units, layers) + units * int(self.horizon) * n_columns * 3
        steps = max(int(self.context) // segment, 1)
        check_training_fits("units", self.units, params, activation_floats=6 * int(self.batch_size) * steps * units * layers)

    def _require_fitted(self, what: str) -> None:
        if self.network_ is None:
            raise ConfigError(f"Forecaster.{what}: not fitted yet; call fit(df) or Forecaster.load(path)")

    @property
    def columns_(self) -> list[str]:
        """Every column the model reads: the targets, then the covariates."""
        return list(self.targets_ or []) + list(self.covariates_ or [])

    @property
    def interval_level_(self) -> float | None:
        """Nominal coverage of the prediction intervals, or None without intervals."""
        return float(self.level) if self.intervals else None

    def season_(self) -> int:
        """The seasonal period for seasonal-naive and MASE (``season``, else from the frequency)."""
        if self.season is not None:
            return int(self.season)
        from lstmkit.data.timeseries import season_for_freq

        return season_for_freq(self.freq_)

    # ------------------------------------------------------------------------------ frames
    def _frame(self, df: Any, source: str, columns: list[str] | None) -> "pd.DataFrame":
        from lstmkit.data.timeseries import check_frame

        return check_frame(df, time_col=self.time_col, columns=columns, fill=self.fill, source=source)

    def _check_like_training(self, frame: "pd.DataFrame", source: str, need: int, what: str) -> "pd.DataFrame":
        """Same frequency as the training data, and at least ``need`` rows."""
        from lstmkit.data.timeseries import infer_freq

        freq = infer_freq(frame.index)
        if self.freq_ is not None and freq is not None and freq != self.freq_:
            raise DataError(f"{source}: the series has frequency {freq!r}, the model was trained on {self.freq_!r} data")
        if len(frame) < need:
            raise DataError(f"{source}: series too short: {len(frame)} rows; {what} needs at least {need} rows")
        return frame

    def _scaled(self, frame: "pd.DataFrame") -> np.ndarray:
        return self.scaler_.transform(frame[self.columns_].to_numpy(dtype=np.float64)).astype(np.float32)

    def _unscale_targets(self, values: np.ndarray) -> np.ndarray:
        """Targets ``(..., C)`` from training z-scores back to the data's units."""
        C = len(self.targets_)
        return values * self.scaler_.scale_[:C] + self.scaler_.mean_[:C]

    # ------------------------------------------------------------------------------ fit
    def _split(self, frame: "pd.DataFrame", valid: Any) -> tuple[tuple[int, int], tuple[int, int] | None, "pd.DataFrame | None"]:
        """(train rows, valid rows of ``frame`` or None, a separate validation frame or None)."""
        import pandas as pd

        from lstmkit.data.timeseries import split_borders

        n, L, H = len(frame), int(self.context), int(self.horizon)
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

    def fit(self, df: "pd.DataFrame", valid: Any = None) -> Forecaster:
        """Check the data, fit the scaler on the training rows, build and train the network.

        ``valid``: ``None`` (train on every row, no early stopping), a fraction (the last rows are
        validation; windows may read their context from the training rows before), ``"ett"`` or
        ``"fractions"`` (:func:`lstmkit.data.timeseries.split_borders`: train and validation rows
        of ``df``; its test rows are not touched), or a DataFrame holding a validation series.
        Early stopping watches the validation MSE of the point forecast (in training z-scores), or,
        with intervals, the validation loss (pinball / negative log-likelihood), which scores them too.

        Training runs through :class:`lstmkit.train.Trainer` (so also in ``torchrun`` data parallelism:
        every process calls ``fit`` on the same data and trains its shard of each batch).
        """
        self._check_params()
        self._resolved_precision()  # bf16 where the CPU cannot run it fails before any data work
        targets, covariates = _names("targets", self.targets), _names("covariates", self.covariates) or []
        columns = None if targets is None else targets + covariates
        frame = self._frame(df, "training data", columns)
        missing = [c for c in covariates if c not in frame.columns]
        if missing:
            raise DataError(f"training data: unknown covariate {missing[0]!r}; columns present: {', '.join(map(str, frame.columns))}")
        if targets is None:
            targets = [c for c in frame.columns if c not in covariates]
            if not targets:
                raise DataError("training data: every numeric column is a covariate; name the targets")
        self.targets_, self.covariates_ = [str(t) for t in targets], [str(c) for c in covariates]
        frame = frame[self.columns_]
        from lstmkit.data.timeseries import StandardScaler, infer_freq

        self.freq_ = infer_freq(frame.index)
        self.index_name_ = frame.index.name
        train_rows, valid_rows, valid_frame = self._split(frame, valid)
        self.scaler_ = StandardScaler().fit(frame.to_numpy()[slice(*train_rows)])
        series = self._scaled(frame)
        valid_series = None
        if valid_frame is not None:
            vf = self._frame(valid_frame, "validation data", self.columns_)[self.columns_]
            self._check_like_training(vf, "validation data", self.context + self.horizon, "a validation window")
            valid_series = self._scaled(vf)
        elif valid_rows is not None:
            valid_series = series[slice(*valid_rows)]
        last_row = max(train_rows[1], valid_rows[1] if valid_rows else 0) - 1
        self.last_fit_label_ = str(frame.index[last_row])
        from lstmkit.nn.threads import torch_threads

        with torch_threads(self.threads):
            seed_everything(self.seed)
            self._train(series[slice(*train_rows)], valid_series)
        return self

    def _build_network(self) -> Any:
        from lstmkit.tasks.timeseries.network import LSTMForecastNetwork

        q = (0.5 - self.level / 2, 0.5, 0.5 + self.level / 2)
        return LSTMForecastNetwork(
            len(self.targets_), int(self.horizon), n_covariates=len(self.covariates_), segment=self._segment_length(),
            hidden_size=int(self.units), num_layers=int(self.layers), instance_norm=self._norm_mode(), head=self.head,
            output=self.intervals or "point", quantiles=q, dropout=float(self.dropout), point_loss=self.loss,
        )

    def _batch(self, series: Any, starts: Any) -> tuple[Any, Any, Any]:
        """Windows at ``starts`` of a ``(T, C + K)`` tensor: ``x (B, L, C)``, ``cov (B, L, K) | None``, ``y (B, H, C)``."""
        import torch

        L, C = int(self.context), len(self.targets_)
        idx = starts[:, None] + torch.arange(L + int(self.horizon))
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

    def _train(self, train: np.ndarray, valid: np.ndarray | None) -> None:
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

        L, H = int(self.context), int(self.horizon)
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
        batches = ReplayedOrder(starts, batch_size=int(self.batch_size),
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
            monitor="val_loss" if self.intervals else "val_mse", mode="min", patience=int(self.patience))
        epoch_t0 = [0.0]

        def on_epoch_end(state: Any, logs: dict[str, float]) -> None:
            if not self.verbose or state.rank != 0:
                return
            line = f"epoch {state.epoch + 1}/{self.epochs}: train loss {logs['loss']:.4f}"
            if "val_mse" in logs:
                line += f", valid MSE {logs['val_mse']:.4f}" + (f", valid loss {logs['val_loss']:.4f}" if self.intervals else "")
            print(f"{line} ({time.perf_counter() - epoch_t0[0]:.1f} s)", flush=True)

        hooks = FunctionHooks(on_epoch_begin=lambda state: epoch_t0.__setitem__(0, time.perf_counter()),
                              on_epoch_end=on_epoch_end)
        trainer = Trainer(
            net, torch.optim.Adam(net.parameters(), lr=float(self.learning_rate)), step, batches,
            epochs=int(self.epochs), schedule=Cosine() if self.lr_schedule == "cosine" else Constant(),
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

    def _forecast_frame(self, result: dict[str, np.ndarray], index: Any) -> "pd.DataFrame":
        """One forecast ``(1, H, C)`` in z-scores -> a DataFrame over ``future_index(index, H)``."""
        import pandas as pd

        from lstmkit.data.timeseries import future_index

        cols: dict[str, np.ndarray] = {}
        values = {k: self._unscale_targets(v[0].astype(np.float64)) for k, v in result.items()}
        for j, name in enumerate(self.targets_):
            cols[name] = values["point"][:, j]
            if self.intervals:
                cols[f"{name}_lower"] = values["lower"][:, j]
                cols[f"{name}_upper"] = values["upper"][:, j]
        out = pd.DataFrame(cols, index=future_index(index, int(self.horizon)))
        out.attrs["interval_level"] = self.interval_level_
        return out

    def predict(self, df: "pd.DataFrame", *, window: int | str | None = None, stats_rows: int | None = None) -> "pd.DataFrame":
        """Forecast the ``horizon`` steps after the last row of ``df``.

        Returns a DataFrame indexed by the next timestamps (or integers) with one column per target
        and, with intervals, ``<target>_lower`` / ``<target>_upper`` (nominal coverage ``level``,
        also in ``result.attrs["interval_level"]``).

        ``window``: ``None`` reads the last ``context`` rows (the normal use); ``"all"`` reads every
        row of ``df`` except the first ``len(df) mod segment`` (the LSTM runs over all of them from a
        zero state, longer than it was trained on); an int reads that many last rows (a multiple of
        ``segment``). ``stats_rows``: take the instance-normalisation statistics from the first
        ``stats_rows`` rows of ``df`` instead of the rows read. ``predict(d, window="all",
        stats_rows=context)`` is exactly what a :class:`ForecastStream` primed with ``d[:context]``
        gives after the remaining rows (see :meth:`stream`).
        """
        self._require_fitted("predict")
        frame = self._frame(df, "prediction data", self.columns_)[self.columns_]
        L, S = int(self.context), self.network_.segment
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

    # ------------------------------------------------------------------------------ backtest
    def _start_row(self, frame: "pd.DataFrame", start: Any, notes: list[str]) -> int:
        import pandas as pd

        n, L, H = len(frame), int(self.context), int(self.horizon)
        if start is None:
            row = L
            if self.last_fit_label_ is not None:
                try:
                    label = pd.Timestamp(self.last_fit_label_) if isinstance(frame.index, pd.DatetimeIndex) else int(self.last_fit_label_)
                    pos = int(frame.index.searchsorted(label, side="right"))
                except (ValueError, TypeError):
                    pos = 0
                if L <= pos <= n - H:
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
        if not L <= row <= n - H:
            raise DataError(
                f"backtest start: the first forecast must be at row {L}..{n - H} (after context {L} rows and with "
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
        network in batches of ``batch_size``. ``baselines``: also score naive, seasonal naive,
        DLinear (fitted on the rows before ``start``, their last fifth for early stopping) and, for
        one target, ETS, on the same windows. ``scale``: metrics in the data's units
        (``"original"``) or in the training scaler's z-scores (``"standardized"``, the ETT protocol).
        MASE uses the rows before ``start`` as the in-sample series.
        """
        import pandas as pd

        self._require_fitted("backtest")
        stride = check_int("stride", stride, 1)
        if scale not in SCALES:
            raise ConfigError(f"scale must be 'original' or 'standardized'; found {scale!r}")
        frame = self._frame(df, "backtest data", self.columns_)[self.columns_]
        L, H, C = int(self.context), int(self.horizon), len(self.targets_)
        self._check_like_training(frame, "backtest data", L + H, f"context {L} + horizon {H}")
        notes: list[str] = []
        row = self._start_row(frame, start, notes)
        from lstmkit.data.timeseries import gather_windows, window_starts

        z = self._scaled(frame)
        starts = window_starts(len(z) - (row - L), L, H, stride=stride) + (row - L)
        x, y = gather_windows(z, starts, L, H)
        result = self._run(x, batch_size=batch_size)
        y = y[..., :C].astype(np.float64)
        history = z[:row, :C].astype(np.float64)
        if scale == "original":
            y = self._unscale_targets(y)
            history = self._unscale_targets(history)
            result = {k: self._unscale_targets(v.astype(np.float64)) for k, v in result.items()}
        contexts = x[..., :C].astype(np.float64)
        if scale == "original":
            contexts = self._unscale_targets(contexts)
        season = self.season_()
        metrics = self._metric_rows(y, result, history, contexts, season, baselines, notes)
        forecasts = self._long_frame(frame.index, starts, y, result)
        return Backtest(forecasts, pd.DataFrame(metrics), len(starts), frame.index[row], stride, scale,
                        self.interval_level_, notes)

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
            train_part, valid_part = history[:cut], history[max(cut - int(self.context), 0):]
            try:
                rows += baseline_table(train_part, valid_part, contexts, y, int(self.horizon), season, history)
            except LstmkitError as e:
                notes.append(f"baselines left out: {e}")
        return rows

    def _long_frame(self, index: Any, starts: np.ndarray, y: np.ndarray, result: dict[str, np.ndarray]) -> "pd.DataFrame":
        import pandas as pd

        N, H, C = y.shape
        L = int(self.context)
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
        if self.intervals:
            cols["lower"] = result["lower"].reshape(-1)
            cols["upper"] = result["upper"].reshape(-1)
        return pd.DataFrame(cols)

    def score(self, df: "pd.DataFrame", start: Any = None, stride: int = 1, *, metric: str = "mse",
              scale: str = "original") -> float:
        """One backtest metric of the LSTM alone (``"mse"``, ``"mae"``, ``"smape"``, ``"mase"``; lower is better)."""
        if metric not in ("mse", "mae", "smape", "mase"):
            raise ConfigError(f"metric must be one of 'mse', 'mae', 'smape', 'mase'; found {metric!r}")
        bt = self.backtest(df, start, stride, baselines=False, scale=scale)
        return float(bt.metrics.loc[0, metric])

    # ------------------------------------------------------------------------------ stepping
    def stream(self, history: "pd.DataFrame") -> ForecastStream:
        """A :class:`ForecastStream` primed with the last ``context`` rows of ``history``."""
        self._require_fitted("stream")
        frame = self._frame(history, "stream history", self.columns_)[self.columns_]
        L = int(self.context)
        self._check_like_training(frame, "stream history", L, f"priming with context {L}")
        return ForecastStream(self, frame.iloc[-L:], frame.index[-3:])

    # ------------------------------------------------------------------------------ save/load
    def _metadata(self) -> dict[str, str]:
        return {
            "params": json.dumps(self.get_params()),
            "network": json.dumps(self.network_.get_config()),
            "scaler": json.dumps(self.scaler_.get_config()),
            "columns": json.dumps({"targets": self.targets_, "covariates": self.covariates_}),
            "index": json.dumps({"name": self.index_name_, "freq": self.freq_, "last_fit": self.last_fit_label_}),
            "training": json.dumps({
                "history": self.history_, "best_epoch": self.best_epoch_, "valid_mse": self.valid_mse_,
                "fit_seconds": self.fit_seconds_, "train_windows": self.train_windows_,
            }),
        }

    def save(self, path: str | PathLike[str]) -> Path:
        """Write one ``kind="forecaster"`` lstmkit file (weights, config, scaler, columns, frequency, training summary)."""
        from lstmkit.models.serialization import save_tensors

        self._require_fitted("save")
        out = prepare_output(path, "forecaster.lstmkit")
        save_tensors(out, dict(self.network_.state_dict()), self._metadata(), kind=KIND)
        return out

    @classmethod
    def _from_file(cls, path: Any, tensors: dict[str, Any], meta: dict[str, str]) -> Forecaster:
        return load_checked(cls, path, tensors, meta)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Forecaster:
        """Load a file written by :meth:`save`; any other lstmkit file is a ModelFileError saying what it holds.

        The metadata is checked against its schema and the weights (see :func:`lstmkit.tasks.timeseries.files.load_checked`).
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
        obj.network_.eval()
        return obj


__all__ = ["Forecaster", "ForecastStream", "Backtest", "KIND"]
