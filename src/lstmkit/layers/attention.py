"""``AttentionPooling``: additive attention over a sequence's steps, padding excluded.

>>> import torch
>>> from lstmkit.layers import AttentionPooling
>>> pool = AttentionPooling(16)
>>> x = torch.randn(2, 5, 8)
>>> mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
>>> pool(x, mask).shape
torch.Size([2, 8])
>>> pool.last_attention[1, 2:].abs().sum().item()        # masked steps get zero weight
0.0
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.layers.base import Shape, check_positive_int
from lstmkit.layers.initializers import initialize
from lstmkit.layers.pooling import _SequencePooling


class AttentionPooling(_SequencePooling):
    """Additive (Bahdanau-style) attention pooling: ``(N, L, F)`` per-step features to one ``(N, F)`` vector.

    For each step ``t``: ``score_t = v · tanh(W h_t + b)``; the weights are ``softmax`` of the scores over
    the *unmasked* steps (masked steps, e.g. padding from ``Embedding(mask_zero=True)``, get weight 0),
    and the output is ``sum_t weight_t * h_t``. A row with no unmasked step outputs zeros.

    Put it after a recurrent layer with ``return_sequences=True``. Args: ``units``, the size of the
    attention's hidden layer (default 64). After each call, ``last_attention`` holds the ``(N, L)``
    weights (detached) for introspection.
    """

    def __init__(self, units: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.kernel: torch.nn.Parameter | None = None
        self.bias: torch.nn.Parameter | None = None
        self.context: torch.nn.Parameter | None = None
        self.last_attention: torch.Tensor | None = None

    def build(self, input_shape: Shape) -> None:
        self._check_input_shape(input_shape)
        f = int(input_shape[-1])
        from lstmkit.util.memory import check_weights_fit

        name, value = ("units", self.units) if self.units >= f else (f"{type(self).__name__} '{self.name}' input features", f)
        check_weights_fit(name, value, (f + 2) * self.units)
        self.kernel = torch.nn.Parameter(torch.empty(f, self.units))
        initialize(self.kernel, "glorot_uniform", fan_in=f, fan_out=self.units)
        self.bias = torch.nn.Parameter(torch.zeros(self.units))
        self.context = torch.nn.Parameter(torch.empty(self.units, 1))
        initialize(self.context, "glorot_uniform", fan_in=self.units, fan_out=1)
        super().build(input_shape)

    def attention(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The ``(N, L)`` attention weights (rows sum to 1, or to 0 when a row is all padding)."""
        if not self.built:
            self.build_from_input(x)
        mask = self._check(x, mask, features=self.kernel.shape[0])
        scores = (torch.tanh(x @ self.kernel + self.bias) @ self.context).squeeze(-1)  # (N, L)
        if mask is None:
            return torch.softmax(scores, dim=1)
        scores = scores.masked_fill(~mask, float("-inf"))
        any_real = mask.any(dim=1, keepdim=True)
        scores = torch.where(any_real, scores, torch.zeros_like(scores))  # all-padding rows: no NaN
        weights = torch.softmax(scores, dim=1) * mask.to(scores.dtype)
        return weights

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        weights = self.attention(x, mask)
        self.last_attention = weights.detach()
        return torch.bmm(weights.unsqueeze(1), x).squeeze(1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(units=self.units)
        return config

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.units}"
