"""``Bidirectional``: run a recurrent layer forwards and backwards and merge the results.

>>> import torch
>>> from lstmkit.layers import Bidirectional, LSTM
>>> layer = Bidirectional(LSTM(8, return_sequences=True))
>>> layer(torch.zeros(2, 5, 3)).shape
torch.Size([2, 5, 16])
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.errors import ConfigError
from lstmkit.layers.base import Layer, Shape, layer_from_config, layer_to_config
from lstmkit.layers.recurrent import _Recurrent

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Keras's ``Bidirectional`` wrapper.

    Args:
        layer: an ``LSTM``, ``GRU`` or ``SimpleRNN`` (the forward direction; a copy with
            ``go_backwards`` flipped is the backward one, unless ``backward_layer`` is given).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or ``None`` (a list
            ``[forward, backward]``, unmerged).

    Inputs: ``(N, L, F)``, an optional mask, and an optional ``initial_state``: the forward layer's
    states then the backward layer's (``[h_f, c_f, h_b, c_b]`` for LSTMs), each ``(N, units)``.
    Outputs: ``(N, 2*units)`` for ``concat`` (else ``(N, units)``), or per step with
    ``return_sequences``; the backward outputs are put back in forward time order, as in Keras.
    Padding from a mask is skipped by both directions. With ``return_state=True`` on the wrapped layer,
    Keras's list: ``[output, *forward_states, *backward_states]`` (``[forward, backward, *states]`` for
    ``merge_mode=None``), e.g. the final ``h``/``c`` of a bidirectional encoder for a decoder.
    """

    supports_masking = True

    def __init__(
        self, layer: _Recurrent, merge_mode: str = "concat", backward_layer: _Recurrent | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, _Recurrent):
            raise ConfigError(f"layer: expected an LSTM, GRU or SimpleRNN layer, found {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ConfigError(f"merge_mode: expected one of {list(MERGE_MODES)}, found {merge_mode!r}")
        self.merge_mode = merge_mode
        self.return_state = layer.return_state
        base = layer.name
        if backward_layer is None:
            config = dict(layer.get_config(), go_backwards=not layer.go_backwards, name=f"backward_{base}")
            backward_layer = type(layer).from_config(config)
        elif not isinstance(backward_layer, _Recurrent) or backward_layer.return_sequences != layer.return_sequences \
                or backward_layer.return_state != layer.return_state:
            raise ConfigError(
                "backward_layer: expected a recurrent layer with the same return_sequences and return_state as layer, "
                f"found {backward_layer!r:.60}"
            )
        if layer._auto_named:
            layer.name = f"forward_{base}"
        self.forward_layer = layer
        self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        if layer.built:
            self.build(layer.built_input_shape)

    def build(self, input_shape: Shape) -> None:
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Any:
        fwd = self.forward_layer
        shape = fwd.compute_output_shape(input_shape)
        outputs: list = [shape, shape] if self.merge_mode is None else [
            (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape]
        if self.return_state:
            outputs += [*fwd.state_shapes(), *self.backward_layer.state_shapes()]
        return outputs[0] if len(outputs) == 1 else outputs

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> Any:
        out = mask if self.return_sequences else None
        if self.merge_mode is None or self.return_state:
            n_states = 2 * self.forward_layer._n_states if self.return_state else 0
            return [out] * (2 if self.merge_mode is None else 1) + [None] * n_states
        return out

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, initial_state: Any = None) -> Any:
        if not self.built:
            self.build_from_input(x)
        return self.call(x, mask, initial_state)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None, initial_state: Any = None) -> Any:
        fwd_state = bwd_state = None
        if initial_state is not None:
            states = [initial_state] if isinstance(initial_state, torch.Tensor) else list(initial_state)
            n = self.forward_layer._n_states
            if len(states) != 2 * n:
                raise ConfigError(f"initial_state: Bidirectional '{self.name}' expected {2 * n} tensors (the forward "
                                  f"layer's {n} then the backward layer's {n}), found {len(states)}")
            fwd_state, bwd_state = states[:n], states[n:]
        y_fwd = self.forward_layer(x, mask, initial_state=fwd_state)
        y_bwd = self.backward_layer(x, mask, initial_state=bwd_state)
        states: list = []
        if self.return_state:
            states = [*y_fwd[1:], *y_bwd[1:]]
            y_fwd, y_bwd = y_fwd[0], y_bwd[0]
        if self.return_sequences and self.backward_layer.go_backwards != self.forward_layer.go_backwards:
            y_bwd = y_bwd.flip(1)
        if self.merge_mode is None:
            return [y_fwd, y_bwd, *states]
        if self.merge_mode == "concat":
            y = torch.cat([y_fwd, y_bwd], dim=-1)
        elif self.merge_mode == "sum":
            y = y_fwd + y_bwd
        elif self.merge_mode == "mul":
            y = y_fwd * y_bwd
        else:
            y = (y_fwd + y_bwd) / 2
        return [y, *states] if self.return_state else y

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            layer=layer_to_config(self.forward_layer),
            merge_mode=self.merge_mode,
            backward_layer=layer_to_config(self.backward_layer),
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Bidirectional":
        config = dict(config)
        config["layer"] = layer_from_config(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = layer_from_config(config["backward_layer"])
        return cls(**config)
