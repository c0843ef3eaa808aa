"""Global pooling over time, padding excluded: ``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D`` (Keras names).

Put them after a recurrent layer with ``return_sequences=True``; they turn ``(N, L, F)`` per-step
features into one ``(N, F)`` vector per sequence. With a mask (from ``Embedding(mask_zero=True)``),
only the unmasked steps count, so a sequence's result does not depend on its padding:

    average:  y_f = sum_{t: m_t} x_{t,f} / #{t: m_t}
    max:      y_f = max_{t: m_t} x_{t,f}

A row with no unmasked step gives zeros (both layers).

>>> import torch
>>> from lstmkit.layers import GlobalAveragePooling1D, GlobalMaxPooling1D
>>> x = torch.tensor([[[1.0], [3.0], [100.0]]])
>>> mask = torch.tensor([[True, True, False]])
>>> GlobalAveragePooling1D()(x, mask).tolist(), GlobalMaxPooling1D()(x, mask).tolist()
([[2.0]], [[3.0]])
"""

from __future__ import annotations

import torch

from lstmkit.layers.base import Layer, Shape


class _SequencePooling(Layer):
    """Base of the layers that pool ``(N, L, F)`` per-step features to ``(N, F)`` (these and AttentionPooling):
    the input-shape check, the output shape, no output mask, and :meth:`_check` for ``x`` and its mask."""

    supports_masking = True

    def build(self, input_shape: Shape) -> None:
        self._check_input_shape(input_shape)
        super().build(input_shape)

    def _check_input_shape(self, input_shape: Shape) -> None:
        if len(input_shape) != 2 or input_shape[-1] is None:
            from lstmkit.errors import ShapeError

            raise ShapeError(
                f"{type(self).__name__} '{self.name}' input: expected (N, L, features) with known features "
                f"(a recurrent layer with return_sequences=True), found {('None',) + tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[-1],)

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        return None  # the time axis is gone

    def _check(self, x: torch.Tensor, mask: torch.Tensor | None, features: int | None = None) -> torch.Tensor | None:
        """``mask`` as bool, after checking that ``x`` is ``(N, L, features)`` (any F when None) and the mask ``(N, L)``."""
        if x.dim() != 3 or (features is not None and x.shape[-1] != features):
            raise self._input_error(f"(N, L, {'features' if features is None else features})", x)
        if mask is None:
            return None
        mask = mask.to(torch.bool)
        if mask.shape != x.shape[:2]:
            from lstmkit.errors import ShapeError

            raise ShapeError(
                f"{type(self).__name__} '{self.name}' mask: expected shape {tuple(x.shape[:2])}, found {tuple(mask.shape)}"
            )
        return mask


class GlobalAveragePooling1D(_SequencePooling):
    """Mean over the unmasked steps: ``(N, L, F) -> (N, F)``."""

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = self._check(x, mask)
        if mask is None:
            return x.mean(dim=1)
        m = mask.unsqueeze(-1).to(x.dtype)
        return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class GlobalMaxPooling1D(_SequencePooling):
    """Maximum over the unmasked steps: ``(N, L, F) -> (N, F)``."""

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = self._check(x, mask)
        if mask is None:
            return x.max(dim=1).values
        filled = x.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
        return torch.where(mask.any(dim=1, keepdim=True), filled, torch.zeros_like(filled))
