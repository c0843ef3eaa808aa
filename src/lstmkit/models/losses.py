"""Losses by Keras name, with the target checks that turn a label mistake into a one-line error.

Each built-in loss knows how to *prepare* a whole target array once before training (check its shape,
values and number of classes against the model's output, convert its dtype), and how to compute the
mean loss of a batch, either from probabilities or, when the model ends in the matching activation,
from logits (numerically stable; ``predict`` still returns probabilities).

>>> import torch
>>> from lstmkit.models.losses import get_loss
>>> loss = get_loss("sparse_categorical_crossentropy")
>>> y = loss.prepare_targets(torch.tensor([0, 1]), (2,), "y")
>>> round(float(loss(y, torch.tensor([[0.9, 0.1], [0.2, 0.8]]))), 4)
0.1643
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

from lstmkit.errors import ConfigError, InputValueError, ShapeError

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _shape_str(shape: tuple) -> str:
    if not shape:
        return "(N,)"
    return "(" + ", ".join(["N", *("L" if d is None else str(d) for d in shape)]) + ")"


def _fit_to_output(y: torch.Tensor, output_shape: tuple, name: str, argument: str, what: str) -> torch.Tensor:
    """Reshape ``y`` to ``(N, *output_shape)``, allowing Keras's one squeezed trailing axis of size 1."""
    want = tuple(output_shape)
    have = tuple(y.shape[1:])
    known = all(d is not None for d in want)
    if have == want or not known and len(have) == len(want) and all(w is None or w == h for w, h in zip(want, have)):
        return y
    if known and want and want[-1] == 1 and have == want[:-1]:
        return y.unsqueeze(-1)
    raise ShapeError(f"{argument}: {name} expects {what} of shape {_shape_str(want)}, found {_shape_str(have)}")


def _mean_last(v: torch.Tensor) -> torch.Tensor:
    """Keras's elementwise losses average the last axis: ``(N, D)`` -> ``(N,)``."""
    return v.mean(-1) if v.dim() >= 2 else v


