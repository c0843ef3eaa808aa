"""``LayerNormalization`` (Keras 3): normalise each sample over ``axis``, then scale and shift.

    y = (x - mean) / sqrt(var + epsilon) * gamma + beta       (mean, var over ``axis``, per sample)

>>> import torch
>>> from lstmkit.layers import LayerNormalization
>>> layer = LayerNormalization()
>>> y = layer(torch.tensor([[[1.0, 2.0, 3.0]]]))
>>> [round(v, 3) for v in y[0, 0].tolist()], layer.count_params()
([-1.224, 0.0, 1.224], 6)
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import Layer, Shape, format_shape
from lstmkit.layers.initializers import check_initializer, initialize
from lstmkit.layers.keras_args import split_unsupported

_UNSUPPORTED = {
    "rms_scaling": False,
    "beta_regularizer": None,
    "gamma_regularizer": None,
    "beta_constraint": None,
    "gamma_constraint": None,
}


class LayerNormalization(Layer):
    """Keras 3's ``LayerNormalization``.

    Args:
        axis: the axis or list of axes to normalise over, counted as Keras does (the batch axis is
            0, so ``-1`` or ``2`` is the features of ``(N, L, F)``).
        epsilon: added to the variance.
        center: learn ``beta`` (a shift).
        scale: learn ``gamma`` (a scale).
        beta_initializer, gamma_initializer: Keras names (default ``"zeros"``, ``"ones"``).

    Weights (Keras's order and layout): ``gamma`` then ``beta``, each of the normalised axes'
    shape, e.g. ``(F,)``. Per step and per sample, so a mask is passed on unchanged.
    """

    supports_masking = True

    def __init__(
        self,
        axis: int | list[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: str = "zeros",
        gamma_initializer: str = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**split_unsupported("LayerNormalization", kwargs, _UNSUPPORTED))
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ConfigError(f"axis: expected an int or a non-empty list of ints, found {axis!r:.60}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ConfigError(f"epsilon: expected a positive float, found {epsilon!r}")
        for value, argument in ((center, "center"), (scale, "scale")):
            if not isinstance(value, bool):
                raise ConfigError(f"{argument}: expected True or False, found {value!r}")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = check_initializer(beta_initializer, "beta_initializer")
        self.gamma_initializer = check_initializer(gamma_initializer, "gamma_initializer")
        self.gamma: torch.nn.Parameter | None = None
        self.beta: torch.nn.Parameter | None = None
        self._axes: list[int] = []
        self._broadcast: list[int] = []

    def generalize_shape(self, shape: Shape) -> Shape:
        rank = len(shape) + 1
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        keep = {a % rank for a in axes if -rank <= a < rank}
        return tuple(d if i + 1 in keep else None for i, d in enumerate(shape))

    def _resolve_axes(self, input_shape: Shape) -> list[int]:
        rank = len(input_shape) + 1
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        resolved = []
        for a in axes:
            if not -rank <= a < rank or a % rank == 0 or a % rank in resolved:
                raise ShapeError(
                    f"LayerNormalization '{self.name}': axis {self.axis!r} does not fit inputs "
                    f"{format_shape(input_shape)} (each axis once, not the batch axis 0)"
                )
            resolved.append(a % rank)
        for a in resolved:
            if input_shape[a - 1] is None:
                raise ShapeError(
                    f"LayerNormalization '{self.name}' input: axis {a} must have a known size, found "
                    f"{format_shape(input_shape)}"
                )
        return resolved

    def build(self, input_shape: Shape) -> None:
        self._axes = self._resolve_axes(input_shape)
        param_shape = tuple(int(input_shape[a - 1]) for a in self._axes)
        self._broadcast = [1] * (len(input_shape) + 1)
        for a in self._axes:
            self._broadcast[a] = int(input_shape[a - 1])
        size = 1
        for d in param_shape:
            size *= d
        if self.scale:
            self.gamma = torch.nn.Parameter(torch.empty(param_shape))
            initialize(self.gamma, self.gamma_initializer, fan_in=size, fan_out=size)
        if self.center:
            self.beta = torch.nn.Parameter(torch.empty(param_shape))
            initialize(self.beta, self.beta_initializer, fan_in=size, fan_out=size)
        super().build(input_shape)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != len(self._broadcast) or any(
            x.shape[a] != self._broadcast[a] for a in self._axes
        ):
            want = ", ".join("N" if i == 0 else (str(d) if i in self._axes else "?") for i, d in enumerate(self._broadcast))
            raise self._input_error(f"({want})", x)
        mean = x.mean(dim=self._axes, keepdim=True)
        var = x.var(dim=self._axes, keepdim=True, unbiased=False)
        y = (x - mean) * torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            y = y * self.gamma.reshape(self._broadcast)
        if self.beta is not None:
            y = y + self.beta.reshape(self._broadcast)
        return y

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            axis=self.axis,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=self.beta_initializer,
            gamma_initializer=self.gamma_initializer,
        )
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, axis={self.axis!r}, epsilon={self.epsilon}"
