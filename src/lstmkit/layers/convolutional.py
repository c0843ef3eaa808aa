"""Keras 3's 1-D convolution and pooling over time: ``Conv1D``, ``MaxPooling1D``, ``AveragePooling1D``.

Inputs are channels-last ``(N, L, C)`` as in Keras. ``padding="same"`` pads as Keras and
TensorFlow do (``ceil(L / strides)`` outputs, the odd extra pad on the right); ``"causal"``
(``Conv1D`` only) pads ``dilation_rate * (kernel_size - 1)`` zeros on the left, so output ``t``
sees only inputs up to ``t``. Pooling never counts padding (a max over the real values, an average
over the real values only). Like Keras, these layers drop a mask.

>>> import torch
>>> from lstmkit.layers import Conv1D, MaxPooling1D
>>> conv = Conv1D(8, 3, padding="causal")
>>> y = conv(torch.zeros(2, 10, 4))
>>> y.shape, conv.kernel.shape, MaxPooling1D()(y).shape
(torch.Size([2, 10, 8]), torch.Size([3, 4, 8]), torch.Size([2, 5, 8]))
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.activations import canonical_activation, get_activation
from lstmkit.layers.base import Layer, Shape, check_positive_int, format_shape
from lstmkit.layers.initializers import check_initializer, initialize
from lstmkit.layers.keras_args import split_unsupported


def _one_int(value: Any, argument: str) -> int:
    """An int, or a 1-tuple/list of one (as Keras configs write ``kernel_size`` and friends)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return check_positive_int(value, argument)


