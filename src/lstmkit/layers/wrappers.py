"""``TimeDistributed``: apply a layer to every time step on its own (Keras 3's wrapper).

>>> import torch
>>> from lstmkit.layers import Dense, TimeDistributed
>>> layer = TimeDistributed(Dense(3))
>>> layer(torch.zeros(2, 5, 4)).shape
torch.Size([2, 5, 3])
>>> layer.count_params()
15
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import Layer, Shape, format_shape, layer_from_config, layer_to_config
from lstmkit.layers.keras_args import split_unsupported


class TimeDistributed(Layer):
    """Apply ``layer`` to each step of ``(N, L, ...)``: the steps are folded into the batch axis,
    ``layer`` runs on ``(N*L, ...)`` and the result is unfolded to ``(N, L, ...)``.

    Args:
        layer: any lstmkit layer that works on one step (``Dense``, ``Dropout``, ``Flatten``,
            ``Conv1D`` on ``(N, L, steps, channels)`` ...). Its weights are shared by all steps.

    A mask (from ``Embedding(mask_zero=True)``) is passed on unchanged, as in Keras; masked steps are
    computed like the others and skipped by the layers after.
    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        super().__init__(**split_unsupported("TimeDistributed", kwargs, {}))
        from lstmkit.layers.input import InputLayer

        if not isinstance(layer, Layer) or isinstance(layer, InputLayer):
            raise ConfigError(f"layer: expected an lstmkit layer to apply per step, found {type(layer).__name__}")
        if getattr(layer, "return_state", False):
            raise ConfigError("layer: TimeDistributed needs a layer that returns one tensor, found return_state=True")
        self.layer = layer

    @property
    def activation(self) -> Any:
        """The inner layer's activation when it can hand over logits (so training uses them), else None."""
        if type(self.layer).call_logits is Layer.call_logits:
            return None
        return getattr(self.layer, "activation", None)

    def generalize_shape(self, shape: Shape) -> Shape:
        if len(shape) < 2:
            return tuple(shape)
        return (None, *self.layer.generalize_shape(tuple(shape[1:])))

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2:
            raise ShapeError(
                f"TimeDistributed '{self.name}' input: expected (N, L, ...) with at least one axis per step, "
                f"found {format_shape(input_shape)}"
            )
        if not self.layer.built:
            self.layer.build(tuple(input_shape[1:]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *self.layer.compute_output_shape(tuple(input_shape[1:])))

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return mask

    def _fold(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        if x.dim() < 3:
            raise self._input_error("(N, L, ...)", x)
        n, steps = x.shape[0], x.shape[1]
        return x.reshape(n * steps, *x.shape[2:]), n, steps

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        folded, n, steps = self._fold(x)
        y = self.layer(folded)
        return y.reshape(n, steps, *y.shape[1:])

    def call_logits(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, str] | None:
        if not self.built:
            self.build_from_input(x)
        folded, n, steps = self._fold(x)
        result = self.layer.call_logits(folded)
        if result is None:
            return None
        logits, activation = result
        return logits.reshape(n, steps, *logits.shape[1:]), activation

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": layer_to_config(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TimeDistributed":
        config = dict(config)
        if "layer" in config:
            config["layer"] = layer_from_config(config["layer"])
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"
