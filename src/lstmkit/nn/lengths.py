"""Variable-length batches: checking ``lengths``, per-step masks, reversing only the real steps.

A padded batch holds ``N`` sequences of different lengths in one ``(L, N, *)`` tensor (or
``(N, L, *)`` with ``batch_first``); ``lengths[n]`` says how many leading steps of row ``n`` are
real. Everything after that is padding and must not touch the row's state.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from lstmkit.errors import InputValueError, ShapeError

LengthsLike = Tensor | Sequence[int]


def as_lengths(lengths: LengthsLike, batch_size: int, max_len: int, *, owner: str = "LSTM") -> Tensor:
    """Check ``lengths`` and return it as a 1-D int64 CPU tensor of size ``batch_size``.

    Raises :class:`ShapeError` for a wrong shape and :class:`InputValueError` for floats, bools or
    values outside ``[0, max_len]``.
    """
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError):
            raise InputValueError(
                f"{owner} lengths: expected a 1-D integer tensor or sequence of {batch_size} ints, "
                f"found {type(lengths).__name__}"
            ) from None
        if lengths.numel() == 0:
            lengths = lengths.to(torch.int64)  # torch.as_tensor([]) is float32; an empty batch has no lengths
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise InputValueError(f"{owner} lengths: expected an integer dtype, found {lengths.dtype}")
    if lengths.dim() != 1 or lengths.numel() != batch_size:
        raise ShapeError(
            f"{owner} lengths: expected shape ({batch_size},) (one length per batch row), "
            f"found shape {tuple(lengths.shape)}"
        )
    lengths = lengths.to(device="cpu", dtype=torch.int64)
    if batch_size:
        low, high = int(lengths.min()), int(lengths.max())
        if low < 0 or high > max_len:
            bad = low if low < 0 else high
            raise InputValueError(
                f"{owner} lengths: expected values in [0, {max_len}] (the padded length), found {bad}"
            )
    return lengths


def step_mask(lengths: Tensor, max_len: int, device: torch.device | None = None) -> Tensor:
    """``(L, N, 1)`` bool mask, True where step ``t`` of row ``n`` is real (``t < lengths[n]``)."""
    steps = torch.arange(max_len, device=device).unsqueeze(1)
    return (steps < lengths.to(device).unsqueeze(0)).unsqueeze(-1)


def reverse_padded(x: Tensor, lengths: LengthsLike | None, batch_first: bool = False) -> Tensor:
    """Reverse the first ``lengths[n]`` steps of every row, leaving the padding where it is.

    ``x`` is ``(L, N, *)``, or ``(N, L, *)`` with ``batch_first``. Row ``n`` of the result holds
    ``x[lengths[n]-1], ..., x[0], pad, pad, ...``. With ``lengths=None`` every row is reversed whole
    (plain ``flip``). Differentiable; applying it twice gives ``x`` back.

    Example: ``x[:, 0] = [1, 2, 3, 0, 0]`` with ``lengths=[3]`` gives ``[3, 2, 1, 0, 0]``.
    """
    if x.dim() < 2:
        raise ShapeError(
            f"reverse_padded x: expected at least 2-D ({'(N, L, *)' if batch_first else '(L, N, *)'}), "
            f"found shape {tuple(x.shape)}"
        )
    time_dim = 1 if batch_first else 0
    if lengths is None:
        return x.flip(time_dim)
    max_len, batch = x.size(time_dim), x.size(1 - time_dim)
    lengths = as_lengths(lengths, batch, max_len, owner="reverse_padded").to(x.device)
    steps = torch.arange(max_len, device=x.device).unsqueeze(1)  # (L, 1)
    mirrored = lengths.unsqueeze(0) - 1 - steps  # (L, N): source step for real positions
    index = torch.where(mirrored >= 0, mirrored, steps)  # padding maps onto itself
    if batch_first:
        index = index.t()
    index = index.reshape(index.shape + (1,) * (x.dim() - 2)).expand_as(x)
    return x.gather(time_dim, index)


__all__ = ["as_lengths", "step_mask", "reverse_padded"]
