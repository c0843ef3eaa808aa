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

    #: the name a metric gets when constructed without one (Keras's: ``AUC()`` logs as ``auc``)
    default_name = "metric"

    def __init__(self, name: str | None = None) -> None:
        self.name = name if name is not None else self.default_name
        self.reset()

    def reset(self) -> None:
        self._total: torch.Tensor | float = 0.0
        self._count = 0

    def values(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def update(self, y_true: torch.Tensor, y_pred: torch.Tensor, sample_weight: torch.Tensor | None = None) -> None:
        v = self.values(y_true, y_pred)
        if sample_weight is None:
            self._total = self._total + v.sum(dtype=torch.float64)
            self._count += v.numel()
            return
        # Keras: per-sample weights broadcast over the sample's values; the result is sum(w*v) / sum(w)
        v = v.reshape(v.shape[0], -1).double()
        w = sample_weight.reshape(-1, 1).double().expand_as(v)
        self._total = self._total + (v * w).sum()
        self._count = self._count + float(w.sum())

    @torch.no_grad()
    def update_masked(self, y_true: torch.Tensor, y_pred: torch.Tensor, mask: torch.Tensor) -> None:
        """Keras on a masked output: the mean over real steps only (``mask`` ``(N, L)``, True = real)."""
        self._total = self._total + masked_sum(self.values(y_true, y_pred), mask)[0]
        self._count = self._count + float(mask.sum())

    def result(self) -> float:
        return float(self._total) / float(self._count) if self._count else 0.0


def masked_sum(values: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | int]:
    """``(sum of values at real steps, number of real steps)``; without a mask (or when it does not fit
    the values' leading axes), all values count."""
    if mask is None or values.dim() < mask.dim() or tuple(values.shape[:mask.dim()]) != tuple(mask.shape):
        return values.sum(dtype=torch.float64), values.numel()
    m = mask.to(torch.float64)
    while m.dim() < values.dim():
        m = m.unsqueeze(-1)
    m = m.expand_as(values)
    return (values.double() * m).sum(), m.sum()


class CategoricalAccuracy(Metric):
    default_name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return (y_true.argmax(-1) == y_pred.argmax(-1)).float()


class SparseCategoricalAccuracy(Metric):
    default_name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return (y_true.reshape(y_pred.shape[:-1]) == y_pred.argmax(-1)).float()


class BinaryAccuracy(Metric):
    default_name = "binary_accuracy"

    def values(self, y_true, y_pred):
        return ((y_pred > 0.5) == (y_true > 0.5)).float()


class MeanAbsoluteErrorMetric(Metric):
    default_name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape)).abs().reshape(y_pred.shape[0], -1).mean(-1)


class MeanSquaredErrorMetric(Metric):
    default_name = "mean_squared_error"

    def values(self, y_true, y_pred):
        return (y_pred - y_true.reshape(y_pred.shape)).square().reshape(y_pred.shape[0], -1).mean(-1)


class AUC(Metric):
    """Area under the ROC curve, exact (rank statistic with ties), over all outputs flattened
    (Keras's default ``multi_label=False``). Targets must be 0/1 (one-hot for several outputs)."""

    default_name = "auc"

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


class _Thresholded(Metric):
    """Keras's ``Precision``/``Recall`` (default ``thresholds=0.5``): every output value is one binary
    decision (``y_pred > threshold`` against ``y_true > 0.5``'s truth), counted over all of them, so a
    one-hot target against a softmax is counted column by column as Keras does. Targets must have the
    output's shape (0/1 labels for sigmoid outputs, one-hot rows for softmax outputs); integer class
    ids against a several-unit output are refused. ``sample_weight`` (per sample) weights the counts."""

    def __init__(self, name: str | None = None, thresholds: float = 0.5) -> None:
        if isinstance(thresholds, bool) or not isinstance(thresholds, (int, float)) or not 0.0 <= thresholds <= 1.0:
            raise ConfigError(f"thresholds: expected a float in [0, 1], found {thresholds!r}")
        self.threshold = float(thresholds)
        super().__init__(name or self.default_name)

    def reset(self) -> None:
        self._tp = torch.zeros((), dtype=torch.float64)
        self._fp = torch.zeros((), dtype=torch.float64)
        self._fn = torch.zeros((), dtype=torch.float64)

    @torch.no_grad()
    def update(self, y_true: torch.Tensor, y_pred: torch.Tensor, sample_weight: torch.Tensor | None = None) -> None:
        if tuple(y_true.shape) != tuple(y_pred.shape):
            if y_true.numel() == y_pred.numel():
                y_true = y_true.reshape(y_pred.shape)
            else:
                raise ConfigError(
                    f"metrics: {self.name!r} needs targets of the output's shape (0/1 labels or one-hot rows), "
                    f"found targets {tuple(y_true.shape)} for outputs {tuple(y_pred.shape)}"
                )
        pred = (y_pred.detach() > self.threshold).reshape(y_pred.shape[0], -1)
        true = (y_true.detach() > 0.5).reshape(y_pred.shape[0], -1)
        w = (torch.ones(pred.shape[0], dtype=torch.float64, device=pred.device) if sample_weight is None
             else sample_weight.detach().reshape(-1).double().to(pred.device))[:, None]
        self._tp = self._tp + ((pred & true).double() * w).sum().cpu()
        self._fp = self._fp + ((pred & ~true).double() * w).sum().cpu()
        self._fn = self._fn + ((~pred & true).double() * w).sum().cpu()


class Precision(_Thresholded):
    """``tp / (tp + fp)`` at ``thresholds`` (0.5), 0.0 when nothing is predicted positive (Keras's ``divide_no_nan``).

    >>> import torch
    >>> m = Precision()
    >>> m.update(torch.tensor([[1.0], [0.0], [1.0]]), torch.tensor([[0.9], [0.8], [0.2]]))
    >>> m.result()
    0.5
    """

    default_name = "precision"

    def result(self) -> float:
        d = float(self._tp + self._fp)
        return float(self._tp) / d if d else 0.0


class Recall(_Thresholded):
    """``tp / (tp + fn)`` at ``thresholds`` (0.5), 0.0 when there are no positives (Keras's ``divide_no_nan``)."""

    default_name = "recall"

    def result(self) -> float:
        d = float(self._tp + self._fn)
        return float(self._tp) / d if d else 0.0


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
    "precision",
    "recall",
)


def get_metric(spec: Any, *, loss_name: str | None, output_shape: tuple | None) -> Metric:
    """A fresh :class:`Metric` for a Keras name; a ``Metric`` instance is returned as is."""
    if isinstance(spec, Metric):
        return spec
    if not isinstance(spec, str) or spec.lower() not in METRIC_NAMES:
        raise ConfigError(f"metrics: expected names from {list(METRIC_NAMES)}, found {spec!r}")
    key = spec.lower()
    if key in ("precision", "recall"):
        if loss_name == "sparse_categorical_crossentropy" and not (output_shape and output_shape[-1] == 1):
            raise ConfigError(
                f"metrics: {spec!r} counts binary decisions per output unit and needs 0/1 or one-hot targets, "
                "found loss='sparse_categorical_crossentropy' (class ids); use a 1-unit sigmoid output or one-hot labels"
            )
        return (Precision if key == "precision" else Recall)(spec)
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


# Keras's class names for the mean-error metrics (``keras.metrics.MeanAbsoluteError()``).
MeanAbsoluteError = MeanAbsoluteErrorMetric
MeanSquaredError = MeanSquaredErrorMetric
