"""Shared plumbing of the recurrent layers: torch-layout parameters and argument checks.

Parameters are created with exactly the names, shapes and order of ``torch.nn.RNNBase``
(``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
``weight_hr_l{k}``) so state dicts move between lstmkit and torch in both directions.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn.initializers import glorot_uniform_, orthogonal_


def check_positive_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{owner} {name}: expected a positive int, found {value!r}")
    return int(value)


def check_probability(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{owner} {name}: expected a float in [0, 1), found {value!r}")
    return float(value)


def check_bool(owner: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{owner} {name}: expected True or False, found {value!r}")
    return value


class RecurrentBase(nn.Module):
    """Torch-layout weights for ``num_layers x num_directions`` recurrent layers of ``gates`` blocks."""

    def __init__(
        self,
        owner: str,
        gates: int,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
        proj_size: int,
        recurrent_bias: bool,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self._owner = owner
        self.input_size = check_positive_int(owner, "input_size", input_size)
        self.hidden_size = check_positive_int(owner, "hidden_size", hidden_size)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        self.bias = check_bool(owner, "bias", bias)
        self.batch_first = check_bool(owner, "batch_first", batch_first)
        self.dropout = check_probability(owner, "dropout", dropout)
        self.bidirectional = check_bool(owner, "bidirectional", bidirectional)
        self.recurrent_bias = check_bool(owner, "recurrent_bias", recurrent_bias)
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) or proj_size < 0:
            raise ConfigError(f"{owner} proj_size: expected an int >= 0 (0 = no projection), found {proj_size!r}")
        if proj_size >= hidden_size:
            raise ConfigError(f"{owner} proj_size: expected less than hidden_size={hidden_size}, found {proj_size}")
        self.proj_size = int(proj_size)
        from lstmkit.util.memory import check_weights_fit, lstm_params

        # An absurd size is one clear line here, not an allocator traceback from torch.empty below.
        check_weights_fit(f"{owner} hidden_size", self.hidden_size, lstm_params(
            self.input_size, self.hidden_size, self.num_layers, self.bidirectional, gates, self.proj_size), device)
        self.gate_size = gates * self.hidden_size
        self.num_directions = 2 if self.bidirectional else 1
        self.output_size = self.proj_size or self.hidden_size  # H_out: size of h and of each output direction

        factory = {"device": device, "dtype": dtype}
        # Names in torch's flat-weight order; the fused kernel takes them in exactly this order.
        self._flat_weight_names: list[str] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.output_size * self.num_directions
            for direction in range(self.num_directions):
                sfx = self.suffix(layer, direction)
                self.register_parameter(f"weight_ih{sfx}", nn.Parameter(torch.empty(self.gate_size, layer_input, **factory)))
                self.register_parameter(f"weight_hh{sfx}", nn.Parameter(torch.empty(self.gate_size, self.output_size, **factory)))
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                if self.bias:
                    self.register_parameter(f"bias_ih{sfx}", nn.Parameter(torch.empty(self.gate_size, **factory)))
                    if self.recurrent_bias:
                        self.register_parameter(f"bias_hh{sfx}", nn.Parameter(torch.empty(self.gate_size, **factory)))
                    else:
                        # Keras-style single bias: kept as a zero buffer so state-dict keys still
                        # match torch and the fused kernel still gets its four tensors.
                        self.register_buffer(f"bias_hh{sfx}", torch.zeros(self.gate_size, **factory))
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                if self.proj_size:
                    self.register_parameter(f"weight_hr{sfx}", nn.Parameter(torch.empty(self.proj_size, self.hidden_size, **factory)))
                    names.append(f"weight_hr{sfx}")
                self._flat_weight_names.extend(names)

    @staticmethod
    def suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction == 1 else "")

    def flat_weights(self) -> list[Tensor]:
        """The weights in the fused kernel's order (plain dict look-ups: this runs on every call)."""
        params, buffers = self._parameters, self._buffers
        return [params[n] if n in params else buffers[n] for n in self._flat_weight_names]

    def torch_uniform_(self) -> None:
        """torch's default init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def keras_init_(self) -> None:
        """Keras's defaults: glorot-uniform input and projection kernels, orthogonal recurrent kernels, zero biases."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith(("weight_ih", "weight_hr")):
                    glorot_uniform_(p)
                elif name.startswith("weight_hh"):
                    orthogonal_(p)
                elif name.startswith(("bias_ih", "bias_hh")):
                    p.zero_()

    def init_weights_(self, init: str) -> None:
        """Apply the named scheme (see :mod:`lstmkit.nn.initializers`) to the torch-layout weights."""
        if init == "keras":
            self.keras_init_()
        else:
            self.torch_uniform_()

    # ---- argument checks -------------------------------------------------------------------

    def check_input(self, input: Tensor) -> tuple[Tensor, bool]:
        """Return the input as batched 3-D and whether it was batched."""
        if not isinstance(input, Tensor):
            raise InputValueError(f"{self._owner} input: expected a torch.Tensor, found {type(input).__name__}")
        layout = "(N, L, H_in={})" if self.batch_first else "(L, N, H_in={})"
        if input.dim() not in (2, 3) or input.size(-1) != self.input_size:
            raise ShapeError(
                f"{self._owner} input: expected 3-D {layout.format(self.input_size)} or unbatched 2-D "
                f"(L, H_in={self.input_size}) tensor, found shape {tuple(input.shape)}"
            )
        weight = self.weight_ih_l0
        if (input.dtype != weight.dtype and input.dtype in (torch.bfloat16, torch.float16)
                and torch.is_autocast_enabled(input.device.type)):
            # Under autocast the layer before (an LSTM with return_sequences, a Dense) may hand on
            # bf16/fp16 activations; autocast itself picks this layer's compute dtype.
            input = input.to(weight.dtype)
        if input.dtype != weight.dtype:
            raise InputValueError(
                f"{self._owner} input: expected dtype {weight.dtype} (the weights' dtype), found {input.dtype}"
            )
        if input.dim() == 2:
            return input.unsqueeze(0 if self.batch_first else 1), False
        return input, True

    def check_state(self, state: object, name: str, size: int, batch: int, is_batched: bool, like: Tensor) -> Tensor:
        """Validate one initial-state tensor and return it batched ``(layers*dirs, N, size)``."""
        stacks = self.num_layers * self.num_directions
        expected = (stacks, batch, size) if is_batched else (stacks, size)
        if not isinstance(state, Tensor) or tuple(state.shape) != expected:
            found = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
            raise ShapeError(
                f"{self._owner} {name}: expected shape {expected} "
                f"(num_layers*num_directions, {'N, ' if is_batched else ''}{size}), found {found}"
            )
        if state.dtype != like.dtype:
            raise InputValueError(f"{self._owner} {name}: expected dtype {like.dtype}, found {state.dtype}")
        return state if is_batched else state.unsqueeze(1)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if not self.recurrent_bias:
            s += ", recurrent_bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s
