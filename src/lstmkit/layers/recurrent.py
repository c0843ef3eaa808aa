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


class _Recurrent(Layer):
    """Shared machinery of LSTM, GRU and SimpleRNN (see the module docstring)."""

    supports_masking = True
    _nn_name: ClassVar[str] = ""
    _n_states: ClassVar[int] = 1
    _gates: ClassVar[int] = 1

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
        if self.dropout > 0.0 and self.training:
            # Keras: one dropout mask per sequence, shared by all steps.
            keep = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype)
            x = x * keep.bernoulli_(1.0 - self.dropout).div_(1.0 - self.dropout)
        hx = self._initial_state(initial_state, x)
        if self.stateful and hx is None:
            hx = self._stateful_initial(x)
        if mask is None:
            out, state = self.cell(x, hx)
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
                out, state = self.cell(x, hx, lengths=lengths)
            else:
                # A step's output depends only on earlier steps, so with the real steps first the
                # unpacked kernel already gives every real step's output exactly; only the final
                # cell state would need packing, which makes training about 5x slower on CPU.
                out, state = self.cell(x)
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


class GRU(_Recurrent):
    """Gated recurrent unit layer (Keras's ``keras.layers.GRU`` with its default ``reset_after=True``:
    two biases, so ``GRU(64)`` on 128 features has 37,248 weights).

    Same arguments, inputs and outputs as :class:`LSTM` (one state: ``return_state`` gives ``[output, h]``);
    ``recurrent_dropout`` is not supported. Weights use PyTorch's layout (gate order r, z, n) with
    Keras's initialisers (glorot_uniform, orthogonal, zeros).

    >>> import torch
    >>> GRU(4)(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 4])
    """

    _gates = 3

    _nn_name = "GRU"
    _n_states = 1

    def __init__(self, units: int, activation: str = "tanh", recurrent_activation: str = "sigmoid", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = _only(recurrent_activation, "sigmoid", "recurrent_activation")
        if self.recurrent_dropout:
            raise ConfigError(f"recurrent_dropout: GRU supports only 0.0, found {self.recurrent_dropout!r}")

    def _make_cell(self, input_size: int) -> torch.nn.Module:
        from lstmkit import nn as lnn

        return lnn.GRU(input_size, self.units, bias=self.use_bias, batch_first=True, init="keras")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["recurrent_activation"] = self.recurrent_activation
        return config


class SimpleRNN(_Recurrent):
    """Fully connected recurrent layer, ``h_t = tanh(x_t W + h_{t-1} U + b)`` (Keras's ``SimpleRNN``: one
    bias, so ``SimpleRNN(64)`` on 128 features has 12,352 weights).

    Same arguments, inputs and outputs as :class:`LSTM` (one state); ``recurrent_dropout`` is not supported.

    >>> import torch
    >>> SimpleRNN(4, return_sequences=True)(torch.zeros(2, 5, 3)).shape
    torch.Size([2, 5, 4])
    """

    _nn_name = "SimpleRNN"
    _n_states = 1

    def __init__(self, units: int, activation: str = "tanh", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)
        if self.recurrent_dropout:
            raise ConfigError(f"recurrent_dropout: SimpleRNN supports only 0.0, found {self.recurrent_dropout!r}")

    def _make_cell(self, input_size: int) -> torch.nn.Module:
        from lstmkit import nn as lnn

        return lnn.SimpleRNN(
            input_size, self.units, bias=self.use_bias, batch_first=True, recurrent_bias=False, init="keras"
        )
