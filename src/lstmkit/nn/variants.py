r"""LSTM variants, all options of the reference path (the fused kernel knows none of them).

Peephole connections (Gers & Schmidhuber, 2000)
    The gates also look at the cell through diagonal (element-wise) weights:

    .. math::
        i_t &= \sigma(W_{i} x_t + U_{i} h_{t-1} + w_{ci} \odot c_{t-1} + b_i) \\
        f_t &= \sigma(W_{f} x_t + U_{f} h_{t-1} + w_{cf} \odot c_{t-1} + b_f) \\
        o_t &= \sigma(W_{o} x_t + U_{o} h_{t-1} + w_{co} \odot c_t + b_o)

    ``w_ci, w_cf, w_co`` are ``(H,)`` parameters (``weight_ci_l{k}`` ... in :class:`LSTM`). The
    output gate sees the *new* cell ``c_t``; input and forget gates see ``c_{t-1}``.

Layer normalisation (Ba, Kiros & Hinton, 2016)
    Each of the four gate pre-activations ``W x + U h`` (an ``(N, H)`` block each) is normalised over
    its ``H`` units with its own gain and shift, then the gate biases are added (after the
    normalisation, so ``forget_bias`` keeps its meaning); the new cell is normalised before the
    output ``tanh``:

    .. math::
        (i, f, g, o)_{pre} &= \mathrm{LN}_{gates}(W x_t + U h_{t-1}) + b \\
        h_t &= o_t \odot \tanh(\mathrm{LN}_{cell}(c_t))

    The carried cell state ``c_t`` itself is *not* normalised. Parameters: ``ln_gates_weight_l{k}``,
    ``ln_gates_bias_l{k}`` ``(4H,)`` and ``ln_cell_weight_l{k}``, ``ln_cell_bias_l{k}`` ``(H,)``,
    initialised to ones and zeros.

Recurrent (variational) dropout (Gal & Ghahramani, 2016)
    One dropout mask per sequence (the same at every step) multiplies ``h_{t-1}`` where it enters
    the recurrent product ``U h_{t-1}``; the carried state is untouched. Only in training; the mask
    is scaled by ``1 / (1 - p)`` so nothing changes at evaluation.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class Peephole(NamedTuple):
    """Diagonal peephole weights, each ``(H,)``."""

    w_ci: Tensor
    w_cf: Tensor
    w_co: Tensor


class LayerNormWeights(NamedTuple):
    """Gains and shifts of the gate (``(4H,)``) and cell (``(H,)``) layer norms."""

    gates_weight: Tensor
    gates_bias: Tensor
    cell_weight: Tensor
    cell_bias: Tensor


LAYER_NORM_EPS = 1e-5


def layer_norm_gates(preact: Tensor, ln: LayerNormWeights) -> Tensor:
    """Normalise each gate block of ``preact`` ``(N, 4H)`` over its own ``H`` units."""
    hidden = preact.size(-1) // 4
    # A block at a time: normalising over all 4H units would mix the statistics of different gates.
    blocks = F.layer_norm(preact.unflatten(-1, (4, hidden)), (hidden,), eps=LAYER_NORM_EPS)
    return blocks.flatten(-2) * ln.gates_weight + ln.gates_bias


def layer_norm_cell(cell: Tensor, ln: LayerNormWeights) -> Tensor:
    """Normalise the cell state ``(N, H)`` before the output ``tanh``."""
    return F.layer_norm(cell, (cell.size(-1),), ln.cell_weight, ln.cell_bias, eps=LAYER_NORM_EPS)


def variational_mask(batch: int, size: int, p: float, like: Tensor) -> Tensor:
    """A ``(batch, size)`` dropout mask of ``0`` and ``1/(1-p)``, drawn once per sequence."""
    keep = torch.empty(batch, size, dtype=like.dtype, device=like.device).bernoulli_(1.0 - p)
    return keep / (1.0 - p)


__all__ = [
    "Peephole",
    "LayerNormWeights",
    "layer_norm_gates",
    "layer_norm_cell",
    "variational_mask",
    "LAYER_NORM_EPS",
]