def _check_padding(padding: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ConfigError(f"padding: expected one of {list(allowed)}, found {padding!r}")
    return padding.lower()


def _same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """(left, right) padding for ``"same"`` with an effective kernel size ``kernel`` (Keras/TensorFlow)."""
    out = -(-length // stride)
    total = max(0, (out - 1) * stride + kernel - length)
    return total // 2, total - total // 2


def _output_length(length: int | None, kernel: int, stride: int, padding: str) -> int | None:
    if length is None:
        return None
    if padding in ("same", "causal"):
        return -(-length // stride)
    return (length - kernel) // stride + 1 if length >= kernel else 0


class _Temporal(Layer):
    """Shared checks of the ``(N, L, C)`` layers."""

    def _check_input_shape(self, input_shape: Shape, window: int, what: str) -> None:
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' input: expected (N, L, channels) with known channels, "
                f"found {format_shape(input_shape)}"
            )
        if self.padding == "valid" and input_shape[0] is not None and input_shape[0] < window:
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' input: {input_shape[0]} steps are fewer than the {what} "
                f"{window} with padding='valid' (use padding='same' or longer inputs)"
            )


class Conv1D(_Temporal):
    """A 1-D convolution over time: ``(N, L, C) -> (N, L', filters)``.

    Args:
        filters: output channels.
        kernel_size: window length.
        strides: step between windows.
        padding: ``"valid"`` (no padding), ``"same"`` or ``"causal"``.
        dilation_rate: spacing between the window's taps.
        activation: as for ``Dense``.
        use_bias: add a bias.
        kernel_initializer, bias_initializer: Keras names.

    Weights (Keras layout): ``kernel`` of shape ``(kernel_size, C, filters)`` and ``bias`` ``(filters,)``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        strides: int = 1,
        padding: str = "valid",
        dilation_rate: int = 1,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        **kwargs: Any,
    ) -> None:
        unsupported = {"data_format": None, "groups": 1, "kernel_regularizer": None, "bias_regularizer": None,
                       "kernel_constraint": None, "bias_constraint": None, "lora_rank": None, "lora_alpha": None}
        super().__init__(**split_unsupported("Conv1D", kwargs, unsupported))
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = _one_int(kernel_size, "kernel_size")
        self.strides = _one_int(strides, "strides")
        self.padding = _check_padding(padding, ("valid", "same", "causal"))
        self.dilation_rate = _one_int(dilation_rate, "dilation_rate")
        if self.strides > 1 and self.dilation_rate > 1:
            raise ConfigError(f"strides: cannot be > 1 together with dilation_rate > 1 (as in Keras), found "
                              f"strides={self.strides}, dilation_rate={self.dilation_rate}")
        self.activation = canonical_activation(activation)
        self._activation_fn = get_activation(self.activation)
        if not isinstance(use_bias, bool):
            raise ConfigError(f"use_bias: expected True or False, found {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = check_initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = check_initializer(bias_initializer, "bias_initializer")
        self.kernel: torch.nn.Parameter | None = None
        self.bias: torch.nn.Parameter | None = None

    @property
    def _span(self) -> int:
        return self.dilation_rate * (self.kernel_size - 1) + 1

    def build(self, input_shape: Shape) -> None:
        self._check_input_shape(input_shape, self._span, "dilated kernel size")
        channels = int(input_shape[-1])
        from lstmkit.util.memory import check_weights_fit

        check_weights_fit("filters", self.filters, (self.kernel_size * channels + 1) * self.filters)
        self.kernel = torch.nn.Parameter(torch.empty(self.kernel_size, channels, self.filters))
        initialize(self.kernel, self.kernel_initializer, fan_in=self.kernel_size * channels,
                   fan_out=self.kernel_size * self.filters)
        if self.use_bias:
            self.bias = torch.nn.Parameter(torch.empty(self.filters))
            initialize(self.bias, self.bias_initializer, fan_in=channels, fan_out=self.filters)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (_output_length(input_shape[0], self._span, self.strides, self.padding), self.filters)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        channels = self.kernel.shape[1]
        if x.dim() != 3 or x.shape[-1] != channels:
            raise self._input_error(f"(N, L, {channels})", x)
        x = x.transpose(1, 2)
        if self.padding == "causal":
            x = F.pad(x, (self._span - 1, 0))
        elif self.padding == "same":
            x = F.pad(x, _same_padding(x.shape[-1], self._span, self.strides))
        if x.shape[-1] < self._span:
            raise self._input_error(f"at least {self._span} steps with padding='valid'", x.transpose(1, 2))
        y = F.conv1d(x, self.kernel.permute(2, 1, 0), self.bias, stride=self.strides, dilation=self.dilation_rate)
        return self._activation_fn(y.transpose(1, 2))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
        )
        return config

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, filters={self.filters}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, padding={self.padding!r}")


class _Pooling1D(_Temporal):
    """Shared arguments of ``MaxPooling1D`` and ``AveragePooling1D``."""

    def __init__(self, pool_size: int = 2, strides: int | None = None, padding: str = "valid", **kwargs: Any) -> None:
        super().__init__(**split_unsupported(type(self).__name__, kwargs, {"data_format": None}))
        self.pool_size = _one_int(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _one_int(strides, "strides")
        self._strides_arg = None if strides is None else self.strides
        self.padding = _check_padding(padding, ("valid", "same"))

    def build(self, input_shape: Shape) -> None:
        self._check_input_shape(input_shape, self.pool_size, "pool_size")
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (_output_length(input_shape[0], self.pool_size, self.strides, self.padding), input_shape[-1])

    def _prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if x.dim() != 3:
            raise self._input_error("(N, L, channels)", x)
        if self.padding == "valid" and x.shape[1] < self.pool_size:
            raise self._input_error(f"at least {self.pool_size} steps with padding='valid'", x)
        pads = _same_padding(x.shape[1], self.pool_size, self.strides) if self.padding == "same" else (0, 0)
        return x.transpose(1, 2), pads

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(pool_size=self.pool_size, strides=self._strides_arg, padding=self.padding)
        return config


class MaxPooling1D(_Pooling1D):
    """The maximum over each window of ``pool_size`` steps: ``(N, L, C) -> (N, L', C)``.

    Args:
        pool_size: window length (default 2).
        strides: step between windows (default ``pool_size``).
        padding: ``"valid"`` or ``"same"``.
    """

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x, pads = self._prepare(x)
        if pads != (0, 0):
            x = F.pad(x, pads, value=float("-inf"))
        return F.max_pool1d(x, self.pool_size, self.strides).transpose(1, 2)


class AveragePooling1D(_Pooling1D):
    """The mean over each window of ``pool_size`` steps (padding not counted): ``(N, L, C) -> (N, L', C)``.

    Args:
        pool_size: window length (required, as in Keras 3).
        strides: step between windows (default ``pool_size``).
        padding: ``"valid"`` or ``"same"``.
    """

    def __init__(self, pool_size: int, strides: int | None = None, padding: str = "valid", **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, **kwargs)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x, pads = self._prepare(x)
        if pads == (0, 0):
            return F.avg_pool1d(x, self.pool_size, self.strides).transpose(1, 2)
        sums = F.avg_pool1d(F.pad(x, pads), self.pool_size, self.strides)
        ones = F.pad(torch.ones_like(x[:1, :1]), pads)
        counts = F.avg_pool1d(ones, self.pool_size, self.strides)
        return (sums / counts).transpose(1, 2)
