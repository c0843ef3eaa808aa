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

Chrono initialisation (Tallec & Ollivier, 2018, "Can recurrent neural networks warp time?"),
applied on top of either scheme by :func:`chrono_bias_` / ``LSTM.chrono_init_``, sets the gate
biases so that the memory's characteristic forgetting times spread over ``[1, T_max]``::

    b_f ~ log(U[1, T_max - 1])      (forget gate, per unit; f = sigmoid(b_f) = 1 - 1/(1 + e^{b_f}))
    b_i = -b_f                      (input gate)

A unit whose forget gate sits at ``f`` keeps its cell state for about ``1 / (1 - f) = 1 + e^{b_f}``
steps, so the units' time constants are spread between 2 and ``T_max`` instead of all sitting at
``1 + e = 3.7`` steps (``forget_bias = 1``): the gradient through the cell path decays as
``f^d`` over ``d`` steps, and chrono units keep it alive over dependencies as long as ``T_max``.
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


def check_max_timescale(owner: str, max_timescale: object) -> int:
    if isinstance(max_timescale, bool) or not isinstance(max_timescale, int) or max_timescale < 3:
        raise ConfigError(f"{owner} chrono max_timescale: expected an integer >= 3, found {max_timescale!r}")
    return max_timescale


@torch.no_grad()
def chrono_bias_(
    bias_ih: Tensor, bias_hh: Tensor | None, hidden_size: int, max_timescale: int, generator: torch.Generator | None = None
) -> None:
    """Chrono initialisation of one LSTM direction (gate order i, f, g, o; see the module docstring).

    ``bias_ih`` ``(4H,)``: forget slice ``H:2H`` to ``log(U[1, max_timescale - 1])``, input slice
    ``0:H`` to its negative; ``bias_hh``'s input and forget slices to zero, so the sums are exact.
    """
    check_max_timescale("LSTM", max_timescale)
    H = hidden_size
    u = torch.rand(H, generator=generator, dtype=torch.float64) * (max_timescale - 2) + 1.0
    b_f = torch.log(u).to(bias_ih.dtype)
    bias_ih[H : 2 * H] = b_f
    bias_ih[:H] = -b_f
    if bias_hh is not None:
        bias_hh[: 2 * H] = 0.0


__all__ = [
    "INIT_SCHEMES", "check_init", "check_forget_bias", "check_max_timescale", "glorot_uniform_", "orthogonal_",
    "set_forget_bias_", "chrono_bias_",
]  # fmt: skip
