"""``Dense``: ``activation(x @ kernel + bias)`` on the last axis.

>>> import torch
>>> from lstmkit.layers import Dense
>>> layer = Dense(2, activation="softmax")
>>> layer(torch.zeros(3, 64)).shape
torch.Size([3, 2])
>>> layer.count_params()
130
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.errors import ShapeError
from lstmkit.layers.activations import canonical_activation, get_activation
from lstmkit.layers.base import Layer, Shape, check_positive_int
from lstmkit.layers.initializers import check_initializer, initialize


class Dense(Layer):
    """A fully connected layer on the last axis: ``y = activation(x @ kernel + bias)``.

    Args:
        units: output size.
        activation: ``None`` (linear), ``"relu"``, ``"softmax"``, ``"sigmoid"``, ``"tanh"``, ... (see
            :data:`lstmkit.layers.activations.ACTIVATIONS`).
        use_bias: add a bias (initialised to zeros).
        kernel_initializer: Keras name, default ``"glorot_uniform"``.

    Inputs: ``(N, ..., F)``.  Outputs: ``(N, ..., units)``.
    Weights: ``kernel`` of shape ``(F, units)`` (Keras layout) and ``bias`` of shape ``(units,)``.
    """

    supports_masking = True

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.activation = canonical_activation(activation)
        self._activation_fn = get_activation(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.kernel: torch.nn.Parameter | None = None
        self.bias: torch.nn.Parameter | None = None

    def build(self, input_shape: Shape) -> None:
        if not input_shape or input_shape[-1] is None:
            raise ShapeError(
                f"Dense '{self.name}' input: expected a known last axis (N, ..., features), found "
                f"{('None',) + tuple(input_shape)}"
            )
        fan_in = int(input_shape[-1])
        from lstmkit.util.memory import check_weights_fit

        # An absurd size is one clear line here, not an allocator error from torch.empty below.
        name, value = ("units", self.units) if self.units >= fan_in else (f"Dense '{self.name}' input features", fan_in)
        check_weights_fit(name, value, (fan_in + 1) * self.units)
        self.kernel = torch.nn.Parameter(torch.empty(fan_in, self.units))
        initialize(self.kernel, self.kernel_initializer, fan_in=fan_in, fan_out=self.units)
        if self.use_bias:
            self.bias = torch.nn.Parameter(torch.empty(self.units))
            initialize(self.bias, self.bias_initializer, fan_in=fan_in, fan_out=self.units)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def _linear(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.kernel.shape[0]:
            raise self._input_error(f"(N, ..., {self.kernel.shape[0]})", x)
        return F.linear(x, self.kernel.t(), self.bias)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self._activation_fn(self._linear(x))

    def call_logits(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, str] | None:
        if self.activation not in ("softmax", "sigmoid"):
            return None
        if not self.built:
            self.build_from_input(x)
        return self._linear(x), self.activation

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.units}, activation={self.activation!r}"


class Activation(Layer):
    """Keras's ``Activation`` layer: ``y = activation(x)`` element-wise (softmax over the last axis).

    Args: ``activation``, a name from :data:`lstmkit.layers.activations.ACTIVATIONS`. No weights; masks
    pass through. Ending a model in ``Activation("softmax")`` keeps the stable from-logits loss.

    >>> import torch
    >>> Activation("relu")(torch.tensor([[-1.0, 2.0]])).tolist()
    [[0.0, 2.0]]
    """

    supports_masking = True

    def __init__(self, activation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = canonical_activation(activation)
        self._fn = get_activation(self.activation)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self._fn(x)

    def call_logits(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, str] | None:
        return (x, self.activation) if self.activation in ("softmax", "sigmoid") else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}
