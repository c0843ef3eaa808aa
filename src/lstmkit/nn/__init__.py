"""lstmkit.nn: the math layer. LSTM (reference + fused paths), LSTMCell, variants, baselines.

Imports only torch, numpy and :mod:`lstmkit.errors`. See docs/nn.md.

Modules: ``reference`` (one readable step + loop), ``cell`` (LSTMCell), ``lstm`` (LSTM layer and
dispatch), ``fast`` (fused kernels), ``lengths`` (variable-length helpers), ``trace`` (gate
introspection), ``variants`` (peephole, layer norm, recurrent dropout), ``initializers``,
``threads`` (thread count of the step loop), ``baselines`` (SimpleRNN, GRU), ``transformer``
(encoder, and the encoder-decoder baseline ``TransformerSeq2Seq``), ``attention`` (Bahdanau and Luong
attention over an encoder's outputs), ``seq2seq`` (the encoder-decoder LSTM for translation).
"""

from __future__ import annotations

from lstmkit.nn.baselines import GRU, SimpleRNN
from lstmkit.nn.cell import LSTMCell
from lstmkit.nn.lengths import reverse_padded
from lstmkit.nn.lstm import LSTM
from lstmkit.nn.trace import GateSequence, GateTrace, StepGates
from lstmkit.nn.transformer import TransformerEncoder, TransformerSeq2Seq
from lstmkit.nn.attention import Attention
from lstmkit.nn.seq2seq import EncoderState, Seq2SeqLSTM, label_smoothed_nll

__all__ = [
    "LSTM",
    "LSTMCell",
    "SimpleRNN",
    "GRU",
    "TransformerEncoder",
    "TransformerSeq2Seq",
    "Attention",
    "Seq2SeqLSTM",
    "EncoderState",
    "label_smoothed_nll",
    "GateTrace",
    "GateSequence",
    "StepGates",
    "reverse_padded",
]
