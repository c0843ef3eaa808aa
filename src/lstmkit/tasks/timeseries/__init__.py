"""Time series: the :class:`~lstmkit.tasks.timeseries.forecaster.Forecaster` estimator, its network
(:mod:`.network`), the baselines it is scored against (:mod:`.baselines`) and the metrics (:mod:`.metrics`)."""

from __future__ import annotations

__all__ = ["forecaster", "network", "baselines", "metrics"]
