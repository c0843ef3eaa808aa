r"""The reference LSTM: one readable step, and a plain loop over time.

One step, for input ``x_t`` ``(N, H_in)``, previous hidden ``h_{t-1}`` ``(N, H_out)`` and cell
``c_{t-1}`` ``(N, H)``:

.. math::
    i_t &= \sigma(W_{i} x_t + U_{i} h_{t-1} + b_{i})         && \text{input gate: how much to write} \\
    f_t &= \sigma(W_{f} x_t + U_{f} h_{t-1} + b_{f})         && \text{forget gate: how much to keep} \\
    g_t &= \tanh(W_{g} x_t + U_{g} h_{t-1} + b_{g})          && \text{candidate: what to write} \\
    o_t &= \sigma(W_{o} x_t + U_{o} h_{t-1} + b_{o})         && \text{output gate: how much to show} \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t                 && \text{cell state} \\
    h_t &= o_t \odot \tanh(c_t)                              && \text{hidden state} \\
    h_t &\leftarrow W_{hr} h_t                               && \text{only with } \texttt{proj\_size} > 0

``W = weight_ih`` ``(4H, H_in)`` and ``U = weight_hh`` ``(4H, H_out)`` stack the four gates in
PyTorch's order ``i, f, g, o``; ``b = bias_ih + bias_hh`` ``(4H,)``. ``H_out`` is ``proj_size``
when set, else ``H``. This file is the specification the fused kernel is tested against.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from lstmkit.nn.trace import GateSequence, StepGates
from lstmkit.nn.variants import LayerNormWeights, Peephole, layer_norm_cell, layer_norm_gates


class DirectionWeights(NamedTuple):
    """Everything one layer-direction needs; ``None`` marks an absent part."""

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None = None
    bias_hh: Tensor | None = None
    weight_hr: Tensor | None = None
    peephole: Peephole | None = None
    layer_norm: LayerNormWeights | None = None


def lstm_step(
    x: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    w: DirectionWeights,
    recurrent_mask: Tensor | None = None,
) -> StepGates:
    """One LSTM step. ``x`` ``(N, H_in)``, ``h_prev`` ``(N, H_out)``, ``c_prev`` ``(N, H)``.

    Returns all gates and the new states as :class:`StepGates`. ``recurrent_mask`` ``(N, H_out)``
    is the variational-dropout mask applied to ``h_prev`` inside the recurrent product only.
    """
    h_seen = h_prev if recurrent_mask is None else h_prev * recurrent_mask

    # All four gates in one product, then split: rows are stacked i, f, g, o like PyTorch.
    preact = x @ w.weight_ih.T + h_seen @ w.weight_hh.T
    if w.layer_norm is not None:
        preact = layer_norm_gates(preact, w.layer_norm)
    if w.bias_ih is not None:
        preact = preact + w.bias_ih + w.bias_hh
    i_pre, f_pre, g_pre, o_pre = preact.chunk(4, dim=-1)

    if w.peephole is not None:
        i_pre = i_pre + w.peephole.w_ci * c_prev
        f_pre = f_pre + w.peephole.w_cf * c_prev

    input_gate = torch.sigmoid(i_pre)
    forget_gate = torch.sigmoid(f_pre)
    candidate = torch.tanh(g_pre)
    cell_state = forget_gate * c_prev + input_gate * candidate

    if w.peephole is not None:
        o_pre = o_pre + w.peephole.w_co * cell_state  # the output gate peeks at the *new* cell
    output_gate = torch.sigmoid(o_pre)

    shown_cell = cell_state if w.layer_norm is None else layer_norm_cell(cell_state, w.layer_norm)
    hidden_state = output_gate * torch.tanh(shown_cell)
    if w.weight_hr is not None:
        hidden_state = hidden_state @ w.weight_hr.T

    return StepGates(input_gate, forget_gate, candidate, output_gate, cell_state, hidden_state)


def lstm_sequence(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    w: DirectionWeights,
    *,
    mask: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
    keep_gates: bool = False,
) -> tuple[Tensor, Tensor, Tensor, GateSequence | None]:
    """Run :func:`lstm_step` over ``x`` ``(L, N, H_in)`` from ``(h0, c0)``, forwards in time.

    ``mask`` ``(L, N, 1)`` bool marks real steps: at a padded step the state is carried over
    unchanged and the output (and every traced gate) is exactly zero, so ``h_n, c_n`` are each
    row's state after its own last real step. Returns ``output (L, N, H_out), h_n, c_n, gates``.
    """
    h, c = h0, c0
    outputs: list[Tensor] = []
    steps: list[StepGates] = []
    for t in range(x.size(0)):
        step = lstm_step(x[t], h, c, w, recurrent_mask)
        if mask is None:
            h, c = step.hidden_state, step.cell_state
            outputs.append(h)
        else:
            real = mask[t]
            h = torch.where(real, step.hidden_state, h)
            c = torch.where(real, step.cell_state, c)
            outputs.append(torch.where(real, step.hidden_state, 0.0))
            if keep_gates:
                step = StepGates(*(torch.where(real, g, 0.0) for g in step))
        if keep_gates:
            steps.append(step)
    if outputs:
        output = torch.stack(outputs)
    else:
        output = x.new_zeros(0, x.size(1), h0.size(-1))
    gates = None
    if keep_gates:
        if steps:
            gates = GateSequence(*(torch.stack(column) for column in zip(*steps)))
        else:
            empty = x.new_zeros(0, x.size(1), c0.size(-1))
            gates = GateSequence(empty, empty, empty, empty, empty, x.new_zeros(0, x.size(1), h0.size(-1)))
    return output, h, c, gates


__all__ = ["DirectionWeights", "lstm_step", "lstm_sequence"]
