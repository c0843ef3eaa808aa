"""Where a loaded model goes: ``map_location`` for every lstmkit file.

lstmkit files are device-free: every tensor is copied to the CPU before it is written
(:func:`lstmkit.util.container.encode`), and safetensors records no device. So a model trained on a
GPU loads on a CPU-only machine as it is, and a model trained on a CPU goes to a GPU with
``map_location="cuda"``. A training checkpoint's CUDA random-number states are restored only where
CUDA exists (:func:`lstmkit.train.checkpoint.set_rng_state`), and an optimizer's state follows its
parameters' device (``torch.optim.Optimizer.load_state_dict``).

``map_location``: ``None`` or ``"cpu"`` (the default: where files load), ``"cuda"``, ``"cuda:N"``,
``"mps"``, ``"auto"`` (CUDA when available, else the CPU) or a :class:`torch.device`.
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.errors import ConfigError


def resolve_device(map_location: Any = None) -> torch.device:
    """The :class:`torch.device` for ``map_location``; one line when it is not available here."""
    if map_location is None:
        return torch.device("cpu")
    if isinstance(map_location, str) and map_location.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = map_location if isinstance(map_location, torch.device) else torch.device(str(map_location))
    except (RuntimeError, TypeError):
        raise ConfigError(f"map_location: expected 'cpu', 'cuda', 'cuda:N', 'mps', 'auto' or a torch.device, "
                          f"found {map_location!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"map_location {str(device)!r}: this machine has no CUDA device; load with "
                              "map_location='cpu' (lstmkit files load on any device)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"map_location {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA "
                              f"device(s), numbered from 0")
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError("map_location 'mps': this machine has no MPS device; load with map_location='cpu'")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"map_location: expected 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', found {str(device)!r}")
    return device


def place(obj: Any, map_location: Any = None) -> Any:
    """Move a loaded object to ``map_location`` (nothing to do for the CPU, where files load)."""
    device = resolve_device(map_location)
    if device.type == "cpu":
        return obj
    mover = getattr(obj, "to", None)
    if not callable(mover):
        raise ConfigError(f"map_location {str(device)!r}: a {type(obj).__name__} runs on the CPU only; "
                          "load it with map_location='cpu'")
    moved = mover(device)
    return obj if moved is None else moved


__all__ = ["resolve_device", "place"]
