"""LSTMCell: one step, torch.nn.LSTMCell-compatible, with the variants and its gates on request."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.errors import InputValueError, ShapeError
from lstmkit.nn._base import check_bool, check_positive_int, check_probability
from lstmkit.nn.initializers import check_forget_bias, check_init, glorot_uniform_, orthogonal_, set_forget_bias_
from lstmkit.nn.reference import DirectionWeights, lstm_step
from lstmkit.nn.trace import StepGates
from lstmkit.nn.variants import LayerNormWeights, Peephole, variational_mask


class LSTMCell(nn.Module):
    r"""One LSTM step (the equations of :mod:`lstmkit.nn.reference`), a drop-in for :class:`torch.nn.LSTMCell`.

    Parameters have torch's names and shapes: ``weight_ih`` ``(4H, H_in)``, ``weight_hh``
    ``(4H, H)``, ``bias_ih``, ``bias_hh`` ``(4H,)`` (gate order i, f, g, o); with
    ``recurrent_bias=False`` ``bias_hh`` is a zero buffer. Variants add ``weight_ci``,
    ``weight_cf``, ``weight_co`` ``(H,)`` (peephole) and ``ln_gates_weight``, ``ln_gates_bias``
    ``(4H,)``, ``ln_cell_weight``, ``ln_cell_bias`` ``(H,)`` (layer_norm).

    ``cell(x, (h, c)) -> (h', c')``; ``cell(x, (h, c), return_gates=True) -> (h', c', gates)`` with
    ``gates`` a :class:`~lstmkit.nn.trace.StepGates` (``input_gate, forget_gate, candidate,
    output_gate, cell_state, hidden_state``, each ``(N, H)``). Shapes: ``x`` ``(N, H_in)`` or
    unbatched ``(H_in,)``; ``h, c`` ``(N, H)`` or ``(H,)``; ``hx=None`` means zeros.

    Recurrent dropout: a cell cannot see where a sequence starts, so for variational dropout draw
    ``mask = cell.sample_recurrent_mask(N)`` once per sequence and pass ``recurrent_mask=mask`` at
    every step. Without it, a training-mode cell with ``recurrent_dropout > 0`` draws a fresh mask
    per call.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        recurrent_bias: bool = True,
        forget_bias: float | None = 1.0,
        peephole: bool = False,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        init: str = "torch",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        owner = "LSTMCell"
        self.input_size = check_positive_int(owner, "input_size", input_size)
        self.hidden_size = H = check_positive_int(owner, "hidden_size", hidden_size)
        self.bias = check_bool(owner, "bias", bias)
        self.recurrent_bias = check_bool(owner, "recurrent_bias", recurrent_bias)
        self.forget_bias = check_forget_bias(owner, forget_bias)
        self.peephole = check_bool(owner, "peephole", peephole)
        self.layer_norm = check_bool(owner, "layer_norm", layer_norm)
        self.recurrent_dropout = check_probability(owner, "recurrent_dropout", recurrent_dropout)
        self.init = check_init(owner, init)
        f = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(4 * H, self.input_size, **f))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H, **f))
        if self.bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * H, **f))
            if self.recurrent_bias:
                self.bias_hh = nn.Parameter(torch.empty(4 * H, **f))
            else:
                self.register_buffer("bias_hh", torch.zeros(4 * H, **f))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if self.peephole:
            self.weight_ci = nn.Parameter(torch.empty(H, **f))
            self.weight_cf = nn.Parameter(torch.empty(H, **f))
            self.weight_co = nn.Parameter(torch.empty(H, **f))
        if self.layer_norm:
            self.ln_gates_weight = nn.Parameter(torch.empty(4 * H, **f))
            self.ln_gates_bias = nn.Parameter(torch.empty(4 * H, **f))
            self.ln_cell_weight = nn.Parameter(torch.empty(H, **f))
            self.ln_cell_bias = nn.Parameter(torch.empty(H, **f))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        w = self.weights()
        with torch.no_grad():
            if self.init == "torch":
                bound = self.hidden_size**-0.5
                for p in self.parameters():
                    p.uniform_(-bound, bound)
            else:
                glorot_uniform_(w.weight_ih)
                orthogonal_(w.weight_hh)
                for p in (w.bias_ih, w.bias_hh, *(w.peephole or ())):
                    if p is not None:
                        p.zero_()
            if w.layer_norm is not None:
                w.layer_norm.gates_weight.fill_(1.0)
                w.layer_norm.gates_bias.zero_()
                w.layer_norm.cell_weight.fill_(1.0)
                w.layer_norm.cell_bias.zero_()
            set_forget_bias_(w.bias_ih, w.bias_hh, self.hidden_size, self.forget_bias)

    def weights(self) -> DirectionWeights:
        """The cell's tensors bundled for :func:`lstmkit.nn.reference.lstm_step`."""
        peephole = Peephole(self.weight_ci, self.weight_cf, self.weight_co) if self.peephole else None
        layer_norm = (
            LayerNormWeights(self.ln_gates_weight, self.ln_gates_bias, self.ln_cell_weight, self.ln_cell_bias)
            if self.layer_norm
            else None
        )
        return DirectionWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None, peephole, layer_norm)

    def sample_recurrent_mask(self, batch: int) -> Tensor:
        """A ``(batch, H)`` variational-dropout mask to reuse at every step of one sequence."""
        return variational_mask(batch, self.hidden_size, self.recurrent_dropout, self.weight_hh)

    def forward(
        self,
        input: Tensor,
        hx: tuple[Tensor, Tensor] | None = None,
        *,
        return_gates: bool = False,
        recurrent_mask: Tensor | None = None,
    ):
        if not isinstance(input, Tensor) or input.dim() not in (1, 2) or input.size(-1) != self.input_size:
            found = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(
                f"LSTMCell input: expected (N, H_in={self.input_size}) or unbatched ({self.input_size},), found {found}"
            )
        if input.dtype != self.weight_ih.dtype:
            raise InputValueError(f"LSTMCell input: expected dtype {self.weight_ih.dtype}, found {input.dtype}")
        is_batched = input.dim() == 2
        x = input if is_batched else input.unsqueeze(0)
        if hx is None:
            h = c = x.new_zeros(x.size(0), self.hidden_size)
        else:
            expected = (x.size(0), self.hidden_size) if is_batched else (self.hidden_size,)
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ShapeError(f"LSTMCell hx: expected a pair (h, c) of {expected} tensors, found {type(hx).__name__}")
            for name, s in zip(("hx[0] (h)", "hx[1] (c)"), hx):
                if not isinstance(s, Tensor) or tuple(s.shape) != expected:
                    found = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
                    raise ShapeError(f"LSTMCell {name}: expected shape {expected}, found {found}")
            h, c = (hx[0], hx[1]) if is_batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        if recurrent_mask is None and self.training and self.recurrent_dropout > 0.0:
            recurrent_mask = self.sample_recurrent_mask(x.size(0))
        elif recurrent_mask is not None and not self.training:
            recurrent_mask = None  # variational dropout is a training-time regulariser only
        step = lstm_step(x, h, c, self.weights(), recurrent_mask)
        if not is_batched:
            step = StepGates(*(g.squeeze(0) for g in step))
        if return_gates:
            return step.hidden_state, step.cell_state, step
        return step.hidden_state, step.cell_state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        for name in ("peephole", "layer_norm"):
            if getattr(self, name):
                s += f", {name}=True"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        return s


__all__ = ["LSTMCell"]
