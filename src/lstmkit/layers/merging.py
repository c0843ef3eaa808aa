"""Merge layers (Keras 3's): ``Concatenate``, ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum`` and ``Dot``, plus their function forms (``concatenate([a, b])`` ...).

Each takes a list of tensors, ``layer([a, b])``. The element-wise ones need inputs of one shape
``(N, *S)`` and return ``(N, *S)``:

    Add: a + b + ...      Subtract: a - b (two inputs)      Multiply: a * b * ...
    Average: (a + b + ...) / k      Maximum / Minimum: element-wise max / min

``Concatenate(axis=-1)`` joins along ``axis`` (counted as Keras does, the batch axis being 0), the
other axes being equal. ``Dot(axes, normalize=False)`` is Keras's ``batch_dot``: for each sample, the
sum over ``a``'s axis ``axes[0]`` and ``b``'s axis ``axes[1]`` of their product, e.g. ``(N, L1, D)`` and
``(N, L2, D)`` with ``axes=2`` give ``(N, L1, L2)``; ``(N, D)`` and ``(N, D)`` with ``axes=1`` give ``(N, 1)``;
``normalize=True`` L2-normalises both along those axes first (cosine similarity).

Masks follow Keras 3: the element-wise layers pass on the OR of their inputs' masks (``None`` if one
input has none); ``Concatenate`` passes on the OR over its inputs (an input without a mask counts as
all real); ``Dot`` passes on none.

>>> import torch
>>> from lstmkit.layers import Concatenate, Dot
>>> Concatenate()([torch.ones(2, 3), torch.zeros(2, 4)]).shape
torch.Size([2, 7])
>>> Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 3)]).tolist()
[[3.0], [3.0]]
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.layers.base import Layer, Shape
from lstmkit.layers.keras_args import split_unsupported


def _fmt(shape: Shape) -> str:
    return "(None, " + ", ".join("None" if d is None else str(d) for d in shape) + ")" if shape else "(None,)"


class _Merge(Layer):
    """Shared checks of the merge layers: a list of at least ``_min_inputs`` tensors."""

    supports_masking = True
    _min_inputs = 2
    _max_inputs: int | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**split_unsupported(type(self).__name__, kwargs, {}))

    def _check_list(self, shapes: Any) -> list[Shape]:
        if not isinstance(shapes, (list, tuple)) or (shapes and not isinstance(shapes[0], (list, tuple))) \
                or any(s is not None and not isinstance(s, (list, tuple)) for s in shapes):
            raise ShapeError(f"{type(self).__name__} '{self.name}' input: expected a list of tensors, found one tensor")
        n = len(shapes)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = f"exactly {self._max_inputs}" if self._max_inputs == self._min_inputs else f"at least {self._min_inputs}"
            raise ShapeError(f"{type(self).__name__} '{self.name}' input: expected {want} tensors, found {n}")
        return [tuple(s) for s in shapes]

    def build(self, input_shape: Any) -> None:
        shapes = self._check_list(input_shape)
        self.compute_output_shape(shapes)
        Layer.build(self, shapes[0])
        self.built_input_shape = None  # several inputs: no single shape to check calls against

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._check_list(input_shape)
        out = list(shapes[0])
        for s in shapes[1:]:
            if len(s) != len(out) or any(a is not None and b is not None and a != b for a, b in zip(out, s)):
                raise ShapeError(
                    f"{type(self).__name__} '{self.name}' input: expected tensors of one shape, found "
                    + " and ".join(_fmt(x) for x in shapes)
                )
            out = [a if a is not None else b for a, b in zip(out, s)]
        return tuple(out)

    def forward(self, inputs: Any, mask: Any = None) -> torch.Tensor:
        if isinstance(inputs, torch.Tensor) or not isinstance(inputs, (list, tuple)):
            raise ShapeError(f"{type(self).__name__} '{self.name}' input: expected a list of tensors, found "
                             f"{type(inputs).__name__}")
        if not self.built:
            self.build([tuple(t.shape[1:]) for t in inputs])
        return self.call(list(inputs), mask)

    def call(self, inputs: list[torch.Tensor], mask: Any = None) -> torch.Tensor:  # type: ignore[override]
        shapes = self._check_list([tuple(t.shape[1:]) for t in inputs])
        self.compute_output_shape(shapes)
        return self._merge(inputs)

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def compute_mask(self, inputs: Any, mask: Any) -> torch.Tensor | None:
        if mask is None or not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None
        out = mask[0].to(torch.bool)
        for m in mask[1:]:
            out = out | m.to(torch.bool)
        return out

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("input_shape", None)
        return config


class Add(_Merge):
    """Element-wise sum of a list of tensors of one shape."""

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = out + t
        return out


class Subtract(_Merge):
    """``a - b`` for a list of exactly two tensors of one shape."""

    _max_inputs = 2

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Element-wise product of a list of tensors of one shape."""

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = out * t
        return out


class Average(_Merge):
    """Element-wise mean of a list of tensors of one shape."""

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = out + t
        return out / len(inputs)


class Maximum(_Merge):
    """Element-wise maximum of a list of tensors of one shape."""

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = torch.maximum(out, t)
        return out


class Minimum(_Merge):
    """Element-wise minimum of a list of tensors of one shape."""

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        out = inputs[0]
        for t in inputs[1:]:
            out = torch.minimum(out, t)
        return out


