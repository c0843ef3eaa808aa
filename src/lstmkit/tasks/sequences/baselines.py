"""The simple baseline every sequence classifier is reported beside: 1-nearest-neighbour, Euclidean distance.

1-NN with the Euclidean distance (1-NN ED) is the reference baseline of the UCR / UEA archives
(Dau et al. 2019, "The UCR time series archive"; Bagnall et al. 2018): each test series takes the
label of the closest training series, the distance being the square root of the summed squared
differences over every step and channel. No parameter, no training, no normalisation (the series
are compared as given; the archives' univariate sets are mostly z-normalised already).

Variable lengths: every series (training and test) is padded to the longest one of both sets by
repeating its last value (its last row, for all channels), so a short series is compared as if it
held its final value; equal-length sets are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmkit.errors import DataError, ShapeError


def _as_series(X: Any, what: str) -> list[np.ndarray]:
    if isinstance(X, np.ndarray) and X.dtype.kind in "fiu" and X.ndim in (2, 3):
        X = list(X[:, :, None] if X.ndim == 2 else X)
    out = []
    for i, s in enumerate(X):
        a = np.asarray(s, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] == 0:
            raise ShapeError(f"{what}: series {i} must be (T, F) or (T,) with T >= 1, found shape {a.shape}")
        if not np.isfinite(a).all():
            raise DataError(f"{what}: series {i} has NaN or infinite values")
        out.append(a)
    if not out:
        raise DataError(f"{what}: no series")
    return out


def pad_last(series: Sequence[np.ndarray], length: int) -> np.ndarray:
    """``(N, length * F)``: each ``(T_i, F)`` series padded to ``length`` by repeating its last row, flattened."""
    width = series[0].shape[1]
    out = np.empty((len(series), length, width), dtype=np.float64)
    for i, s in enumerate(series):
        t = s.shape[0]
        out[i, :t] = s
        out[i, t:] = s[-1]
    return out.reshape(len(series), length * width)


def one_nn_euclidean(train_X: Any, train_y: Sequence[Any], test_X: Any, *, chunk: int = 256) -> list[Any]:
    """The label of each test series' nearest training series (Euclidean distance; ties: the first).

    ``train_X`` / ``test_X``: lists of ``(T_i, F)`` (or ``(T_i,)``) arrays, or ``(N, T[, F])`` arrays.
    Lengths may differ (padding with the last value, see the module docstring); the feature counts
    must match. Distances are computed in chunks of ``chunk`` test series.
    """
    train = _as_series(train_X, "1-NN baseline training data")
    test = _as_series(test_X, "1-NN baseline test data")
    labels = list(train_y.tolist() if isinstance(train_y, np.ndarray) else train_y)
    if len(labels) != len(train):
        raise DataError(f"1-NN baseline: {len(train)} training series but {len(labels)} labels")
    widths = {s.shape[1] for s in train} | {s.shape[1] for s in test}
    if len(widths) > 1:
        raise ShapeError(f"1-NN baseline: the series have different feature counts ({', '.join(map(str, sorted(widths)))})")
    length = max(max(s.shape[0] for s in train), max(s.shape[0] for s in test))
    a = pad_last(train, length)
    a_sq = (a * a).sum(axis=1)
    out: list[Any] = []
    for start in range(0, len(test), chunk):
        b = pad_last(test[start: start + chunk], length)
        d = (b * b).sum(axis=1)[:, None] - 2.0 * (b @ a.T) + a_sq[None, :]
        out.extend(labels[int(j)] for j in d.argmin(axis=1))
    return out


__all__ = ["one_nn_euclidean", "pad_last"]
