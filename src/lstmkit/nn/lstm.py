r"""The LSTM layer: torch.nn.LSTM's contract, a readable reference path and a fused fast path."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.nn._base import RecurrentBase, check_bool, check_probability
from lstmkit.nn.fast import run_fused
from lstmkit.nn.initializers import check_forget_bias, check_init, chrono_bias_, set_forget_bias_
from lstmkit.nn.lengths import as_lengths, reverse_padded, step_mask
from lstmkit.nn.reference import DirectionWeights, lstm_sequence
from lstmkit.nn.threads import loop_threads, loop_threads_in_backward
from lstmkit.nn.trace import GateTrace
from lstmkit.nn.variants import LayerNormWeights, Peephole, variational_mask

State = tuple[Tensor, Tensor]


class LSTM(RecurrentBase):
    r"""Multi-layer long short-term memory, a drop-in for :class:`torch.nn.LSTM` with variants.

    For each layer, direction and step ``t`` (gate order ``i, f, g, o`` as in PyTorch)::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
        g_t = tanh   (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)      candidate
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
        c_t = f_t * c_{t-1} + i_t * g_t                           cell state
        h_t = o_t * tanh(c_t)          (then h_t = W_hr h_t if proj_size > 0)

    Layer ``k > 0`` reads the previous layer's output, through dropout with probability
    ``dropout`` in training (not after the last layer). See :mod:`lstmkit.nn.variants` for the
    peephole, layer-norm and recurrent-dropout equations.

    Args:
        input_size: ``H_in``, features per step.
        hidden_size: ``H``, units of the cell state.
        num_layers, bias, batch_first, dropout, bidirectional, proj_size: as ``torch.nn.LSTM``.
        recurrent_bias: ``False`` for a Keras-style single bias: ``bias_hh_l{k}`` becomes a zero
            buffer (same state-dict keys as torch, not trainable).
        forget_bias: initial forget-gate bias (put in ``bias_ih``'s forget slice, ``bias_hh``'s
            forget slice zeroed); ``None`` keeps the scheme's value. Default ``1.0``.
        peephole: add diagonal peephole weights ``weight_ci_l{k}, weight_cf_l{k}, weight_co_l{k}``.
        layer_norm: layer-normalise gate pre-activations and the cell before the output tanh.
        recurrent_dropout: variational dropout on ``h_{t-1}`` in the recurrent product (training).
        init: ``"torch"`` or ``"keras"`` (see :mod:`lstmkit.nn.initializers`).

    Shapes (``D = 2 if bidirectional else 1``, ``H_out = proj_size or H``):
        input ``(L, N, H_in)`` / ``(N, L, H_in)`` with ``batch_first`` / unbatched ``(L, H_in)``;
        ``h_0`` ``(D*num_layers, N, H_out)``, ``c_0`` ``(D*num_layers, N, H)`` (unbatched: no ``N``);
        output ``(L, N, D*H_out)``; ``h_n`` ``(D*num_layers, N, H_out)``; ``c_n``
        ``(D*num_layers, N, H)``; ``lengths`` ``(N,)`` ints in ``[0, L]``.

    Forward: ``lstm(input, hx=None, *, lengths=None, return_gates=False)`` returns
    ``(output, (h_n, c_n))``, or ``(output, (h_n, c_n), gates)`` with a :class:`GateTrace`.

    Fast path: the fused kernel (``torch._VF.lstm``: oneDNN on CPU, cuDNN on GPU) runs when all of

        * ``return_gates`` is False,
        * ``peephole`` is False,
        * ``layer_norm`` is False,
        * ``recurrent_dropout == 0`` or the module is in eval mode;

    otherwise the reference path (a Python loop over :func:`lstmkit.nn.reference.lstm_step`) runs.
    :attr:`uses_fast_path` tells which one the next call takes. Both give the same results (tested
    to 1e-5 in float32, outputs and gradients).

    Lengths: padded steps leave the state unchanged and give exactly-zero outputs; ``h_n, c_n`` are
    each row's state after its own last real step; a length-0 row returns its initial state. The
    backward direction starts at each row's own last real step.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
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
        super().__init__(
            "LSTM", 4, input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, proj_size, recurrent_bias, device, dtype,
        )  # fmt: skip
        self.forget_bias = check_forget_bias("LSTM", forget_bias)
        self.peephole = check_bool("LSTM", "peephole", peephole)
        self.layer_norm = check_bool("LSTM", "layer_norm", layer_norm)
        self.recurrent_dropout = check_probability("LSTM", "recurrent_dropout", recurrent_dropout)
        self.init = check_init("LSTM", init)
        factory = {"device": device, "dtype": dtype}
        H = self.hidden_size
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                sfx = self.suffix(layer, direction)
                if self.peephole:
                    for name in ("weight_ci", "weight_cf", "weight_co"):
                        self.register_parameter(name + sfx, nn.Parameter(torch.empty(H, **factory)))
                if self.layer_norm:
                    self.register_parameter("ln_gates_weight" + sfx, nn.Parameter(torch.empty(4 * H, **factory)))
                    self.register_parameter("ln_gates_bias" + sfx, nn.Parameter(torch.empty(4 * H, **factory)))
                    self.register_parameter("ln_cell_weight" + sfx, nn.Parameter(torch.empty(H, **factory)))
                    self.register_parameter("ln_cell_bias" + sfx, nn.Parameter(torch.empty(H, **factory)))
        self.reset_parameters()

    # ---- parameters ------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        self.init_weights_(self.init)
        with torch.no_grad():
            for layer in range(self.num_layers):
                for direction in range(self.num_directions):
                    w = self.direction_weights(layer, direction)
                    if self.init == "keras" and w.peephole is not None:
                        for p in w.peephole:
                            p.zero_()
                    if w.layer_norm is not None:
                        w.layer_norm.gates_weight.fill_(1.0)
                        w.layer_norm.gates_bias.zero_()
                        w.layer_norm.cell_weight.fill_(1.0)
                        w.layer_norm.cell_bias.zero_()
                    set_forget_bias_(w.bias_ih, w.bias_hh, self.hidden_size, self.forget_bias)

    def chrono_init_(self, max_timescale: int, generator: torch.Generator | None = None) -> LSTM:
        """Chrono initialisation (Tallec & Ollivier, 2018) of every layer and direction; returns ``self``.

        Input and forget biases only: ``b_f ~ log(U[1, max_timescale - 1])`` per unit and
        ``b_i = -b_f`` (in ``bias_ih``; ``bias_hh``'s slices zeroed). Use the longest dependency the
        data hold as ``max_timescale`` (for example the sequence length). Needs ``bias=True``.
        """
        if not self.bias:
            raise ConfigError("LSTM chrono_init_: the layer has no biases (bias=False)")
        with torch.no_grad():
            for layer in range(self.num_layers):
                for direction in range(self.num_directions):
                    w = self.direction_weights(layer, direction)
                    chrono_bias_(w.bias_ih, w.bias_hh, self.hidden_size, max_timescale, generator)
        return self

    def direction_weights(self, layer: int, direction: int = 0) -> DirectionWeights:
        """The tensors of one layer and direction, bundled for :func:`lstmkit.nn.reference.lstm_step`."""
        sfx = self.suffix(layer, direction)
        get = lambda name: getattr(self, name + sfx, None)  # noqa: E731
        peephole = Peephole(get("weight_ci"), get("weight_cf"), get("weight_co")) if self.peephole else None
        layer_norm = (
            LayerNormWeights(get("ln_gates_weight"), get("ln_gates_bias"), get("ln_cell_weight"), get("ln_cell_bias"))
            if self.layer_norm
            else None
        )
        return DirectionWeights(
            get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr"), peephole, layer_norm
        )

    @property
    def uses_fast_path(self) -> bool:
        """Whether a call without ``return_gates`` runs the fused kernel (see the class docstring)."""
        return not (self.peephole or self.layer_norm or (self.recurrent_dropout > 0.0 and self.training))

    # ---- forward ---------------------------------------------------------------------------

    def forward(
        self,
        input: Tensor,
        hx: State | None = None,
        *,
        lengths: Tensor | Sequence[int] | None = None,
        return_gates: bool = False,
    ):
        if return_gates or not self.uses_fast_path:
            return self.reference_forward(input, hx, lengths=lengths, return_gates=return_gates)
        return self.fast_forward(input, hx, lengths=lengths)

    def _prepare(self, input: Tensor, hx: State | None, lengths) -> tuple[Tensor, bool, Tensor, Tensor, Tensor | None]:
        x, is_batched = self.check_input(input)
        batch_dim = 0 if self.batch_first else 1
        batch, steps = x.size(batch_dim), x.size(1 - batch_dim)
        if hx is None:
            stacks = self.num_layers * self.num_directions
            h0 = x.new_zeros(stacks, batch, self.output_size)
            c0 = x.new_zeros(stacks, batch, self.hidden_size)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ShapeError(f"LSTM hx: expected a pair (h_0, c_0) of tensors, found {type(hx).__name__}")
            h0 = self.check_state(hx[0], "hx[0] (h_0)", self.output_size, batch, is_batched, x)
            c0 = self.check_state(hx[1], "hx[1] (c_0)", self.hidden_size, batch, is_batched, x)
        if lengths is not None:
            lengths = as_lengths(lengths, batch, steps, owner="LSTM")
        return x, is_batched, h0, c0, lengths

    def _finish(self, output: Tensor, h_n: Tensor, c_n: Tensor, is_batched: bool):
        if is_batched:
            return output, (h_n, c_n)
        return output.squeeze(0 if self.batch_first else 1), (h_n.squeeze(1), c_n.squeeze(1))

    def fast_forward(self, input: Tensor, hx: State | None = None, *, lengths=None):
        """The fused kernel; raises :class:`~lstmkit.errors.ConfigError` if a variant is on."""
        if self.peephole or self.layer_norm or (self.recurrent_dropout > 0.0 and self.training):
            raise ConfigError(
                "LSTM fast_forward: expected no peephole, layer_norm or (training) recurrent_dropout, "
                f"found peephole={self.peephole}, layer_norm={self.layer_norm}, "
                f"recurrent_dropout={self.recurrent_dropout}"
            )
        x, is_batched, h0, c0, lengths = self._prepare(input, hx, lengths)
        output, (h_n, c_n) = run_fused(
            "LSTM", x, (h0, c0), self.flat_weights(),
            has_biases=self.bias, num_layers=self.num_layers, dropout=self.dropout, training=self.training,
            bidirectional=self.bidirectional, batch_first=self.batch_first, lengths=lengths,
        )  # fmt: skip
        return self._finish(output, h_n, c_n, is_batched)

    def reference_forward(self, input: Tensor, hx: State | None = None, *, lengths=None, return_gates: bool = False):
        """The step-by-step loop over :func:`~lstmkit.nn.reference.lstm_step`; always available."""
        x, is_batched, h0, c0, lengths = self._prepare(input, hx, lengths)
        if self.batch_first:
            x = x.transpose(0, 1)  # the loop runs time-major
        steps, batch = x.size(0), x.size(1)
        mask = None if lengths is None else step_mask(lengths, steps, x.device)
        drop_recurrent = self.training and self.recurrent_dropout > 0.0
        h_n, c_n, trace = [], [], []
        layer_input = x
        with loop_threads():
            for layer in range(self.num_layers):
                outputs, layer_trace = [], []
                for direction in range(self.num_directions):
                    k = layer * self.num_directions + direction
                    seq = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
                    rmask = variational_mask(batch, self.output_size, self.recurrent_dropout, x) if drop_recurrent else None
                    out, h, c, gates = lstm_sequence(
                        seq, h0[k], c0[k], self.direction_weights(layer, direction),
                        mask=mask, recurrent_mask=rmask, keep_gates=return_gates,
                    )  # fmt: skip
                    if direction == 1:
                        # Back to the original time order, so it lines up with the forward half.
                        out = reverse_padded(out, lengths)
                        if gates is not None:
                            gates = gates.map(lambda g: reverse_padded(g, lengths))
                    outputs.append(out)
                    layer_trace.append(gates)
                    h_n.append(h)
                    c_n.append(c)
                layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
                if self.dropout and self.training and layer < self.num_layers - 1:
                    layer_input = F.dropout(layer_input, self.dropout, training=True)
                trace.append(layer_trace)
        output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        h_n, c_n = torch.stack(h_n), torch.stack(c_n)
        loop_threads_in_backward(output, h_n, c_n)
        result = self._finish(output, h_n, c_n, is_batched)
        if not return_gates:
            return result
        batch_dim = 0 if self.batch_first else 1
        def layout(g: Tensor) -> Tensor:  # noqa: E306
            g = g.transpose(0, 1) if self.batch_first else g
            return g if is_batched else g.squeeze(batch_dim)
        gate_trace = GateTrace([[seq.map(layout) for seq in layer] for layer in trace])
        return result[0], result[1], gate_trace

    def extra_repr(self) -> str:
        s = super().extra_repr()
        for name in ("peephole", "layer_norm"):
            if getattr(self, name):
                s += f", {name}=True"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        if self.init != "torch":
            s += f", init={self.init!r}"
        return s


__all__ = ["LSTM"]
