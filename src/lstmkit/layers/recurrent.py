"""Keras-style recurrent layers: ``LSTM``, ``GRU`` and ``SimpleRNN``.

As in Keras, a *cell* processes one step and a *layer* drives it over the sequence. Here the cell is
:mod:`lstmkit.nn` (``lstmkit.nn.LSTM`` etc., with PyTorch's weight names and gate order i, f, g, o),
and these layers add Keras's behaviour on top: batch-major input, the last step's output unless
``return_sequences``, ``return_state``, ``go_backwards``, input ``dropout`` and masks.

**Fast path.** ``LSTM`` runs PyTorch's fused kernel (through ``lstmkit.nn.LSTM``) when
``activation="tanh"``, ``recurrent_activation="sigmoid"`` and ``recurrent_dropout=0``. A mask keeps
the fused kernel: each row's real steps are moved to the front (stable) and the kernel runs over
them unpacked, reading each row's last output at its own last real step (with ``return_state`` or
``initial_state`` it runs with ``lengths=``, packed, for the exact final cell state).
``recurrent_dropout > 0`` needs the per-step loop of ``lstmkit.nn`` (slower).

**Recurrent dropout** (Keras's ``recurrent_dropout``, all three layers): in training, one dropout
mask per sequence, shared by all steps, multiplies the previous state ``h_{t-1}`` where it enters the
recurrent products (never the carried state itself). ``GRU`` and ``SimpleRNN`` then run
:func:`_dropout_loop`, a per-step loop (slower) with Keras's masks: one per gate for the GRU (input
``dropout`` too, as Keras does then). In eval mode the rate changes nothing and the fast path runs.

**Masks** (from ``Embedding(mask_zero=True)``) follow Keras: a masked step leaves the state unchanged,
wherever it is (padding before or after the tokens, or holes). The last output is the output at each
row's last real step (zeros for a row with no real step); with ``return_sequences`` the masked
steps' outputs are zeros. ``keras.layers.Masking`` (:class:`lstmkit.layers.Masking`) gives the same masks
for float features padded with a value.

**Stateful** (``stateful=True``, Keras's): the final state of each call is the initial state of the
next call (the next batch, in ``fit``/``predict``), so a long sequence can be fed in consecutive chunks;
row ``i`` of a batch continues row ``i`` of the previous one. The batch size must stay the same until
``reset_states()`` (or ``reset_state()``; ``model.reset_states()`` resets every stateful layer of a model),
which returns the layer to a zero state. The kept state is detached: training does not backpropagate into
earlier batches. The state is not saved with the model (``model.save``) and a loaded model starts from zeros.

>>> import torch
>>> from lstmkit.layers import LSTM
>>> layer = LSTM(64)
>>> layer(torch.zeros(2, 100, 128)).shape
torch.Size([2, 64])
>>> layer.count_params()
49408
>>> LSTM(8, return_sequences=True)(torch.zeros(2, 5, 3)).shape
torch.Size([2, 5, 8])
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import Layer, Shape, check_positive_int, check_rate, format_shape


def _check_bool(value: Any, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{argument}: expected True or False, found {value!r}")
    return value


def _only(value: Any, allowed: str, argument: str) -> str:
    if value != allowed:
        raise ConfigError(
            f"{argument}: only {allowed!r} is supported (the fused LSTM kernel's activation), found {value!r}"
        )
    return value


def _keep_mask(shape: tuple[int, ...], rate: float, like: torch.Tensor) -> torch.Tensor:
    """A dropout mask of ``0`` and ``1 / (1 - rate)`` (Keras's inverted dropout), drawn once per call."""
    keep = torch.empty(shape, device=like.device, dtype=like.dtype)
    return keep.bernoulli_(1.0 - rate).div_(1.0 - rate)


def _per_gate(v: torch.Tensor, weight: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """``v @ weight.T`` where gate block ``g`` of ``weight`` (``(G*H, K)``, split in ``G``) sees its own
    dropped copy ``v * keep[g]`` (``keep`` ``(G, ...)`` broadcasting with ``v`` ``(..., K)``)."""
    if keep is None:
        return v @ weight.t()
    blocks = weight.chunk(keep.shape[0], dim=0)
    return torch.cat([(v * keep[g]) @ w.t() for g, w in enumerate(blocks)], dim=-1)


def _dropout_loop(
    kind: str,
    cell: torch.nn.Module,
    x: torch.Tensor,
    hx: torch.Tensor | None = None,
    *,
    lengths: torch.Tensor | None = None,
    input_keep: torch.Tensor | None = None,
    recurrent_keep: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The per-step loop of ``SimpleRNN`` and both ``GRU`` forms, with Keras's dropout masks.

    ``kind``: ``"rnn"`` (SimpleRNN, ``G = 1`` gate), ``"gru"`` (``reset_after=True``) or
    ``"gru_before"`` (``reset_after=False``), ``G = 3`` gates in PyTorch's order r, z, n. ``cell``
    holds the weights in PyTorch's layout: ``weight_ih_l0`` ``(G*H, F)``, ``weight_hh_l0`` ``(G*H, H)``,
    optional ``bias_ih_l0`` / ``bias_hh_l0`` ``(G*H,)`` (absent or ``None``: no bias).

    With ``m_g`` = ``input_keep[g]`` ``(N, 1, F)`` and ``u_g`` = ``recurrent_keep[g]`` ``(N, H)`` (masks
    of ``0`` and ``1 / (1 - rate)``, one per sequence shared by all steps; ``None``: all ones), each step::

        SimpleRNN:  h_t = tanh(W (m x_t) + b_ih + U (u h_{t-1}) + b_hh)

        GRU:        r_t = sigmoid(W_r (m_r x_t) + b_ir + U_r (u_r h_{t-1}) + b_hr)
                    z_t = sigmoid(W_z (m_z x_t) + b_iz + U_z (u_z h_{t-1}) + b_hz)
          "gru":        n_t = tanh(W_n (m_n x_t) + b_in + r_t * (U_n (u_n h_{t-1}) + b_hn))
          "gru_before": n_t = tanh(W_n (m_n x_t) + b_in + U_n (r_t * (u_n h_{t-1})))
                    h_t = z_t * h_{t-1} + (1 - z_t) * n_t

    (Keras's ``GRUCell`` with ``implementation=1``, which ``recurrent_dropout > 0`` selects, and
    ``SimpleRNNCell``.) The carried ``h_{t-1}`` in the last line is never dropped.

    Shapes: ``x`` ``(N, L, F)``; ``hx`` ``(1, N, H)`` or ``None`` (zeros); ``lengths`` ``(N,)`` or ``None``:
    steps at and after a row's length keep its state and output zeros (real steps must come first).
    Returns ``(output (N, L, H), h_n (1, N, H))``, the cells' own contract.
    """
    from lstmkit.nn.threads import loop_threads, loop_threads_in_backward

    n, steps, _ = x.shape
    units = cell.hidden_size
    w_ih, w_hh = cell.weight_ih_l0, cell.weight_hh_l0
    b_ih, b_hh = getattr(cell, "bias_ih_l0", None), getattr(cell, "bias_hh_l0", None)
    h = x.new_zeros(n, units) if hx is None else hx[0]
    live = None
    if lengths is not None:
        live = (torch.arange(steps, device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1))
        live = live.unsqueeze(-1)                                                 # (N, L, 1)
    if input_keep is None:
        gx = torch.nn.functional.linear(x, w_ih, b_ih)                            # (N, L, G*H): all steps at once
    else:
        gx = _per_gate(x, w_ih, input_keep) + (0.0 if b_ih is None else b_ih)
    u = recurrent_keep
    outputs = []
    with loop_threads():
        for t in range(steps):
            if kind == "rnn":
                pre = gx[:, t] + _per_gate(h, w_hh, u)
                h_new = torch.tanh(pre if b_hh is None else pre + b_hh)
            else:
                x_r, x_z, x_n = gx[:, t].chunk(3, dim=-1)
                if kind == "gru":
                    rec = _per_gate(h, w_hh, u)
                    h_r, h_z, h_n = (rec if b_hh is None else rec + b_hh).chunk(3, dim=-1)
                    r = torch.sigmoid(x_r + h_r)
                    z = torch.sigmoid(x_z + h_z)
                    cand = torch.tanh(x_n + r * h_n)
                else:  # "gru_before": the reset gate scales the (dropped) state before U_n
                    h_r, h_z = _per_gate(h, w_hh[: 2 * units], None if u is None else u[:2]).chunk(2, dim=-1)
                    r = torch.sigmoid(x_r + h_r)
                    z = torch.sigmoid(x_z + h_z)
                    h_for_n = h if u is None else h * u[2]
                    cand = torch.tanh(x_n + (r * h_for_n) @ w_hh[2 * units :].t())
                h_new = z * h + (1.0 - z) * cand
            if live is None:
                h = h_new
                outputs.append(h_new)
            else:
                keep = live[:, t]
                h = torch.where(keep, h_new, h)
                outputs.append(torch.where(keep, h_new, torch.zeros_like(h_new)))
    out = torch.stack(outputs, dim=1) if outputs else x.new_zeros(n, 0, units)
    h_n = h.unsqueeze(0)
    loop_threads_in_backward(out, h_n)
    return out, h_n


class _Recurrent(Layer):
    """Shared machinery of LSTM, GRU and SimpleRNN (see the module docstring)."""

    supports_masking = True
    _nn_name: ClassVar[str] = ""
    _n_states: ClassVar[int] = 1
    _gates: ClassVar[int] = 1
    #: the :func:`_dropout_loop` form ("rnn", "gru", "gru_before") for recurrent dropout; ``None``: the
    #: cell does it (LSTM)
    _loop_kind: str | None = None

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        use_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        from lstmkit.util.memory import check_weights_fit

        # The recurrent weights alone (units x units per gate) tell an absurd size before any input is seen.
        check_weights_fit("units", self.units, self._gates * self.units * (self.units + 2))
        self.activation = _only(activation, "tanh", "activation")
        self.use_bias = _check_bool(use_bias, "use_bias")
        self.dropout = check_rate(dropout, "dropout")
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
        self.return_sequences = _check_bool(return_sequences, "return_sequences")
        self.return_state = _check_bool(return_state, "return_state")
        self.go_backwards = _check_bool(go_backwards, "go_backwards")
        self.stateful = _check_bool(stateful, "stateful")
        self.cell: torch.nn.Module | None = None
        # stateful: the last call's final state, each (1, N, units), detached (not a buffer: never saved).
        self._kept_states: tuple[torch.Tensor, ...] | None = None

    def reset_states(self) -> None:
        """Forget the kept state of a ``stateful`` layer: the next call starts from zeros, at any batch size."""
        self._kept_states = None

    def reset_state(self) -> None:
        """Keras 3's name for :meth:`reset_states`."""
        self.reset_states()

    # ------------------------------------------------------------------ shapes
    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' input: expected (N, L, features) with known features, "
                f"found {format_shape(tuple(input_shape), batch='N')}"
            )
        self.cell = self._make_cell(int(input_shape[-1]))
        super().build(input_shape)

    def _make_cell(self, input_size: int) -> torch.nn.Module:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.return_sequences:
            return (input_shape[0], self.units)
        return (self.units,)

    def state_shapes(self) -> list[Shape]:
        return [(self.units,)] * self._n_states

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        if mask is None or not self.return_sequences:
            return None
        # Outputs of go_backwards are in reversed time order; the mask follows them.
        return mask.flip(1) if self.go_backwards else mask

    # ------------------------------------------------------------------ running
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, initial_state: Any = None) -> Any:
        if not self.built:
            self.build_from_input(x)
        return self.call(x, mask, initial_state)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None, initial_state: Any = None) -> Any:
        n_in = self.built_input_shape[-1]
        if x.dim() != 3 or x.shape[2] != n_in:
            raise self._input_error(f"(N, L, {n_in})", x)
        if self.go_backwards:
            x = x.flip(1)
            if mask is not None:
                mask = mask.flip(1)
        keeps = self._loop_keeps(x)  # GRU/SimpleRNN training with recurrent_dropout: the loop's masks
        if self.dropout > 0.0 and self.training and keeps is None:
            # Keras: one dropout mask per sequence, shared by all steps.
            keep = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype)
            x = x * keep.bernoulli_(1.0 - self.dropout).div_(1.0 - self.dropout)
        hx = self._initial_state(initial_state, x)
        if self.stateful and hx is None:
            hx = self._stateful_initial(x)
        if mask is None:
            out, state = self._run(x, hx, None, keeps)
            order = None
        else:
            if mask.shape != x.shape[:2]:
                raise ShapeError(
                    f"{type(self).__name__} '{self.name}' mask: expected shape {tuple(x.shape[:2])}, "
                    f"found {tuple(mask.shape)}"
                )
            mask = mask.to(torch.bool)
            lengths = mask.sum(1)
            # Real steps first, in order (stable sort on "is padding"); the kernel then sees right padding.
            order = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)
            x = x.gather(1, order.unsqueeze(-1).expand_as(x))
            if self.return_state or hx is not None:
                out, state = self._run(x, hx, lengths, keeps)
            else:
                # A step's output depends only on earlier steps, so with the real steps first the
                # unpacked kernel already gives every real step's output exactly; only the final
                # cell state would need packing, which makes training about 5x slower on CPU.
                out, state = self._run(x, None, None, keeps)
                real = torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(1)
                out = out * real.unsqueeze(-1).to(out.dtype)
                last = (lengths - 1).clamp(min=0)
                state = out[torch.arange(x.shape[0], device=x.device), last].unsqueeze(0)  # zeros if length 0
        states = list(state) if isinstance(state, tuple) else [state]
        if self.stateful:
            self._kept_states = tuple(s.detach() for s in states)
        if self.return_sequences:
            if order is not None:  # put each output back at its step; masked steps get the zeros
                out = torch.empty_like(out).scatter_(1, order.unsqueeze(-1).expand_as(out), out)
            y = out
        else:
            y = states[0][-1]
        if self.return_state:
            return [y, *(s[-1] for s in states)]
        return y

    def _loop_keeps(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor] | None:
        """The dropout masks of :func:`_dropout_loop` when it runs (GRU/SimpleRNN, training,
        ``recurrent_dropout > 0``), else ``None``: ``(input_keep, recurrent_keep)``, shapes
        ``(G, N, 1, F)`` (``None`` without input ``dropout``) and ``(G, N, units)``, drawn once per call."""
        if self._loop_kind is None or not self.training or self.recurrent_dropout == 0.0:
            return None
        gates, n = self._gates, x.shape[0]
        input_keep = None
        if self.dropout > 0.0:
            input_keep = _keep_mask((gates, n, 1, x.shape[2]), self.dropout, x)
        return input_keep, _keep_mask((gates, n, self.units), self.recurrent_dropout, x)

    def _run(self, x: torch.Tensor, hx: Any, lengths: torch.Tensor | None,
             keeps: tuple[torch.Tensor | None, torch.Tensor] | None) -> tuple[torch.Tensor, Any]:
        """``(output, state)`` of the cell over ``x`` (real steps first), or of :func:`_dropout_loop`
        with the masks ``keeps`` (see :meth:`_loop_keeps`)."""
        if keeps is not None:
            return _dropout_loop(self._loop_kind, self.cell, x, hx, lengths=lengths,
                                 input_keep=keeps[0], recurrent_keep=keeps[1])
        if lengths is not None:
            return self.cell(x, hx, lengths=lengths)
        return self.cell(x, hx)

    def _stateful_initial(self, x: torch.Tensor) -> Any:
        n = x.shape[0]
        kept = self._kept_states
        if kept is None:
            states = [x.new_zeros(1, n, self.units) for _ in range(self._n_states)]
        else:
            if kept[0].shape[1] != n:
                raise ConfigError(
                    f"{type(self).__name__} '{self.name}' is stateful with batch size {kept[0].shape[1]}, found a "
                    f"batch of {n}: keep the batch size or call reset_states() first"
                )
            states = []
            for s in kept:
                if s.is_inference() and not torch.is_inference_mode_enabled():
                    s = s.clone()  # kept under inference_mode: a plain tensor for autograd
                states.append(s.to(device=x.device, dtype=x.dtype))
        return tuple(states) if self._n_states > 1 else states[0]

    def _initial_state(self, initial_state: Any, x: torch.Tensor) -> Any:
        if initial_state is None:
            return None
        if isinstance(initial_state, torch.Tensor):
            initial_state = [initial_state]
        states = list(initial_state)
        if len(states) != self._n_states:
            raise ConfigError(
                f"initial_state: {type(self).__name__} '{self.name}' expected {self._n_states} tensor(s), "
                f"found {len(states)}"
            )
        for s in states:
            if not isinstance(s, torch.Tensor) or tuple(s.shape) != (x.shape[0], self.units):
                raise ShapeError(
                    f"initial_state: {type(self).__name__} '{self.name}' expected tensors of shape "
                    f"({x.shape[0]}, {self.units}), found {tuple(getattr(s, 'shape', ()))}"
                )
        states = [s.unsqueeze(0).contiguous() for s in states]
        return tuple(states) if self._n_states > 1 else states[0]

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            use_bias=self.use_bias,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
        )
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.units}, return_sequences={self.return_sequences}"