class Loss:
    """Base class. Subclasses implement ``compute(y_true, y_pred, from_logits)``, returning the mean."""

    name: str = "loss"
    #: the last-layer activation whose pre-activation this loss can take instead of probabilities
    logit_activation: str | None = None

    def __init__(self, from_logits: bool = False) -> None:
        if not isinstance(from_logits, bool):
            raise ConfigError(f"from_logits: expected True or False, found {from_logits!r}")
        self.from_logits = from_logits

    def prepare_targets(self, y: torch.Tensor, output_shape: tuple, argument: str) -> torch.Tensor:
        if not y.is_floating_point():
            y = y.to(torch.float32)
        return _fit_to_output(y, output_shape, self.name, argument, "targets")

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self.compute(y_true, y_pred, self.from_logits)

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        raise NotImplementedError

    def per_sample(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        """Unreduced losses as Keras computes them before reduction: shape ``(N,)`` (``(N, L)`` for sequence outputs)."""
        raise ConfigError(f"loss: {self.name!r} has no per-sample form, so it cannot take sample_weight or class_weight")

    def weighted(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool,
                 sample_weight: torch.Tensor) -> torch.Tensor:
        """Keras's weighted loss: per-sample losses times ``sample_weight`` (``(N,)``, broadcast over
        any other axes), reduced with ``"sum_over_batch_size"``: ``sum(w * l) / l.numel()``."""
        values = self.per_sample(y_true, y_pred, from_logits)
        w = sample_weight.to(values.dtype).reshape(-1, *([1] * (values.dim() - 1)))
        return (values * w).sum() / max(values.numel(), 1)

    def masked(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool, mask: torch.Tensor,
               sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        """Keras's loss on a masked output (e.g. per-step outputs after ``Embedding(mask_zero=True)``): the
        per-step losses of real steps only, ``sum(w * m * l) / (sum(m) + 1e-7)`` with ``m`` the ``(N, L)`` mask."""
        values = self.per_sample(y_true, y_pred, from_logits)
        m = mask.to(values.dtype)
        while m.dim() < values.dim():
            m = m.unsqueeze(-1)
        m = m.expand_as(values)
        if sample_weight is not None:
            values = values * sample_weight.to(values.dtype).reshape(-1, *([1] * (values.dim() - 1)))
        return (values * m).sum() / (m.sum() + 1e-7)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


def _check_finite_float(y: torch.Tensor, name: str, argument: str) -> None:
    if y.is_floating_point() and y.numel() and not bool(torch.isfinite(y).all()):
        raise InputValueError(f"{argument}: {name} targets contain NaN or inf")


class CategoricalCrossentropy(Loss):
    """One-hot (or probability) targets ``(N, C)`` against a ``C``-unit softmax output."""

    name = "categorical_crossentropy"
    logit_activation = "softmax"

    def prepare_targets(self, y: torch.Tensor, output_shape: tuple, argument: str) -> torch.Tensor:
        classes = output_shape[-1] if output_shape else None
        have = tuple(y.shape[1:])
        if not y.is_floating_point() and len(have) == len(output_shape) - 1:
            raise ShapeError(
                f"{argument}: {self.name} expects one-hot labels of shape {_shape_str(tuple(output_shape))}, "
                f"found class ids of shape {_shape_str(have)}; one-hot encode them or use "
                f"loss='sparse_categorical_crossentropy'"
            )
        if have and classes is not None and have[-1] != classes:
            raise ShapeError(
                f"{argument}: {self.name} expects one-hot rows of width {classes} (the model's output units), "
                f"found width {have[-1]}"
            )
        y = y.to(torch.float32)
        y = _fit_to_output(y, output_shape, self.name, argument, "one-hot labels")
        if y.numel():
            lo, hi = torch.aminmax(y)
            if float(lo) < 0 or float(hi) > 1:
                bad = float(lo) if float(lo) < 0 else float(hi)
                raise InputValueError(f"{argument}: {self.name} expects one-hot values in [0, 1], found {bad:g}")
        return y

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        if from_logits:
            if y_pred.dim() == 2:
                return F.cross_entropy(y_pred, y_true)
            return -(y_true * torch.log_softmax(y_pred, dim=-1)).sum(-1).mean()
        p = y_pred / y_pred.sum(-1, keepdim=True)
        return -(y_true * torch.log(p.clamp(EPSILON, 1.0 - EPSILON))).sum(-1).mean()

    def per_sample(self, y_true, y_pred, from_logits):
        if from_logits:
            return -(y_true * torch.log_softmax(y_pred, dim=-1)).sum(-1)
        p = y_pred / y_pred.sum(-1, keepdim=True)
        return -(y_true * torch.log(p.clamp(EPSILON, 1.0 - EPSILON))).sum(-1)


class SparseCategoricalCrossentropy(Loss):
    """Integer class ids ``(N,)`` (or ``(N, 1)``) against a ``C``-unit softmax output."""

    name = "sparse_categorical_crossentropy"
    logit_activation = "softmax"

    def prepare_targets(self, y: torch.Tensor, output_shape: tuple, argument: str) -> torch.Tensor:
        classes = output_shape[-1] if output_shape else None
        want = tuple(output_shape[:-1])
        have = tuple(y.shape[1:])
        if have == (*want, 1):
            y = y.squeeze(-1)
            have = want
        if len(have) != len(want) or any(w is not None and w != h for w, h in zip(want, have)):
            raise ShapeError(
                f"{argument}: {self.name} expects class ids of shape {_shape_str(want)}, found {_shape_str(have)}"
                + ("; for one-hot labels use loss='categorical_crossentropy'" if have == tuple(output_shape) else "")
            )
        if y.is_floating_point():
            _check_finite_float(y, self.name, argument)
            if y.numel() and not bool((y == y.round()).all()):
                raise InputValueError(f"{argument}: {self.name} expects integer class ids, found fractional values")
        y = y.to(torch.int64)
        if y.numel() and classes is not None:
            lo, hi = torch.aminmax(y)
            if int(lo) < 0 or int(hi) >= classes:
                bad = int(hi) if int(hi) >= classes else int(lo)
                raise InputValueError(
                    f"{argument}: {self.name} expects class ids in [0, {classes - 1}] for a model with "
                    f"{classes} output units, found {bad}"
                )
        return y

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        c = y_pred.shape[-1]
        if from_logits:
            return F.cross_entropy(y_pred.reshape(-1, c), y_true.reshape(-1))
        p = y_pred / y_pred.sum(-1, keepdim=True)
        logp = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
        return F.nll_loss(logp.reshape(-1, c), y_true.reshape(-1))

    def per_sample(self, y_true, y_pred, from_logits):
        if from_logits:
            logp = torch.log_softmax(y_pred, dim=-1)
        else:
            p = y_pred / y_pred.sum(-1, keepdim=True)
            logp = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
        return -logp.gather(-1, y_true.reshape(*y_pred.shape[:-1], 1)).squeeze(-1)


class BinaryCrossentropy(Loss):
    """Labels in ``[0, 1]`` (0/1 or probabilities) against sigmoid outputs of the same shape."""

    name = "binary_crossentropy"
    logit_activation = "sigmoid"

    def prepare_targets(self, y: torch.Tensor, output_shape: tuple, argument: str) -> torch.Tensor:
        y = y.to(torch.float32)
        y = _fit_to_output(y, output_shape, self.name, argument, "labels")
        if y.numel():
            lo, hi = torch.aminmax(y)
            if float(lo) < 0 or float(hi) > 1:
                bad = float(lo) if float(lo) < 0 else float(hi)
                raise InputValueError(
                    f"{argument}: {self.name} expects labels in {{0, 1}} (or probabilities in [0, 1]), found {bad:g}"
                )
        return y

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        if from_logits:
            return F.binary_cross_entropy_with_logits(y_pred, y_true)
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        return -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p)).mean()

    def per_sample(self, y_true, y_pred, from_logits):
        if from_logits:
            v = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        else:
            p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
            v = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
        return _mean_last(v)


class MeanSquaredError(Loss):
    name = "mse"

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        return F.mse_loss(y_pred, y_true)

    def per_sample(self, y_true, y_pred, from_logits):
        return _mean_last(F.mse_loss(y_pred, y_true, reduction="none"))


