"""``Input`` and ``InputLayer``: a model's input, for ``Sequential`` and the Functional API.

``Input(shape)`` is Keras's: a :class:`~lstmkit.layers.symbolic.KerasTensor` placeholder (its ``shape``
includes the batch axis, e.g. ``(None, 8)``) made by an :class:`InputLayer`. Layers are called on it
to write a Functional model; put first in a ``Sequential`` it declares the input shape.

>>> from lstmkit.models import Sequential, Model
>>> from lstmkit.layers import Input, Dense
>>> Sequential([Input(shape=(8,)), Dense(4)]).output_shape
(None, 4)
>>> inputs = Input(shape=(8,))
>>> inputs
<KerasTensor shape=(None, 8), dtype=float32, name=input_layer>
>>> Model(inputs, Dense(4)(inputs)).output_shape
(None, 4)
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.errors import ConfigError
from lstmkit.layers.base import Layer, check_positive_int, check_shape
from lstmkit.layers.symbolic import KerasTensor, Node, check_dtype


class InputLayer(Layer):
    """The layer behind :class:`Input` (Keras's ``InputLayer``): it has no weights and returns its input.

    Args:
        shape: one sample's shape without the batch axis, e.g. ``(100,)`` for 100 token ids or
            ``(None, 3)`` for sequences of any length with 3 features.
        batch_size: a fixed batch size (needed by ``stateful=True`` layers in Keras), or ``None``.
        dtype: ``"float32"`` (default) or an integer type for token ids (``"int32"``, ``"int64"``).
        name: the input's name (the key of a dict input to ``fit``/``predict``).
    """

    supports_masking = True

    def __init__(self, shape: Any = None, batch_size: int | None = None, dtype: Any = None, sparse: Any = None,
                 name: str | None = None, *, input_shape: Any = None, batch_shape: Any = None, **kwargs: Any) -> None:
        if kwargs.get("ragged") or sparse:
            raise ConfigError("sparse / ragged: lstmkit inputs are dense tensors; pad sequences to one length")
        kwargs.pop("ragged", None)
        kwargs.pop("trainable", None)
        if kwargs:
            raise ConfigError(f"InputLayer: unknown argument {sorted(kwargs)[0]!r}")
        if batch_shape is not None:
            batch_shape = tuple(batch_shape)
            if not batch_shape:
                raise ConfigError("batch_shape: expected (batch, *shape), found ()")
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ConfigError("shape: expected a tuple such as (100,) or (None, 3) (without the batch axis), found None")
        super().__init__(name=name if name is not None else "input_layer")
        self._auto_named = name is None
        self.shape = check_shape(shape, "shape")
        self.batch_size = None if batch_size is None else check_positive_int(batch_size, "batch_size")
        self.dtype = check_dtype(dtype)
        self.input_shape_arg = self.shape
        self.built = True
        self.built_input_shape = self.shape
        node = Node(self, (), {}, single_output=True)
        node.outputs = [KerasTensor((self.batch_size, *self.shape), self.dtype, node=node, index=0, name=self.name)]
        self._inbound_nodes.append(node)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"shape": list(self.shape), "name": self.name}
        if self.batch_size is not None:
            config["batch_size"] = self.batch_size
        if self.dtype != "float32":
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "InputLayer":
        return cls(**config)


class Input(KerasTensor):
    """Keras's ``keras.Input``: a placeholder for a model input (a :class:`KerasTensor` made by an
    :class:`InputLayer`).

    Args:
        shape: one sample's shape without the batch axis (``None`` for an unknown length).
        batch_size: a fixed batch size, or ``None``.
        dtype: ``"float32"`` (default) or an integer type for token ids.
        name: the input's name.

    ``shape`` is Keras's, with the batch axis: ``Input(shape=(8,)).shape == (None, 8)``.
    """

    def __init__(self, shape: Any = None, batch_size: int | None = None, dtype: Any = None, sparse: Any = None,
                 batch_shape: Any = None, name: str | None = None, tensor: Any = None, optional: bool = False) -> None:
        if tensor is not None:
            raise ConfigError("tensor: lstmkit's Input does not wrap an existing tensor; give shape=")
        if optional:
            raise ConfigError("optional: optional inputs are not supported; give every input")
        layer = InputLayer(shape, batch_size=batch_size, dtype=dtype, sparse=sparse, name=name, batch_shape=batch_shape)
        node = layer._inbound_nodes[0]
        super().__init__(node.outputs[0].shape, layer.dtype, node=node, index=0, name=layer.name)
        node.outputs = [self]

    @property
    def input_layer(self) -> InputLayer:
        return self.node.layer  # type: ignore[return-value]

    def get_config(self) -> dict[str, Any]:
        return self.input_layer.get_config()
