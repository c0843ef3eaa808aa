"""Keras 3's reshaping layers: ``RepeatVector``, ``Flatten``, ``Reshape`` and ``Permute``.

They hold no weights. Like Keras, none of them passes a mask on (the time axis they would mask is
repeated, merged or moved).

>>> import torch
>>> from lstmkit.layers import Flatten, Permute, RepeatVector, Reshape
>>> x = torch.zeros(2, 3, 4)
>>> Flatten()(x).shape, Reshape((4, 3))(x).shape, Permute((2, 1))(x).shape
(torch.Size([2, 12]), torch.Size([2, 4, 3]), torch.Size([2, 4, 3]))
>>> RepeatVector(5)(torch.zeros(2, 4)).shape
torch.Size([2, 5, 4])
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import Layer, Shape, check_positive_int, format_shape
from lstmkit.layers.keras_args import split_unsupported


def _int_tuple(value: Any, argument: str) -> tuple[int, ...]:
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple) or not value or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in value
    ):
        raise ConfigError(f"{argument}: expected a non-empty tuple of ints (without the batch axis), found {value!r:.60}")
    return value


class _FixedShape(Layer):
    """A layer whose output depends on every input dimension: built from a batch, it keeps them all."""

    def generalize_shape(self, shape: Shape) -> Shape:
        return tuple(shape)

    def _shape_error(self, what: str, input_shape: Shape) -> ShapeError:
        return ShapeError(f"{type(self).__name__} '{self.name}' input: expected {what}, found {format_shape(input_shape)}")


class RepeatVector(_FixedShape):
    """Repeat a vector ``n`` times: ``(N, F) -> (N, n, F)`` (e.g. an encoder's state fed to a decoder).

    Args:
        n: how many times to repeat.
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**split_unsupported("RepeatVector", kwargs, {}))
        self.n = check_positive_int(n, "n")

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 1:
            raise self._shape_error("(N, features)", input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.n, *input_shape)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 2:
            raise self._input_error("(N, features)", x)
        return x.unsqueeze(1).expand(-1, self.n, -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Flatten(_FixedShape):
    """Merge all axes but the batch one: ``(N, d1, d2, ...) -> (N, d1*d2*...)``.

    Args:
        data_format: only ``None`` or ``"channels_last"`` (Keras's default).
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**split_unsupported("Flatten", {"data_format": data_format, **kwargs}, {"data_format": None}))
        self.data_format = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            return (None,)
        return (math.prod(input_shape),)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(_FixedShape):
    """Reshape to ``(N, *target_shape)``; one entry may be ``-1`` (inferred, as in Keras).

    Args:
        target_shape: the output shape without the batch axis.
    """

    def __init__(self, target_shape: Any, **kwargs: Any) -> None:
        super().__init__(**split_unsupported("Reshape", kwargs, {}))
        target = _int_tuple(target_shape, "target_shape")
        if any(d == 0 or d < -1 for d in target) or sum(d == -1 for d in target) > 1:
            raise ConfigError(f"target_shape: expected positive ints and at most one -1, found {target!r}")
        self.target_shape = target

    def build(self, input_shape: Shape) -> None:
        self._resolve(input_shape)
        super().build(input_shape)

    def _resolve(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            return tuple(None if d == -1 else d for d in self.target_shape)
        total = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and total % known) or (-1 not in self.target_shape and total != known):
            raise ShapeError(
                f"Reshape '{self.name}': cannot reshape {format_shape(input_shape)} ({total} values per row) "
                f"to target_shape {self.target_shape}"
            )
        return tuple(total // known if d == -1 else d for d in self.target_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._resolve(input_shape)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        target = self.target_shape
        known = math.prod(d for d in target if d != -1)
        total = math.prod(x.shape[1:])
        if (-1 in target and total % known) or (-1 not in target and total != known):
            raise self._input_error(f"{known}{' * k' if -1 in target else ''} values per row for target_shape {target}", x)
        return x.reshape(x.shape[0], *target)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(_FixedShape):
    """Reorder the non-batch axes: ``dims`` is a permutation of ``1..rank`` (1-based, as in Keras).

    Args:
        dims: e.g. ``(2, 1)`` swaps time and features.
    """

    def __init__(self, dims: Any, **kwargs: Any) -> None:
        super().__init__(**split_unsupported("Permute", kwargs, {}))
        dims = _int_tuple(dims, "dims")
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"dims: expected a permutation of 1..{len(dims)}, found {dims!r}")
        self.dims = dims

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != len(self.dims):
            raise self._shape_error(f"{len(self.dims)} axes after the batch axis for dims {self.dims}", input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[d - 1] for d in self.dims)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != len(self.dims) + 1:
            raise self._input_error(f"{len(self.dims)} axes after N", x)
        return x.permute(0, *self.dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}
