"""lstmkit.nn: the math layer. LSTM (reference + fused paths), LSTMCell, variants, baselines.

Imports only torch, numpy and :mod:`lstmkit.errors`. See docs/nn.md.
"""

from __future__ import annotations

from lstmkit.nn.lengths import reverse_padded
from lstmkit.nn.lstm import LSTM
from lstmkit.nn.trace import GateSequence, GateTrace, StepGates

__all__ = ["LSTM", "GateTrace", "GateSequence", "StepGates", "reverse_padded"]
