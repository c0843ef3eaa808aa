"""Up-front memory estimates, so a size that cannot fit is one clear line instead of an allocator traceback.

Training needs, per float32 parameter, the weight, its gradient and Adam's two moments (16 bytes),
plus activations (a rough term the caller gives as a number of floats). :func:`check_training_fits`
compares that with what the machine has (``MemAvailable`` from ``/proc/meminfo``, and the free CUDA
memory when training on a GPU) and raises :class:`~lstmkit.errors.ConfigError` naming the option::

    units: 1000000000 would need about 59,605,000,000 GiB to train (weights, gradients and Adam
    moments); this machine has 21.3 GiB available

>>> lstm_params(input_size=128, hidden_size=64)
49664
"""

from __future__ import annotations

import os
from typing import Any

from lstmkit.errors import ConfigError

GIB = 1024 ** 3
#: float32 weight + gradient + Adam's first and second moments.
TRAIN_BYTES_PER_PARAM = 16
#: Below this many bytes nothing is checked (reading /proc/meminfo for every small model is waste).
_NEGLIGIBLE = 256 * 1024 ** 2


def lstm_params(input_size: int, hidden_size: int, layers: int = 1, bidirectional: bool = False,
                gates: int = 4, proj_size: int = 0) -> int:
    """Parameters of a (stacked, optionally bidirectional) recurrent layer: ``gates * H * (I + H + 2)`` per layer and direction."""
    d = 2 if bidirectional else 1
    out = proj_size or hidden_size
    total = 0
    for layer in range(max(int(layers), 1)):
        i = input_size if layer == 0 else out * d
        per = gates * hidden_size * (i + out + 2) + (hidden_size * proj_size if proj_size else 0)
        total += d * per
    return int(total)


def available_bytes(device: Any = None) -> int | None:
    """Bytes this machine can still give: ``MemAvailable`` (``/proc/meminfo``) or, for a CUDA device, its free memory.

    ``None`` when it cannot be told (no ``/proc/meminfo``).
    """
    dev = str(device) if device is not None else "cpu"
    if dev.startswith("cuda"):
        try:
            import torch

            free, _total = torch.cuda.mem_get_info(torch.device(dev))
            return int(free)
        except Exception:  # pragma: no cover - no CUDA here
            return None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None


def training_bytes(params: int, activation_floats: int = 0) -> int:
    """Estimated bytes to train ``params`` float32 parameters with Adam, plus ``activation_floats`` of activations."""
    return int(params) * TRAIN_BYTES_PER_PARAM + 4 * int(activation_floats)


def _gib(n: float) -> str:
    g = n / GIB
    return f"{g:,.0f}" if g >= 100 else f"{g:,.1f}" if g >= 0.1 else f"{g:,.2f}"


def check_fits(name: str, value: Any, need: int, what: str, device: Any = None,
               available: int | None = None) -> None:
    """A one-line ConfigError naming option ``name`` when ``need`` bytes exceed what the machine has."""
    if need < _NEGLIGIBLE:
        return
    have = available if available is not None else available_bytes(device)
    if have is None or need <= have:
        return
    where = "this GPU" if str(device or "cpu").startswith("cuda") else "this machine"
    raise ConfigError(f"{name}: {value} would need about {_gib(need)} GiB {what}; {where} has {_gib(have)} GiB available")


def check_training_fits(name: str, value: Any, params: int, activation_floats: int = 0, device: Any = None,
                        available: int | None = None) -> None:
    """Raise ConfigError naming ``name`` (e.g. ``"units"`` or ``"--units"``) when training cannot fit in memory."""
    check_fits(name, value, training_bytes(params, activation_floats),
               "to train (weights, gradients and Adam moments)", device, available)


def check_weights_fit(name: str, value: Any, params: int, device: Any = None, available: int | None = None) -> None:
    """Raise ConfigError naming ``name`` when the float32 weights alone cannot be allocated."""
    check_fits(name, value, 4 * int(params), "for the weights alone", device, available)


__all__ = ["lstm_params", "available_bytes", "training_bytes", "check_fits", "check_training_fits",
           "check_weights_fit", "TRAIN_BYTES_PER_PARAM"]
