"""Stateful stepping of a fitted :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster`, one observation at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lstmkit.errors import DataError, InputValueError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from lstmkit.tasks.timeseries.forecaster import Forecaster


class ForecastStream:
    """Stateful stepping: take new observations one at a time, carrying the LSTM state ``(h, c)``.

    Made by :meth:`Forecaster.stream` from the last ``context`` rows of a history (the priming
    rows). It never re-reads them: it keeps the LSTM states (one per phase of the segment grid), the
    last ``segment - 1`` rows (a partial segment) and the instance-normalisation statistics of the
    priming rows, which stay fixed.

    What :meth:`forecast` equals, exactly (to float round-off, tested to 1e-5): with ``d`` the
    priming rows followed by every row given to :meth:`update` so far,
    ``forecaster.predict(d, window="all", stats_rows=context)``: the network run from a zero state
    over every complete segment of ``d`` that ends at the newest row (the first ``len(d) mod
    segment`` rows are left out), with the priming rows' statistics. Right after priming that is
    ``forecaster.predict(history)``.

    What stepping requires and implies: the rows arrive in order, one per time step, with every
    column the model reads (targets and covariates), finite, and (for a time index) at the next
    timestamp. The LSTM then reads more segments than the ``context`` it was trained on, and the
    normalisation statistics grow stale as the series drifts: for long streams, re-prime now and
    then (``forecaster.stream(recent_history)``), which restores the trained setting exactly.
    """

    def __init__(self, forecaster: Forecaster, priming: "pd.DataFrame", last_labels: "pd.Index") -> None:
        import torch

        self._fc = forecaster
        self._columns = forecaster.columns_
        self._index = last_labels  # the newest few labels: enough to continue the time axis
        net, C = forecaster.network_, len(forecaster.targets_)
        z = torch.from_numpy(forecaster._scaled(priming))
        with torch.no_grad():
            self._state = net.prime(z[:, :C], z[:, C:] if forecaster.covariates_ else None)

    @property
    def observations(self) -> int:
        """Rows consumed since the stream began (priming rows included)."""
        return self._state.seen

    @property
    def last_label(self) -> Any:
        return self._index[-1]

    def _rows(self, obs: Any) -> "pd.DataFrame":
        import pandas as pd

        if isinstance(obs, pd.Series):
            label = obs.name
            obs = obs.to_frame().T
            obs.index = pd.RangeIndex(1) if label is None else [label]
        elif isinstance(obs, dict):
            obs = pd.DataFrame([obs])
        if not isinstance(obs, pd.DataFrame):
            raise InputValueError(f"stream update: expected a pandas Series, dict or DataFrame row, found {type(obs).__name__}")
        missing = [c for c in self._columns if c not in obs.columns]
        if missing:
            raise DataError(f"stream update: unknown column {missing[0]!r}; the model reads {', '.join(self._columns)}")
        return obs

    def _next_labels(self, obs: "pd.DataFrame") -> Any:
        """Check the new rows' timestamps continue the stream; return the index they extend it with."""
        import pandas as pd

        from lstmkit.data.timeseries import future_index

        expected = future_index(self._index, len(obs))
        unlabelled = isinstance(obs.index, pd.RangeIndex) and obs.index.start == 0
        if isinstance(self._index, pd.DatetimeIndex) and not unlabelled:
            given = obs.index
            if not isinstance(given, pd.DatetimeIndex):
                try:
                    given = pd.DatetimeIndex(pd.to_datetime(given))
                except (ValueError, TypeError):
                    given = None
            if given is None or len(given) != len(expected) or (given != expected).any():
                found = "no timestamps" if given is None else str(list(given[:1])[0] if len(given) else "nothing")
                raise DataError(
                    f"stream update: expected the next timestamp {expected[0]} (frequency {self._fc.freq_}), found {found}"
                )
        return expected

    def update(self, obs: Any) -> ForecastStream:
        """Consume one observation (a Series, a dict or a one-row DataFrame) or a few rows, in time order.

        Rows with timestamps must be the next ones; rows without (a dict, an unnamed Series, a
        DataFrame with a default RangeIndex) are taken to be the next time steps.
        """
        import torch

        obs = self._rows(obs)
        labels = self._next_labels(obs)
        values = obs[self._columns].to_numpy()
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise InputValueError(f"stream update: values must be numbers; found {values.tolist()!r:.120}") from None
        bad = ~np.isfinite(values)
        if bad.any():
            i, j = map(int, np.argwhere(bad)[0])
            raise InputValueError(f"stream update: row {i}, column {self._columns[j]!r}: {values[i, j]!r} is not a finite number")
        fc, C = self._fc, len(self._fc.targets_)
        z = torch.from_numpy(fc._scale_rows(values))
        with torch.no_grad():
            for row in z:
                fc.network_.step(self._state, row[:C], row[C:] if fc.covariates_ else None)
        self._index = self._index.append(labels)[-3:]
        return self

    def forecast(self) -> "pd.DataFrame":
        """The forecast of the next ``horizon`` steps after the newest observation (same columns as ``predict``)."""
        import torch

        fc = self._fc
        parts: dict[str, list[np.ndarray]] = {"point": [], "lower": [], "upper": []}
        with torch.no_grad():
            fc._collect(fc.network_.forecast_state(self._state), parts)
        return fc._forecast_frame({k: np.concatenate(v) for k, v in parts.items() if v}, self._index)


__all__ = ["ForecastStream"]
