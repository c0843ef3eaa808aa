"""``Dropout``: zero a fraction of inputs while training (scaled by ``1 / (1 - rate)``).

>>> import torch
>>> from lstmkit.layers import Dropout
>>> layer = Dropout(0.5).eval()
>>> layer(torch.ones(2, 3)).tolist()
[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.layers.base import Layer, Shape, check_rate


class Dropout(Layer):
    """Randomly zeroes inputs with probability ``rate`` in training mode; the identity otherwise.

    Args:
        rate: fraction to drop, in ``[0, 1)``.

    Inputs/outputs: any shape. Passes a mask through.
    """

    supports_masking = True

    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = check_rate(rate, "rate")

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)

    def generalize_shape(self, shape: Shape) -> Shape:
        return (*([None] * (len(shape) - 1)), shape[-1]) if shape else shape

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.training and self.rate > 0.0:
            return F.dropout(x, self.rate, True)
        return x

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["rate"] = self.rate
        return config