class LSTM(_Recurrent):
    """Long short-term memory layer (Keras's ``keras.layers.LSTM``).

    Args:
        units: size of the hidden and cell state.
        activation: must be ``"tanh"``; recurrent_activation: must be ``"sigmoid"`` (the fused kernel's).
        use_bias: one bias per gate (Keras-style, so ``LSTM(64)`` on 128 features has 49,408 weights).
        unit_forget_bias: start the forget-gate bias at 1 (Keras default).
        dropout: input dropout rate (one mask per sequence, shared by all steps).
        recurrent_dropout: dropout on the recurrent state (uses the slower per-step loop).
        return_sequences: return every step's output ``(N, L, units)`` instead of the last ``(N, units)``.
        return_state: also return the final ``h`` and ``c``: ``[output, h, c]`` (not usable inside ``Sequential``).
        go_backwards: process the sequence in reverse (outputs with ``return_sequences`` are reversed too).
        stateful: carry the final state into the next call (see the module docstring); ``reset_states()``.

    Inputs: ``x`` ``(N, L, F)``; optional ``mask`` ``(N, L)`` bool; optional ``initial_state=[h, c]``,
    each ``(N, units)``.
    Outputs: ``(N, units)``, or ``(N, L, units)`` with ``return_sequences``.

    Weights: ``cell.weight_ih_l0`` ``(4*units, F)``, ``cell.weight_hh_l0`` ``(4*units, units)``,
    ``cell.bias_ih_l0`` ``(4*units,)`` (gate order i, f, g, o, as in PyTorch).
    """

    _gates = 4

    _nn_name = "LSTM"
    _n_states = 2

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )
        self.recurrent_activation = _only(recurrent_activation, "sigmoid", "recurrent_activation")
        self.unit_forget_bias = _check_bool(unit_forget_bias, "unit_forget_bias")

    def _make_cell(self, input_size: int) -> torch.nn.Module:
        from lstmkit import nn as lnn

        kwargs: dict[str, Any] = dict(
            batch_first=True,
            bias=self.use_bias,
            recurrent_bias=False,
            forget_bias=1.0 if self.unit_forget_bias else 0.0,
            init="keras",
        )
        if self.recurrent_dropout:
            kwargs["recurrent_dropout"] = self.recurrent_dropout
        return lnn.LSTM(input_size, self.units, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(recurrent_activation=self.recurrent_activation, unit_forget_bias=self.unit_forget_bias)
        return config


class _ResetBeforeGRU(torch.nn.Module):
    r"""The per-step loop behind ``GRU(reset_after=False)`` (Keras's other GRU form, the original one of
    Cho et al. 2014): the reset gate scales the previous state *before* the recurrent product, and
    there is one bias. Gate order r, z, n as PyTorch (Keras's is z, r, h)::

        r_t = sigmoid(W_ir x_t + b_r + W_hr h_{t-1})
        z_t = sigmoid(W_iz x_t + b_z + W_hz h_{t-1})
        n_t = tanh(W_in x_t + b_n + W_hn (r_t * h_{t-1}))
        h_t = z_t * h_{t-1} + (1 - z_t) * n_t

    (``reset_after=True``, PyTorch's form, has ``n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))``.)

    Weights (PyTorch names and layout, so exporters read them as they read ``lstmkit.nn.GRU``'s):
    ``weight_ih_l0`` ``(3H, F)``, ``weight_hh_l0`` ``(3H, H)``, ``bias_ih_l0`` ``(3H,)`` (no ``bias_hh``).
    ``forward(x, hx=None, *, lengths=None) -> (output, h_n)`` with ``x`` ``(N, L, F)``, ``hx``/``h_n``
    ``(1, N, H)`` and ``output`` ``(N, L, H)``; with ``lengths`` ``(N,)``, steps at and after a row's
    length keep its state and output zeros (as ``lstmkit.nn.GRU``'s packed path).
    """

    mode = "GRU_RESET_BEFORE"  # not an ONNX/torch mode: exporters that go by mode refuse it
    num_layers = 1
    bidirectional = False
    batch_first = True

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        from lstmkit.nn.initializers import glorot_uniform_, orthogonal_

        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        self.weight_ih_l0 = torch.nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh_l0 = torch.nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih_l0 = torch.nn.Parameter(torch.zeros(3 * hidden_size)) if bias else None
        # Keras's initialisers on its (F, 3H) and (H, 3H) kernels; the transposes have the same fans.
        glorot_uniform_(self.weight_ih_l0)
        with torch.no_grad():
            self.weight_hh_l0.copy_(orthogonal_(torch.empty(hidden_size, 3 * hidden_size)).t())

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None, *,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return _dropout_loop("gru_before", self, x, hx, lengths=lengths)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, reset_after=False" + ("" if self.bias else ", bias=False")


class GRU(_Recurrent):
    """Gated recurrent unit layer (Keras's ``keras.layers.GRU``).

    Same arguments, inputs and outputs as :class:`LSTM` (one state: ``return_state`` gives ``[output, h]``).
    Weights use PyTorch's layout (gate order r, z, n) with Keras's initialisers (glorot_uniform,
    orthogonal, zeros). ``recurrent_dropout`` (training only) runs :func:`_dropout_loop`, a per-step
    loop with Keras's masks: one per gate on ``h`` (and on the input when ``dropout`` is set too).

    ``reset_after`` (Keras's argument, default ``True``) picks the candidate state's form:

    * ``True`` (Keras's default, PyTorch's GRU, the fused kernel): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``;
      two biases, so ``GRU(64)`` on 128 features has 37,248 weights: ``cell.weight_ih_l0`` ``(3*units, F)``,
      ``cell.weight_hh_l0`` ``(3*units, units)``, ``cell.bias_ih_l0`` and ``cell.bias_hh_l0`` ``(3*units,)``;
    * ``False``: ``n = tanh(W_in x + b_n + W_hn (r * h))``, the reset gate before the recurrent
      product; one bias, so 37,056 weights: ``cell.weight_ih_l0``, ``cell.weight_hh_l0``,
      ``cell.bias_ih_l0`` (a per-step loop, slower; see ``_ResetBeforeGRU`` for all equations).

    In both, ``r = sigmoid(W_ir x + W_hr h + b_r)``, ``z = sigmoid(W_iz x + W_hz h + b_z)`` and
    ``h' = z * h + (1 - z) * n``.

    >>> import torch
    >>> GRU(4)(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 4])
    >>> layer = GRU(4, reset_after=False)
    >>> layer(torch.zeros(2, 5, 3)).shape, layer.count_params()
    (torch.Size([2, 4]), 96)
    """

    _gates = 3

    _nn_name = "GRU"
    _n_states = 1

    def __init__(self, units: int, activation: str = "tanh", recurrent_activation: str = "sigmoid",
                 reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = _only(recurrent_activation, "sigmoid", "recurrent_activation")
        self.reset_after = _check_bool(reset_after, "reset_after")

    @property
    def _loop_kind(self) -> str:  # type: ignore[override]
        return "gru" if self.reset_after else "gru_before"

    def _make_cell(self, input_size: int) -> torch.nn.Module:
        from lstmkit import nn as lnn

        if not self.reset_after:
            return _ResetBeforeGRU(input_size, self.units, bias=self.use_bias)
        return lnn.GRU(input_size, self.units, bias=self.use_bias, batch_first=True, init="keras")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["recurrent_activation"] = self.recurrent_activation
        config["reset_after"] = self.reset_after
        return config


class SimpleRNN(_Recurrent):
    """Fully connected recurrent layer, ``h_t = tanh(x_t W + h_{t-1} U + b)`` (Keras's ``SimpleRNN``: one
    bias, so ``SimpleRNN(64)`` on 128 features has 12,352 weights).

    Same arguments, inputs and outputs as :class:`LSTM` (one state). ``recurrent_dropout`` (training
    only) runs :func:`_dropout_loop`, a per-step loop: ``h_t = tanh(x_t W + b + (u * h_{t-1}) U)``.

    >>> import torch
    >>> SimpleRNN(4, return_sequences=True)(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 5, 4])
    """

    _nn_name = "SimpleRNN"
    _n_states = 1
    _loop_kind = "rnn"

    def __init__(self, units: int, activation: str = "tanh", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def _make_cell(self, input_size: int) -> torch.nn.Module:
        from lstmkit import nn as lnn

        return lnn.SimpleRNN(
            input_size, self.units, bias=self.use_bias, batch_first=True, recurrent_bias=False, init="keras"
        )