class MeanAbsoluteError(Loss):
    name = "mae"

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        return F.l1_loss(y_pred, y_true)

    def per_sample(self, y_true, y_pred, from_logits):
        return _mean_last(F.l1_loss(y_pred, y_true, reduction="none"))


class Huber(Loss):
    name = "huber"

    def __init__(self, delta: float = 1.0, from_logits: bool = False) -> None:
        super().__init__(from_logits)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta <= 0:
            raise ConfigError(f"delta: expected a positive number, found {delta!r}")
        self.delta = float(delta)

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        return F.huber_loss(y_pred, y_true, delta=self.delta)

    def per_sample(self, y_true, y_pred, from_logits):
        return _mean_last(F.huber_loss(y_pred, y_true, delta=self.delta, reduction="none"))

    def get_config(self) -> dict[str, Any]:
        return {"delta": self.delta, "from_logits": self.from_logits}


class FunctionLoss(Loss):
    """Wraps a user callable ``fn(y_true, y_pred) -> tensor`` (a scalar, or per-sample values that are averaged)."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        super().__init__(False)
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def prepare_targets(self, y: torch.Tensor, output_shape: tuple, argument: str) -> torch.Tensor:
        return y.to(torch.float32) if y.is_floating_point() else y

    def compute(self, y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
        value = self.fn(y_true, y_pred)
        if not isinstance(value, torch.Tensor):
            raise ConfigError(f"loss: the callable {self.name!r} must return a torch tensor, found {type(value).__name__}")
        return value.mean() if value.dim() else value

    def per_sample(self, y_true, y_pred, from_logits):
        value = self.fn(y_true, y_pred)
        if not isinstance(value, torch.Tensor) or value.dim() == 0 or value.shape[0] != y_pred.shape[0]:
            raise ConfigError(
                f"loss: the callable {self.name!r} must return per-sample values (shape (N,...)) to take "
                "sample_weight or class_weight, found a scalar or another shape"
            )
        return value


LOSSES: dict[str, type[Loss]] = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
}
ALIASES = {
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "huber_loss": "huber",
    "categoricalcrossentropy": "categorical_crossentropy",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
    "binarycrossentropy": "binary_crossentropy",
    "meansquarederror": "mse",
    "meanabsoluteerror": "mae",
}
_CLASS_NAMES = {cls.__name__: cls for cls in LOSSES.values()}


def get_loss(loss: Any) -> Loss:
    """A :class:`Loss` from a Keras name (``"categorical_crossentropy"``, ``"mse"``...), a Loss object or a callable."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = ALIASES.get(loss.lower(), loss.lower())
        if key in LOSSES:
            return LOSSES[key]()
        raise ConfigError(
            f"loss: expected one of {sorted(LOSSES)} (or mean_squared_error, mean_absolute_error), "
            f"a Loss or a callable, found {loss!r}"
        )
    if callable(loss) and getattr(loss, "lstmkit_loss", None) is not None:
        return LOSSES[loss.lstmkit_loss]()  # Keras's function form, e.g. keras.losses.binary_crossentropy
    if callable(loss):
        return FunctionLoss(loss)
    raise ConfigError(f"loss: expected one of {sorted(LOSSES)}, a Loss or a callable, found {loss!r}")


def loss_to_config(loss: Loss) -> Any:
    """JSON for a built-in loss (``None`` for a user callable, which cannot be saved)."""
    if isinstance(loss, FunctionLoss):
        return None
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def loss_from_config(config: Any) -> Loss:
    if isinstance(config, str):
        return get_loss(config)
    cls = _CLASS_NAMES.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ConfigError(f"loss config: unknown loss {config!r:.80}")
    return cls(**config.get("config", {}))


def _function_form(key: str) -> Callable[..., torch.Tensor]:
    """Keras's function form of a loss: per-sample values, e.g. ``binary_crossentropy(y_true, y_pred)``.
    Given to ``compile(loss=...)`` it stands for the loss itself (``get_loss`` maps it back)."""
    cls = LOSSES[key]

    def loss(y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool = False, **kwargs: Any) -> torch.Tensor:
        obj = cls(from_logits=from_logits, **kwargs)
        y_true = torch.as_tensor(y_true)
        y_pred = torch.as_tensor(y_pred, dtype=torch.float32)
        return obj.per_sample(obj.prepare_targets(y_true, tuple(y_pred.shape[1:]), "y_true"), y_pred, from_logits)

    loss.__name__ = key
    loss.__doc__ = f"Per-sample ``{key}`` (Keras's ``keras.losses.{key}``)."
    loss.lstmkit_loss = key  # type: ignore[attr-defined]
    return loss


sparse_categorical_crossentropy = _function_form("sparse_categorical_crossentropy")
categorical_crossentropy = _function_form("categorical_crossentropy")
binary_crossentropy = _function_form("binary_crossentropy")
mean_squared_error = mse = _function_form("mse")
mean_absolute_error = mae = _function_form("mae")
huber = _function_form("huber")
