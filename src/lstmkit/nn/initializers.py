"""Weight initialisation schemes: ``init="torch"`` and ``init="keras"``.

``"torch"``  every parameter ~ U(-1/sqrt(H), 1/sqrt(H)) (``torch.nn.LSTM``'s default).
``"keras"``  input weights glorot-uniform over the whole ``(4H, H_in)`` matrix, exactly as Keras
             draws its ``(H_in, 4H)`` kernel (bound ``sqrt(6 / (H_in + 4H))``); recurrent weights
             orthogonal (the whole
             ``(4H, H_out)`` matrix, i.e. Keras's ``(H_out, 4H)`` recurrent kernel transposed);
             projection glorot-uniform; biases zero; peephole weights zero.

Either way the forget-gate slice of ``bias_ih`` is then set to ``forget_bias`` and that of
``bias_hh`` to zero (Keras ``unit_forget_bias``), unless ``forget_bias is None``.
Layer-norm gains start at one and shifts at zero.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lstmkit.errors import ConfigError

INIT_SCHEMES = ("torch", "keras")


def check_init(owner: str, init: object) -> str:
    if init not in INIT_SCHEMES:
        raise ConfigError(f"{owner} init: expected one of {', '.join(map(repr, INIT_SCHEMES))}, found {init!r}")
    return init  # type: ignore[return-value]


def check_forget_bias(owner: str, forget_bias: object) -> float | None:
    if forget_bias is None:
        return None
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float)) or not math.isfinite(forget_bias):
        raise ConfigError(f"{owner} forget_bias: expected a finite float or None, found {forget_bias!r}")
    return float(forget_bias)


@torch.no_grad()
def glorot_uniform_(weight: Tensor) -> Tensor:
    """Glorot/Xavier uniform: ``U(-b, b)`` with ``b = sqrt(6 / (fan_in + fan_out))``."""
    rows, cols = weight.shape
    bound = math.sqrt(6.0 / (rows + cols))
    return weight.uniform_(-bound, bound)


@torch.no_grad()
def orthogonal_(weight: Tensor) -> Tensor:
    return torch.nn.init.orthogonal_(weight)


@torch.no_grad()
def set_forget_bias_(bias_ih: Tensor | None, bias_hh: Tensor | None, hidden_size: int, forget_bias: float | None) -> None:
    """Forget slice (rows ``H:2H``, gate order i, f, g, o) of ``bias_ih`` to ``forget_bias``, of ``bias_hh`` to 0."""
    if forget_bias is None or bias_ih is None:
        return
    bias_ih[hidden_size : 2 * hidden_size] = forget_bias
    if bias_hh is not None:
        bias_hh[hidden_size : 2 * hidden_size] = 0.0


__all__ = ["INIT_SCHEMES", "check_init", "check_forget_bias", "glorot_uniform_", "orthogonal_", "set_forget_bias_"]
