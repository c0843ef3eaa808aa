"""Turning what users pass to ``fit``/``evaluate``/``predict`` into checked tensors.

Accepts numpy arrays, torch tensors and (nested) lists. Every check runs once on the whole array,
before the first batch, so the training loop stays free of per-batch validation.

>>> from lstmkit.models.data import as_tensor
>>> as_tensor([[1, 2], [3, 4]], "x").dtype
torch.int64
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lstmkit.errors import DataError, InputValueError


def as_tensor(data: Any, argument: str) -> torch.Tensor:
    """A tensor (batch axis first) from an array-like; float64 becomes float32; checks emptiness and NaN/inf."""
    if data is None:
        raise DataError(f"{argument}: expected an array of samples, found None")
    if isinstance(data, torch.Tensor):
        t = data.detach()
    else:
        if isinstance(data, (list, tuple)) and not data:
            raise DataError(f"{argument}: expected at least one sample, found an empty {type(data).__name__}")
        try:
            arr = np.asarray(data)
        except ValueError:  # ragged nested lists
            raise DataError(
                f"{argument}: expected a rectangular array (pad sequences to one length), found rows of different lengths"
            ) from None
        if arr.dtype == object:
            raise DataError(
                f"{argument}: expected a rectangular numeric array (pad sequences to one length), found "
                f"object data of shape {arr.shape}"
            )
        if arr.dtype.kind in "US":
            raise InputValueError(f"{argument}: expected numbers, found strings (e.g. {arr.flat[0]!r})")
        if arr.dtype.kind == "b":
            arr = arr.astype(np.float32)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dtype == torch.float64 or t.dtype == torch.float16 or t.dtype == torch.bfloat16:
        t = t.to(torch.float32)
    elif t.dtype == torch.bool:
        t = t.to(torch.float32)
    elif not t.is_floating_point() and t.dtype != torch.int64:
        if t.is_complex():
            raise InputValueError(f"{argument}: expected real numbers, found {t.dtype}")
        t = t.to(torch.int64)
    if t.dim() == 0:
        raise DataError(f"{argument}: expected an array with a batch axis, found a scalar")
    if t.shape[0] == 0:
        raise DataError(f"{argument}: expected at least one sample, found an empty array of shape {tuple(t.shape)}")
    check_finite(t, argument)
    return t


def check_finite(t: torch.Tensor, argument: str) -> None:
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).reshape(t.shape[0], -1).any(1).nonzero()[0, 0].item()
        kind = "NaN" if bool(torch.isnan(t).any()) else "inf"
        raise InputValueError(f"{argument}: contains {kind} (first in sample {bad}); clean or impute the data first")


def check_same_length(x: torch.Tensor, y: torch.Tensor, x_name: str = "x", y_name: str = "y") -> None:
    if x.shape[0] != y.shape[0]:
        raise DataError(
            f"{x_name} and {y_name}: expected the same number of samples, found {x.shape[0]} and {y.shape[0]}"
        )
