"""``Sequential``: a plain stack of layers, each feeding the next (Keras's ``keras.Sequential``).

The article's model:

>>> from lstmkit.models import Sequential
>>> from lstmkit.layers import LSTM, Dense, Embedding
>>> model = Sequential()
>>> model.add(Embedding(input_dim=10000, output_dim=128, input_length=100))
>>> model.add(LSTM(units=64, return_sequences=False))
>>> model.add(Dense(units=2, activation='softmax'))
>>> model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
>>> model.output_shape, model.count_params()
((None, 2), 1329538)
>>> import torch
>>> model(torch.zeros(4, 100, dtype=torch.long)).shape
torch.Size([4, 2])
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import Layer, Shape, check_shape, format_shape, found_shape, layer_from_config, layer_to_config, snake_case
from lstmkit.layers.embedding import Embedding
from lstmkit.layers.input import Input, InputLayer
from lstmkit.layers.symbolic import KerasTensor
from lstmkit.models.data import as_tensor
from lstmkit.models.model import Model


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: optional list of layers (an :class:`~lstmkit.layers.Input` first to declare the input shape).
        name: the model's name (default ``"sequential"``).

    Shapes are inferred as soon as the input shape is known: from an ``Input``, a first layer's
    ``input_shape=`` or an ``Embedding`` first layer (whose ``input_length`` may be ``None``);
    otherwise on the first call. ``model.layers`` is a ``torch.nn.ModuleList`` (state-dict keys
    ``layers.0.embeddings``, ``layers.1.cell.weight_ih_l0`` ...).

    Inputs: ``x`` of shape ``(N, *input_shape)``. Outputs: ``(N, *output_shape)``.
    """

    def __init__(self, layers: Iterable[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(name=name or "sequential")
        self.layers = torch.nn.ModuleList()
        self._input_shape: Shape | None = None
        self._output_shapes: list[Shape] = []
        self._token_input = False
        self._layer_list: list[Layer] = []
        if layers is not None:
            if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
                raise ConfigError(f"layers: expected a list of layers, found {type(layers).__name__}")
            for layer in layers:
                self.add(layer)

    # ------------------------------------------------------------------ building
    def add(self, layer: Layer) -> None:
        """Append a layer (builds it at once when the input shape is known)."""
        if isinstance(layer, Input):
            layer = layer.input_layer
        elif isinstance(layer, KerasTensor):
            raise ConfigError(f"layer: expected a layer or an Input(...), found the output tensor of layer "
                              f"{getattr(layer.layer, 'name', '?')!r}; use Model(inputs, outputs) for a graph")
        if not isinstance(layer, Layer):
            raise ConfigError(f"layer: expected an lstmkit.layers layer, found {type(layer).__name__}")
        if isinstance(layer, InputLayer):
            if len(self.layers) or self._input_shape is not None:
                raise ConfigError(f"layer: an Input must come first in Sequential {self.name!r}, found it at position {len(self.layers)}")
            self._input_shape = layer.shape
            return
        if getattr(layer, "return_state", False) or (hasattr(layer, "merge_mode") and layer.merge_mode is None):
            raise ConfigError(
                f"layer: {type(layer).__name__} with return_state=True (or merge_mode=None) returns several tensors; "
                "a Sequential layer must return one (use the Functional API: Model(inputs, outputs))"
            )
        if any(existing is layer for existing in self.layers):
            raise ConfigError(f"layer: {layer.name!r} is already in Sequential {self.name!r}")
        names = {existing.name for existing in self.layers}
        if layer._auto_named and layer.name in names:
            base = snake_case(type(layer).__name__)
            name, i = base, 0
            while name in names:
                i += 1
                name = f"{base}_{i}"
            layer.name = name
        elif layer.name in names:
            raise ConfigError(f"layer: the name {layer.name!r} is already used in Sequential {self.name!r}")
        if not len(self.layers):
            if self._input_shape is None:
                self._input_shape = layer.default_input_shape()
            self._token_input = isinstance(layer, Embedding)
        self.layers.append(layer)
        self._layer_list = list(self.layers)
        if self._input_shape is not None:
            self._infer_shapes()

    def _infer_shapes(self) -> None:
        shape = self._input_shape
        shapes = []
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
                device = next((p.device for p in self.parameters() if p.device.type != "cpu"), None)
                if device is not None:
                    layer.to(device)
            elif layer.built_input_shape is not None and not _compatible(layer.built_input_shape, shape):
                raise ShapeError(
                    f"layer '{layer.name}': built for inputs {format_shape(layer.built_input_shape)}, "
                    f"but the previous layer outputs {format_shape(shape)}"
                )
            shape = layer.compute_output_shape(shape)
            shapes.append(shape)
        self._output_shapes = shapes

    def build(self, input_shape: Any = None) -> None:
        """Build for ``input_shape`` given Keras-style *with* the batch axis, e.g. ``(None, 100)``."""
        shape = check_shape(tuple(input_shape)[1:], "input_shape") if input_shape is not None else self._input_shape
        if shape is None:
            raise ConfigError("input_shape: Sequential.build needs an input shape such as (None, 100), found None")
        self._input_shape = shape
        self._infer_shapes()

    @property
    def built(self) -> bool:
        return bool(self._output_shapes) and len(self._output_shapes) == len(self.layers)

    @property
    def input_shape(self) -> tuple | None:
        return None if self._input_shape is None else (None, *self._input_shape)

    @property
    def output_shape(self) -> tuple | None:
        return (None, *self._output_shapes[-1]) if self.built else None

    def ensure_built(self, x: torch.Tensor) -> tuple:
        if not self.layers:
            raise ConfigError(f"Sequential {self.name!r}: has no layers; add some with model.add(...)")
        if not self.built:
            if self._input_shape is None:
                self._input_shape = self.layers[0].generalize_shape(tuple(x.shape[1:]))
            self._infer_shapes()
            if x.device.type != "cpu":
                self.to(x.device)
        return self._output_shapes[-1]

    # ------------------------------------------------------------------ running
    def expected_input(self) -> str:
        what = " token ids" if self._token_input else ""
        return f"{format_shape(self._input_shape, batch='N')}{what}"

    def check_inputs(self, x: torch.Tensor, argument: str) -> None:
        self._check_shape(x, argument)
        first = self.layers[0]
        if isinstance(first, Embedding):
            first.check_ids(x, argument)

    def _check_shape(self, x: torch.Tensor, argument: str) -> None:
        shape = self._input_shape
        if x.dim() != len(shape) + 1 or any(e is not None and e != d for e, d in zip(shape, x.shape[1:])):
            raise ShapeError(f"{argument}: expected {self.expected_input()}, found {found_shape(x)}")

    def _run(self, x: Any, mask: torch.Tensor | None, logits: bool, with_mask: bool = False) -> Any:
        if not isinstance(x, torch.Tensor):
            x = as_tensor(x, "x")
        if not self.built:
            self.ensure_built(x)
        self._check_shape(x, "x")
        if not self._token_input:
            # Features take the weights' dtype, as in Keras: integer or bool features feed float
            # layers, and a model moved to float64 (``.double()``) gets float64 inputs. Only an
            # Embedding takes integer ids.
            dtype = next((p.dtype for p in self.parameters() if p.is_floating_point()), torch.get_default_dtype())
            if x.dtype != dtype:
                x = x.to(dtype)
        layers = self._layer_list
        last = len(layers) - 1
        for i, layer in enumerate(layers):
            if logits and i == last:
                y = layer.call_logits(x, mask)[0]
            else:
                y = layer(x, mask)
            if mask is not None or layer.supports_masking:
                mask = layer.compute_mask(x, mask)
            x = y
        return (x, mask) if with_mask else x

    def forward(self, x: Any, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self._run(x, mask, False)

    def logits_activation(self) -> str | None:
        if not len(self.layers):
            return None
        last = self.layers[-1]
        act = getattr(last, "activation", None)
        return act if act in ("softmax", "sigmoid") and type(last).call_logits is not Layer.call_logits else None

    def call_with_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None, True)

    def call_outputs(self, x: Any, logits: list[bool]) -> tuple[list[torch.Tensor], list[Any]]:
        """The output (logits where asked) and its Keras mask: per-step outputs after
        ``Embedding(mask_zero=True)``/``Masking`` keep the mask, so the loss counts real steps only."""
        out, mask = self._run(x, None, bool(logits[0]), with_mask=True)
        return [out], [mask]

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": None if self._input_shape is None else list(self._input_shape),
            "layers": [layer_to_config(layer) for layer in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Sequential":
        model = cls(name=config.get("name"))
        if config.get("input_shape") is not None:
            model.add(Input(shape=tuple(config["input_shape"])))
        for spec in config.get("layers", []):
            model.add(layer_from_config(spec))
        return model

    def summary_rows(self) -> list[tuple[str, str, int | None]]:
        rows = []
        for i, layer in enumerate(self.layers):
            shape = format_shape(self._output_shapes[i]) if self.built else "?"
            params = layer.count_params() if layer.built else None
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, params))
        return rows


def _compatible(built: Shape, shape: Shape) -> bool:
    return len(built) == len(shape) and all(b is None or s is None or b == s for b, s in zip(built, shape))
