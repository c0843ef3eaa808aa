"""``Input``: declares a model's input shape (without the batch axis).

>>> from lstmkit.models import Sequential
>>> from lstmkit.layers import Input, Dense
>>> model = Sequential([Input(shape=(8,)), Dense(4)])
>>> model.output_shape
(None, 4)
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.layers.base import Layer, check_shape


class Input(Layer):
    """Declares the input shape of a :class:`~lstmkit.models.Sequential` model.

    Args:
        shape: the shape of one sample, e.g. ``(100,)`` for 100 token ids or ``(50, 3)`` for 50 steps
            of 3 features; ``None`` for an unknown length, e.g. ``(None,)``.

    It has no weights and is not listed in ``model.layers`` (as in Keras).
    """

    supports_masking = True

    def __init__(self, shape: Any, *, name: str | None = None, batch_size: int | None = None) -> None:
        super().__init__(name=name)
        self.shape = check_shape(shape, "shape")
        self.input_shape_arg = self.shape
        self.built = True
        self.built_input_shape = self.shape

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Input":
        return cls(**config)


InputLayer = Input