def _sample_axis(axis: int, rank: int, what: str) -> int:
    """A Keras axis (batch axis 0, negatives from the end) as an index into the sample shape."""
    full = rank + 1
    a = axis + full if axis < 0 else axis
    if not 1 <= a < full:
        raise ShapeError(f"{what}: axis {axis} is out of range for inputs of rank {full} (the batch axis cannot be used)")
    return a - 1


class Concatenate(_Merge):
    """Join a list of tensors along ``axis`` (Keras's axis, default ``-1``, the features); the other axes
    must be equal."""

    _min_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"axis: expected an integer, found {axis!r}")
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._check_list(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ShapeError(f"Concatenate '{self.name}' input: expected tensors of one rank, found "
                             + " and ".join(_fmt(s) for s in shapes))
        ax = _sample_axis(self.axis, rank, f"Concatenate '{self.name}'")
        out: list = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if i == ax:
                    out[i] = None if a is None or b is None else a + b
                elif a is not None and b is not None and a != b:
                    raise ShapeError(
                        f"Concatenate '{self.name}' input: expected equal shapes except on axis {self.axis}, found "
                        + " and ".join(_fmt(x) for x in shapes)
                    )
                elif a is None:
                    out[i] = b
        return tuple(out)

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(inputs, dim=_sample_axis(self.axis, inputs[0].dim() - 1, "Concatenate") + 1)

    def compute_mask(self, inputs: Any, mask: Any) -> torch.Tensor | None:
        if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            if m is None:
                full.append(torch.ones(x.shape, dtype=torch.bool, device=x.device))
            else:
                m = m.to(torch.bool)
                while m.dim() < x.dim():
                    m = m.unsqueeze(-1)
                full.append(m.expand(x.shape))
        return torch.cat(full, dim=_sample_axis(self.axis, inputs[0].dim() - 1, "Concatenate") + 1).any(-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Keras's ``Dot``: per-sample dot products of two tensors along ``axes`` (see the module docstring).

    Args:
        axes: an int (the same axis of both inputs) or a pair ``(axis_a, axis_b)``, counted as Keras does
            (the batch axis is 0; negatives count from the end).
        normalize: L2-normalise both inputs along those axes first, so the result is a cosine similarity.
    """

    _max_inputs = 2

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        ok = (isinstance(axes, int) and not isinstance(axes, bool)) or (
            isinstance(axes, (list, tuple)) and len(axes) == 2
            and all(isinstance(a, int) and not isinstance(a, bool) for a in axes))
        if not ok:
            raise ConfigError(f"axes: expected an integer or a pair of integers, found {axes!r}")
        if not isinstance(normalize, bool):
            raise ConfigError(f"normalize: expected True or False, found {normalize!r}")
        super().__init__(**kwargs)
        self.axes = axes if isinstance(axes, int) else tuple(axes)
        self.normalize = normalize

    def _axes(self, shapes: list[Shape]) -> tuple[int, int]:
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return (_sample_axis(pair[0], len(shapes[0]), f"Dot '{self.name}'"),
                _sample_axis(pair[1], len(shapes[1]), f"Dot '{self.name}'"))

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._check_list(input_shape)
        a1, a2 = self._axes(shapes)
        d1, d2 = shapes[0][a1], shapes[1][a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ShapeError(f"Dot '{self.name}' input: axis sizes differ, {d1} and {d2}, for inputs "
                             f"{_fmt(shapes[0])} and {_fmt(shapes[1])} with axes={self.axes}")
        out = [d for i, d in enumerate(shapes[0]) if i != a1] + [d for i, d in enumerate(shapes[1]) if i != a2]
        return tuple(out) if out else (1,)

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x, y = inputs
        a1, a2 = self._axes([tuple(x.shape[1:]), tuple(y.shape[1:])])
        if self.normalize:
            x = torch.nn.functional.normalize(x, dim=a1 + 1, eps=1e-12)
            y = torch.nn.functional.normalize(y, dim=a2 + 1, eps=1e-12)
        letters = "abcdefghijklmnopqrstuvwxy"
        xs = ["z"] + [letters[i] for i in range(x.dim() - 1)]
        ys = ["z"] + [letters[x.dim() - 1 + i] for i in range(y.dim() - 1)]
        ys[a2 + 1] = xs[a1 + 1]
        out = ["z"] + [c for i, c in enumerate(xs[1:]) if i != a1] + [c for i, c in enumerate(ys[1:]) if i != a2]
        result = torch.einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)
        return result.unsqueeze(-1) if result.dim() == 1 else result

    def compute_mask(self, inputs: Any, mask: Any) -> None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes if isinstance(self.axes, int) else list(self.axes),
                "normalize": self.normalize}


def _functional(cls: type, doc: str):
    def merge(inputs: list, **kwargs: Any) -> Any:
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"``{cls.__name__}(**kwargs)(inputs)``: {doc}"
    return merge


add = _functional(Add, "the sum of the inputs.")
subtract = _functional(Subtract, "the difference of two inputs.")
multiply = _functional(Multiply, "the product of the inputs.")
average = _functional(Average, "the mean of the inputs.")
maximum = _functional(Maximum, "the element-wise maximum of the inputs.")
minimum = _functional(Minimum, "the element-wise minimum of the inputs.")


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis=axis)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes: Any = -1, normalize: bool = False, **kwargs: Any) -> Any:
    """``Dot(axes, normalize)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
