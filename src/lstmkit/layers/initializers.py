"""Keras's weight initialisers, by name.

Keras stores a ``Dense`` kernel as ``(fan_in, fan_out)``; these functions take that logical shape and
fill a tensor of the same number of elements (a torch-layout tensor is the transpose, which has the
same fans).

>>> import torch
>>> from lstmkit.layers.initializers import initialize
>>> w = torch.empty(64, 2)
>>> _ = initialize(w, "glorot_uniform", fan_in=64, fan_out=2)
>>> bool(w.abs().max() <= (6 / 66) ** 0.5)
True
"""

from __future__ import annotations

import math

import torch

from lstmkit.errors import ConfigError

INITIALIZERS = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "uniform",
    "normal",
    "orthogonal",
    "zeros",
    "ones",
)


def check_initializer(name: str, argument: str) -> str:
    if not isinstance(name, str) or name.lower() not in INITIALIZERS:
        raise ConfigError(f"{argument}: expected one of {list(INITIALIZERS)}, found {name!r}")
    return name.lower()


@torch.no_grad()
def initialize(tensor: torch.Tensor, name: str, *, fan_in: int, fan_out: int) -> torch.Tensor:
    """Fill ``tensor`` in place with Keras's initialiser ``name`` for the given fans."""
    name = check_initializer(name, "initializer")
    if name == "zeros":
        return tensor.zero_()
    if name == "ones":
        return tensor.fill_(1.0)
    if name == "uniform":  # Keras RandomUniform default
        return tensor.uniform_(-0.05, 0.05)
    if name == "normal":  # Keras RandomNormal default
        return tensor.normal_(0.0, 0.05)
    if name == "orthogonal":
        return torch.nn.init.orthogonal_(tensor)
    scale, fan = {
        "glorot": (1.0, (fan_in + fan_out) / 2.0),
        "he": (2.0, fan_in),
        "lecun": (1.0, fan_in),
    }[name.split("_")[0]]
    variance = scale / max(1.0, fan)
    if name.endswith("uniform"):
        limit = math.sqrt(3.0 * variance)
        return tensor.uniform_(-limit, limit)
    # Keras's *_normal initialisers use a normal truncated at two standard deviations.
    std = math.sqrt(variance) / 0.87962566103423978
    return torch.nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)
