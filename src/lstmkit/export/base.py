"""The contract every exporter fills: an ONNX graph, its metadata, sample inputs and lstmkit's own answers.

An exporter for one model kind returns an :class:`Exported`. :func:`lstmkit.export.to_onnx` then
checks it on the spot (ONNX Runtime must reproduce ``reference`` to 1e-5 on ``sample_feeds``,
including variable lengths and a state carried over two calls) and writes the files atomically.

Graph conventions (every kind):

* inputs: the model's data input first (named ``input``), then the recurrent state, one
  ``h0_<k>`` (and ``c0_<k>`` for an LSTM) per recurrent layer ``k``, shaped
  ``(directions, batch, hidden)``; further inputs (e.g. ``lengths``) after those;
* outputs: the model's main output first (named ``output``), then ``hn_<k>`` (and ``cn_<k>``)
  in the same order as the state inputs, so ``hn_<k>`` of one call feeds ``h0_<k>`` of the next;
* batch and time axes are dynamic;
* preprocessing that is not a tensor op (a vocabulary, scaling statistics) goes into
  ``metadata`` (written to the ONNX ``metadata_props`` and a sidecar JSON beside the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Feeds = dict[str, np.ndarray]


@dataclass
class Exported:
    """What an exporter returns (see the module docstring)."""

    model: Any                                     # onnx.ModelProto
    kind: str                                      # "sequential", "text_classifier", "forecaster", ...
    metadata: dict[str, Any] = field(default_factory=dict)
    # (batch, length, seed) -> feeds for every graph input, states included (random, not zero)
    sample_feeds: Callable[[int, int, int], Feeds] | None = None
    # feeds -> lstmkit's outputs for those feeds, in the graph's output order (float32 arrays)
    reference: Callable[[Feeds], list[np.ndarray]] | None = None
    # optional: feeds with unequal lengths in one batch (None if the kind has no lengths)
    ragged_feeds: Callable[[int], Feeds] | None = None


__all__ = ["Exported", "Feeds"]
