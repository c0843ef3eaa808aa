"""``Masking``: marks the timesteps whose features all equal ``mask_value`` as padding (Keras's
``keras.layers.Masking``).

The output is the input with those timesteps set to 0, and the layer emits the mask
``any(x != mask_value, axis=-1)`` that the following recurrent layers (``LSTM``, ``GRU``,
``SimpleRNN``, ``Bidirectional``) use to skip them, exactly as with ``Embedding(mask_zero=True)``.

>>> import torch
>>> from lstmkit.layers import Masking
>>> x = torch.tensor([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]]])
>>> Masking()(x).tolist()
[[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]]]
>>> Masking().compute_mask(x, None).tolist()
[[True, False, True]]
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lstmkit.errors import ConfigError
from lstmkit.layers.base import Layer
from lstmkit.layers.keras_args import split_unsupported


class Masking(Layer):
    """Skips timesteps whose features all equal ``mask_value``.

    Args:
        mask_value: the padding value (a number; default 0.0).

    Inputs: ``(N, L, F)`` (any rank >= 2 after the batch axis works; the last axis is the features).
    Outputs: the same shape, masked timesteps zeroed; mask ``(N, L)`` for the next layers.
    """

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**split_unsupported("Masking", kwargs, {}))
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)) or math.isnan(float(mask_value)):
            raise ConfigError(f"mask_value: expected a number, found {mask_value!r}")
        self.mask_value = float(mask_value)

    def _keep(self, x: torch.Tensor) -> torch.Tensor:
        return (x != self.mask_value).any(dim=-1)

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return self._keep(inputs)

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() < 3:
            raise self._input_error("(N, L, features)", x)
        return x.masked_fill(~self._keep(x).unsqueeze(-1), 0)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, mask_value={self.mask_value}"
