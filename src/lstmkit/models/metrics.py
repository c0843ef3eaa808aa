"""Metrics by Keras name, accumulated over an epoch without a host sync per batch.

``"accuracy"`` (or ``"acc"``) picks Keras's variant from the loss: categorical, sparse categorical or
binary accuracy (from the output width when the loss is something else).

>>> import torch
>>> from lstmkit.models.metrics import get_metric
>>> m = get_metric("accuracy", loss_name="sparse_categorical_crossentropy", output_shape=(2,))
>>> m.update(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1], [0.6, 0.4]]))
>>> m.result()
0.5
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.errors import ConfigError


class Metric:
    """Accumulates ``update(y_true, y_pred)`` batches (``y_pred`` are probabilities); ``result()`` is the mean."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reset()

    def reset(self) -> None:
        self._total: torch.Tensor | float = 0.0
        self._count = 0

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def update(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        v = self.values(y_true, y_pred)
        self._total = self._total + v.sum(dtype=torch.float64)
        self._count += v.numel()

    def result(self) -> float:
        return float(self._total) / self._count if self._count else 0.0


class CategoricalAccuracy(Metric):
    def values(self, y_true, y_pred):
        return (y_true.argmax(-1) == y_pred.argmax(-1)).float()


class SparseCategoricalAccuracy(Metric):
    def values(self, y_true, y_pred):
        return (y_true.reshape(y_pred.shape[:-1]) == y_pred.argmax(-1)).float()


class BinaryAccuracy(Metric):
    def values(self, y_true, y_pred):
        return ((y_pred > 0.5) == (y_true > 0.5)).float()


class MeanAbsoluteErrorMetric(Metric):
    def values(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape)).abs().reshape(y_pred.shape[0], -1).mean(-1)


class MeanSquaredErrorMetric(Metric):
    def values(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape)).square().reshape(y_pred.shape[0], -1).mean(-1)


class AUC(Metric):
    """Area under the ROC curve, exact (rank statistic with ties), over all outputs flattened
    (Keras's default ``multi_label=False``). Targets must be 0/1 (one-hot for several outputs)."""

    def reset(self) -> None:
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []

    @torch.no_grad()
    def update(self, y_true, y_pred):
        if y_true.dtype == torch.int64 and y_pred.dim() == y_true.dim() + 1:  # sparse ids -> one-hot
            y_true = torch.nn.functional.one_hot(y_true, y_pred.shape[-1])
        self._scores.append(y_pred.detach().reshape(-1).float().cpu())
        self._labels.append(y_true.detach().reshape(-1).float().cpu())

    def result(self) -> float:
        if not self._scores:
            return 0.0
        s = torch.cat(self._scores).double()
        y = torch.cat(self._labels) > 0.5
        n_pos = int(y.sum())
        n_neg = y.numel() - n_pos
        if n_pos == 0 or n_neg == 0:
            return 0.0
        order = torch.argsort(s)
        s_sorted = s[order]
        ranks = torch.empty_like(s)
        ranks[order] = torch.arange(1, s.numel() + 1, dtype=torch.float64)
        # average ranks over ties
        uniq, inverse, counts = torch.unique(s_sorted, return_inverse=True, return_counts=True)
        ends = torch.cumsum(counts, 0).double()
        avg = ends - (counts.double() - 1) / 2
        ranks[order] = avg[inverse]
        return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


METRIC_NAMES = (
    "accuracy",
    "acc",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "binary_accuracy",
    "mae",
    "mean_absolute_error",
    "mse",
    "mean_squared_error",
    "auc",
)


def get_metric(spec: Any, *, loss_name: str | None, output_shape: tuple | None) -> Metric:
    """A fresh :class:`Metric` for a Keras name; a ``Metric`` instance is returned as is."""
    if isinstance(spec, Metric):
        return spec
    if not isinstance(spec, str) or spec.lower() not in METRIC_NAMES:
        raise ConfigError(f"metrics: expected names from {list(METRIC_NAMES)}, found {spec!r}")
    key = spec.lower()
    if key in ("accuracy", "acc"):
        if loss_name == "sparse_categorical_crossentropy":
            return SparseCategoricalAccuracy(spec)
        if loss_name == "categorical_crossentropy":
            return CategoricalAccuracy(spec)
        if loss_name == "binary_crossentropy" or (output_shape and output_shape[-1] == 1):
            return BinaryAccuracy(spec)
        return CategoricalAccuracy(spec)
    cls = {
        "categorical_accuracy": CategoricalAccuracy,
        "sparse_categorical_accuracy": SparseCategoricalAccuracy,
        "binary_accuracy": BinaryAccuracy,
        "mae": MeanAbsoluteErrorMetric,
        "mean_absolute_error": MeanAbsoluteErrorMetric,
        "mse": MeanSquaredErrorMetric,
        "mean_squared_error": MeanSquaredErrorMetric,
        "auc": AUC,
    }[key]
    return cls(spec)
