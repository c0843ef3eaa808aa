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

MERGE_MODES = ("concat", "sum", "mul", "ave")


class Bidirectional(Layer):
    """Keras's ``Bidirectional`` wrapper.

    Args:
        layer: an ``LSTM``, ``GRU`` or ``SimpleRNN`` (the forward direction; a copy with
            ``go_backwards`` flipped is the backward one, unless ``backward_layer`` is given).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"`` or ``"ave"``.

    Inputs: ``(N, L, F)`` and an optional mask. Outputs: ``(N, 2*units)`` for ``concat`` (else
    ``(N, units)``), or per step with ``return_sequences``; the backward outputs are put back in
    forward time order, as in Keras. Padding from a mask is skipped by both directions.
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
        if layer.return_state:
            raise ConfigError("layer: Bidirectional does not support return_state=True, found True")
        self.merge_mode = merge_mode
        base = layer.name
        if backward_layer is None:
            config = dict(layer.get_config(), go_backwards=not layer.go_backwards, name=f"backward_{base}")
            backward_layer = type(layer).from_config(config)
        elif not isinstance(backward_layer, _Recurrent) or backward_layer.return_sequences != layer.return_sequences:
            raise ConfigError(
                "backward_layer: expected a recurrent layer with the same return_sequences as layer, "
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

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            shape = (*shape[:-1], 2 * shape[-1])
        return shape

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return mask if self.return_sequences else None

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        y_fwd = self.forward_layer(x, mask)
        y_bwd = self.backward_layer(x, mask)
        if self.return_sequences and self.backward_layer.go_backwards != self.forward_layer.go_backwards:
            y_bwd = y_bwd.flip(1)
        if self.merge_mode == "concat":
            return torch.cat([y_fwd, y_bwd], dim=-1)
        if self.merge_mode == "sum":
            return y_fwd + y_bwd
        if self.merge_mode == "mul":
            return y_fwd * y_bwd
        return (y_fwd + y_bwd) / 2

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
