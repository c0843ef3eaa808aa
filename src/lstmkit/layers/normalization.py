"""``LayerNormalization`` and ``BatchNormalization`` (Keras 3): normalise, then scale and shift.

    LayerNormalization:  y = (x - mean) / sqrt(var + epsilon) * gamma + beta   (mean, var over ``axis``, per sample)
    BatchNormalization:  y = (x - mean) / sqrt(var + epsilon) * gamma + beta   (mean, var per feature of ``axis``,
                         over the batch and every other axis while training; the moving averages at inference)

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


_BN_UNSUPPORTED = {
    "beta_regularizer": None,
    "gamma_regularizer": None,
    "beta_constraint": None,
    "gamma_constraint": None,
    "renorm": False,
    "renorm_clipping": None,
    "renorm_momentum": 0.99,
    "synchronized": False,
}

# Keras's backend.epsilon(), added to the count of unmasked values in the masked statistics.
_KERAS_EPSILON = 1e-7


class BatchNormalization(Layer):
    """Keras 3's ``BatchNormalization``: normalise each feature with the batch's statistics while
    training and with their moving averages at inference.

    Args:
        axis: the features axis (an int, counted as Keras does: the batch axis is 0, so ``-1`` or
            ``2`` is ``F`` of ``(N, L, F)``); statistics are taken over every other axis.
        momentum: of the moving averages (Keras's rule, below).
        epsilon: added to the variance.
        center, scale: learn ``beta`` (a shift) and ``gamma`` (a scale).
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer:
            Keras names (default ``"zeros"``, ``"ones"``, ``"zeros"``, ``"ones"``).

    Computation, for ``x`` of shape ``(N, ..., F)`` (``F`` on ``axis``)::

        training (model.train(), and trainable=True):
            mean = E[x], var = E[(x - mean)^2]                 per feature, over N and the other axes
                                                               (biased variance, as Keras)
            moving_mean     <- moving_mean * momentum + mean * (1 - momentum)
            moving_variance <- moving_variance * momentum + var * (1 - momentum)
        inference (model.eval(), or trainable=False as in Keras 3):
            mean, var = moving_mean, moving_variance
        y = (x - mean) / sqrt(var + epsilon) * gamma + beta

    With a mask (``(N, L)`` for ``(N, L, F)`` inputs: one dimension fewer than ``x``), the training
    statistics count only the unmasked steps, as Keras 3 does: ``mean = sum(m x) / (sum(m) + 1e-7)``,
    ``var = sum(m (x - mean)^2) / (sum(m) + 1e-7)``. Every step is normalised (masked ones too) and
    the mask is passed on unchanged.

    Weights: ``gamma``, ``beta`` ``(F,)`` (parameters) and ``moving_mean``, ``moving_variance``
    ``(F,)`` (buffers: saved with the model, never trained). As in Keras, ``count_params()`` and
    ``get_weights()``/``set_weights()`` include the moving statistics, in Keras's order
    ``[gamma, beta, moving_mean, moving_variance]``.

    >>> import torch
    >>> from lstmkit.layers import BatchNormalization
    >>> bn = BatchNormalization(momentum=0.5)
    >>> x = torch.tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> _ = bn.train()
    >>> [[round(v, 4) for v in row] for row in bn(x).tolist()]   # batch statistics: mean (2, 20), var (1, 100)
    [[-0.9995, -1.0], [0.9995, 1.0]]
    >>> bn.moving_mean.tolist(), bn.moving_variance.tolist()
    ([1.0, 10.0], [1.0, 50.5])
    >>> _ = bn.eval()
    >>> [round(v, 4) for v in bn(x)[0].tolist()], bn.count_params()
    ([0.0, 0.0], 8)
    """

    supports_masking = True

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: str = "zeros",
        gamma_initializer: str = "ones",
        moving_mean_initializer: str = "zeros",
        moving_variance_initializer: str = "ones",
        **kwargs: Any,
    ) -> None:
        super().__init__(**split_unsupported("BatchNormalization", kwargs, _BN_UNSUPPORTED))
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"axis: expected an int (BatchNormalization normalises one axis), found {axis!r:.60}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"momentum: expected a float in [0, 1], found {momentum!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ConfigError(f"epsilon: expected a positive float, found {epsilon!r}")
        for value, argument in ((center, "center"), (scale, "scale")):
            if not isinstance(value, bool):
                raise ConfigError(f"{argument}: expected True or False, found {value!r}")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = check_initializer(beta_initializer, "beta_initializer")
        self.gamma_initializer = check_initializer(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = check_initializer(moving_mean_initializer, "moving_mean_initializer")
        self.moving_variance_initializer = check_initializer(moving_variance_initializer,
                                                             "moving_variance_initializer")
        self.gamma: torch.nn.Parameter | None = None
        self.beta: torch.nn.Parameter | None = None
        self.moving_mean: torch.Tensor | None
        self.moving_variance: torch.Tensor | None
        self.register_buffer("moving_mean", None)  # made in build; saved with the model (state_dict)
        self.register_buffer("moving_variance", None)
        self._axis = 0  # the resolved axis, counting the batch axis as 0
        self._rank = 0

    def generalize_shape(self, shape: Shape) -> Shape:
        rank = len(shape) + 1
        keep = self.axis % rank if -rank <= self.axis < rank else None
        return tuple(d if i + 1 == keep else None for i, d in enumerate(shape))

    def _resolve_axis(self, input_shape: Shape) -> int:
        rank = len(input_shape) + 1
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ShapeError(
                f"BatchNormalization '{self.name}': axis {self.axis!r} does not fit inputs "
                f"{format_shape(input_shape)} (not the batch axis 0)"
            )
        axis = self.axis % rank
        if input_shape[axis - 1] is None:
            raise ShapeError(
                f"BatchNormalization '{self.name}' input: axis {axis} must have a known size, found "
                f"{format_shape(input_shape)}"
            )
        return axis

    def build(self, input_shape: Shape) -> None:
        self._axis = self._resolve_axis(tuple(input_shape))
        self._rank = len(input_shape) + 1
        features = int(input_shape[self._axis - 1])
        if self.scale:
            self.gamma = torch.nn.Parameter(torch.empty(features))
            initialize(self.gamma, self.gamma_initializer, fan_in=features, fan_out=features)
        if self.center:
            self.beta = torch.nn.Parameter(torch.empty(features))
            initialize(self.beta, self.beta_initializer, fan_in=features, fan_out=features)
        moving_mean, moving_variance = torch.empty(features), torch.empty(features)
        initialize(moving_mean, self.moving_mean_initializer, fan_in=features, fan_out=features)
        initialize(moving_variance, self.moving_variance_initializer, fan_in=features, fan_out=features)
        self.moving_mean = moving_mean
        self.moving_variance = moving_variance
        super().build(input_shape)

    def _statistics(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's ``(mean, var)``, each ``(F,)`` (biased variance; masked steps left out)."""
        dims = [d for d in range(x.dim()) if d != self._axis]
        if mask is None:
            var, mean = torch.var_mean(x, dim=dims, unbiased=False)
            return mean, var
        m = mask.to(torch.bool).unsqueeze(-1).expand_as(x)
        count = m.to(x.dtype).sum(dim=dims, keepdim=True) + _KERAS_EPSILON
        mean = torch.where(m, x, torch.zeros_like(x)).sum(dim=dims, keepdim=True) / count
        diff = torch.where(m, x - mean, torch.zeros_like(x))
        var = (diff * diff).sum(dim=dims, keepdim=True) / count
        return mean.reshape(-1), var.reshape(-1)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        features = self.moving_mean.shape[0]
        if x.dim() != self._rank or x.shape[self._axis] != features:
            want = ", ".join("N" if i == 0 else (str(features) if i == self._axis else "?") for i in range(self._rank))
            raise self._input_error(f"({want})", x)
        if mask is not None and tuple(mask.shape) != tuple(x.shape[:-1]):
            raise ShapeError(
                f"BatchNormalization '{self.name}' mask: expected shape {tuple(x.shape[:-1])} (the inputs' "
                f"without the last axis), found {tuple(mask.shape)}"
            )
        if self.training and self.trainable:
            mean, var = self._statistics(x, mask)
            with torch.no_grad():
                m = self.momentum
                self.moving_mean.copy_(self.moving_mean * m + mean.detach().to(self.moving_mean.dtype) * (1.0 - m))
                self.moving_variance.copy_(
                    self.moving_variance * m + var.detach().to(self.moving_variance.dtype) * (1.0 - m))
        else:
            mean, var = self.moving_mean.to(x.dtype), self.moving_variance.to(x.dtype)
        shape = [1] * x.dim()
        shape[self._axis] = features
        factor = torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            factor = factor * self.gamma
        y = (x - mean.reshape(shape)) * factor.reshape(shape)
        if self.beta is not None:
            y = y + self.beta.reshape(shape)
        return y

    # Keras counts and lists the moving statistics with the weights.
    def weight_buffers(self) -> list[torch.Tensor]:
        return self._moving()

    def _moving(self) -> list[torch.Tensor]:
        return [b for b in (self.moving_mean, self.moving_variance) if b is not None]

    def get_weights(self) -> list:
        """``[gamma, beta, moving_mean, moving_variance]`` (Keras's order; absent ones left out)."""
        return super().get_weights() + [b.detach().cpu().numpy().copy() for b in self._moving()]

    def set_weights(self, weights: list) -> None:
        n = len(list(self.parameters()))
        moving = self._moving()
        if len(weights) != n + len(moving):
            raise ShapeError(
                f"set_weights: layer '{self.name}' expected {n + len(moving)} arrays "
                f"([gamma, beta, moving_mean, moving_variance] as configured), found {len(weights)}"
            )
        super().set_weights(list(weights[:n]))
        with torch.no_grad():
            for i, (b, w) in enumerate(zip(moving, weights[n:]), start=n):
                t = torch.as_tensor(w, dtype=b.dtype)
                if tuple(t.shape) != tuple(b.shape):
                    raise ShapeError(
                        f"set_weights: layer '{self.name}' weight {i} expected shape {tuple(b.shape)}, "
                        f"found {tuple(t.shape)}"
                    )
                b.copy_(t)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=self.beta_initializer,
            gamma_initializer=self.gamma_initializer,
            moving_mean_initializer=self.moving_mean_initializer,
            moving_variance_initializer=self.moving_variance_initializer,
        )
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, axis={self.axis}, momentum={self.momentum}, epsilon={self.epsilon}"
