r"""Recurrent baselines on PyTorch's fused kernels: SimpleRNN (Elman) and GRU.

Same interface style as :class:`lstmkit.nn.LSTM`: torch parameter names/layout (state dicts load
into and from ``torch.nn.RNN`` / ``torch.nn.GRU``), ``forward(input, hx=None, *, lengths=None) ->
(output, h_n)`` with the same ``lengths`` semantics (padded steps keep the state and output zeros,
``h_n`` at each row's own last step, length 0 returns ``h_0``). ``init="torch"`` (default) or
``"keras"`` (glorot-uniform input kernel, orthogonal recurrent kernel, zero biases).

SimpleRNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or ``relu``). Its gradient
through time is a product of ``W_hh^T diag(tanh')`` factors, which vanishes (or explodes)
geometrically with distance: the classic motivation for the LSTM's additive cell.

GRU (gate order r, z, n as PyTorch)::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Shapes: input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``, or unbatched
``(L, H_in)``), ``h_0``/``h_n`` ``(D*num_layers, N, H)``, output ``(L, N, D*H)``.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from lstmkit.errors import ConfigError
from lstmkit.nn._base import RecurrentBase
from lstmkit.nn.fast import run_fused
from lstmkit.nn.initializers import check_init
from lstmkit.nn.lengths import as_lengths


class _FusedRecurrent(RecurrentBase):
    _mode: str
    init: str

    def reset_parameters(self) -> None:
        self.init_weights_(self.init)

    def forward(self, input: Tensor, hx: Tensor | None = None, *, lengths: Tensor | Sequence[int] | None = None):
        x, is_batched = self.check_input(input)
        batch_dim = 0 if self.batch_first else 1
        batch, steps = x.size(batch_dim), x.size(1 - batch_dim)
        if hx is None:
            h0 = x.new_zeros(self.num_layers * self.num_directions, batch, self.hidden_size)
        else:
            h0 = self.check_state(hx, "hx (h_0)", self.hidden_size, batch, is_batched, x)
        if lengths is not None:
            lengths = as_lengths(lengths, batch, steps, owner=self._owner)
        output, h_n = run_fused(
            self._mode, x, h0, self.flat_weights(),
            has_biases=self.bias, num_layers=self.num_layers, dropout=self.dropout, training=self.training,
            bidirectional=self.bidirectional, batch_first=self.batch_first, lengths=lengths,
        )  # fmt: skip
        if not is_batched:
            return output.squeeze(batch_dim), h_n.squeeze(1)
        return output, h_n


class SimpleRNN(_FusedRecurrent):
    """Elman RNN, ``torch.nn.RNN``-compatible; ``nonlinearity`` ``"tanh"`` or ``"relu"``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        recurrent_bias: bool = True,
        nonlinearity: str = "tanh",
        init: str = "torch",
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"SimpleRNN nonlinearity: expected 'tanh' or 'relu', found {nonlinearity!r}")
        super().__init__(
            "SimpleRNN", 1, input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, 0, recurrent_bias, device, dtype,
        )  # fmt: skip
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.init = check_init("SimpleRNN", init)
        self.reset_parameters()


class GRU(_FusedRecurrent):
    """Gated recurrent unit, ``torch.nn.GRU``-compatible (gate order r, z, n)."""

    _mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        recurrent_bias: bool = True,
        init: str = "torch",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            "GRU", 3, input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, 0, recurrent_bias, device, dtype,
        )  # fmt: skip
        self.init = check_init("GRU", init)
        self.reset_parameters()


__all__ = ["SimpleRNN", "GRU"]
