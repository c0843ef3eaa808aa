"""The experiments that prove the article's claims: long-range memory, gradient flow, scaling with length.

* :mod:`lstmkit.bench.longrange`      adding and copy problems, models at equal time or steps;
* :mod:`lstmkit.bench.gradient_flow`  how far back the loss reaches (dL/dx_t by t);
* :mod:`lstmkit.bench.scaling`        very long streams: LSTM state against a KV-cached Transformer;
* :mod:`lstmkit.bench.report`         the one report writer (tables, config, curves) they share.
"""

from __future__ import annotations

__all__ = ["longrange", "gradient_flow", "scaling", "report"]
