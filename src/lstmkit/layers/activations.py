"""Activation functions by Keras name, for ``Dense(activation=...)``.

>>> from lstmkit.layers.activations import get_activation
>>> import torch
>>> get_activation("relu")(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from lstmkit.errors import ConfigError

Activation = Callable[[torch.Tensor], torch.Tensor]


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x


def _softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def _log_softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(x, dim=-1)


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    # Keras 3 definition: relu6(x + 3) / 6.
    return F.hardsigmoid(x)


ACTIVATIONS: dict[str, Activation] = {
    "linear": _linear,
    "relu": torch.relu,
    "relu6": F.relu6,
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "tanh": torch.tanh,
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "silu": F.silu,
    "swish": F.silu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "exponential": torch.exp,
    "leaky_relu": F.leaky_relu,
}


def canonical_activation(name: str | None, *, argument: str = "activation") -> str:
    """Return the canonical name for ``name`` (``None`` means ``"linear"``); raise ``ConfigError`` if unknown."""
    if name is None:
        return "linear"
    if not isinstance(name, str):
        raise ConfigError(
            f"{argument}: expected one of the names {sorted(ACTIVATIONS)} or None, found {name!r}"
        )
    key = name.lower()
    if key not in ACTIVATIONS:
        raise ConfigError(f"{argument}: expected one of {sorted(ACTIVATIONS)} or None, found {name!r}")
    return key


def get_activation(name: str | None) -> Activation:
    """The function for an activation name (see :data:`ACTIVATIONS`)."""
    return ACTIVATIONS[canonical_activation(name)]
