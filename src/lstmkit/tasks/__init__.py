"""Whole jobs as plain Python APIs, one sub-package per domain, each estimator beside its networks.

* :mod:`lstmkit.tasks.text`        text classification, the sentiment demo, language models;
* :mod:`lstmkit.tasks.timeseries`  forecasting with baselines and metrics;
* :mod:`lstmkit.tasks.sequences`   sensor and speech sequence classification.

Every task trains through :mod:`lstmkit.train`; the CLI only parses and prints.
"""

from __future__ import annotations

__all__ = ["text", "timeseries", "sequences"]
