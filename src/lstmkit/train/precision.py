"""Numeric precision of a training run: ``"fp32"``, ``"bf16"`` or ``"auto"``.

``bf16`` runs the step function under ``torch.autocast(device_type, dtype=torch.bfloat16)``: matrix
products and the LSTM kernels run in bfloat16, while the weights, their gradients, the optimizer
state and the loss stay float32 (the engine casts the loss to float32; a task computes its loss on
``logits.float()``). It is available

* on CUDA when ``torch.cuda.is_bf16_supported()``;
* on a CPU with bfloat16 matrix units: ``amx_bf16`` or ``avx512_bf16`` among the CPU flags
  (``/proc/cpuinfo``, which ``lscpu`` shows) *and* oneDNN built with bf16
  (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``). A plain AVX2 CPU has neither, and there bf16
  would be emulated and slower, so asking for it is a :class:`~lstmkit.errors.ConfigError`.

``auto`` picks bf16 only where it is both faster and, for these models, equally accurate: CUDA with
bf16, or a CPU with AMX (``amx_bf16``). AVX512-BF16 without AMX speeds up only some kernels, so
``auto`` keeps fp32 there (ask for ``"bf16"`` explicitly); everywhere else ``auto`` is fp32.

>>> resolve_precision("fp32")
'fp32'
"""

from __future__ import annotations

import contextlib
import functools
import platform
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import torch

from lstmkit.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "auto")
_ALIASES = {"float32": "fp32", "32": "fp32", "bfloat16": "bf16", "bf16-mixed": "bf16"}
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU's model name and its flags (from ``/proc/cpuinfo``, else ``lscpu``)."""

    name: str
    flags: frozenset[str]

    @property
    def amx_bf16(self) -> bool:
        return "amx_bf16" in self.flags

    @property
    def avx512_bf16(self) -> bool:
        return "avx512_bf16" in self.flags


@functools.lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """Model name and flags of this machine's CPU (cached; empty flags where neither source exists)."""
    name, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "model name" and not name:
                    name = value.strip()
                elif key in ("flags", "features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    if (not name or not flags) and shutil.which("lscpu"):
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "model name" and not name:
                name = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
    return CpuInfo(name or platform.processor() or platform.machine() or "unknown CPU", frozenset(flags))


def mkldnn_bf16() -> bool:
    """Whether this torch's oneDNN runs bfloat16 kernels on this CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _device_type(device: Any) -> str:
    if device is None:
        return "cpu"
    return torch.device(device).type


def check_precision(value: Any, name: str = "precision") -> str:
    """The canonical spelling (``fp32``/``bf16``/``auto``) of ``value``, else a one-line ConfigError."""
    if isinstance(value, str):
        v = _ALIASES.get(value.strip().lower(), value.strip().lower())
        if v in PRECISIONS:
            return v
    raise ConfigError(f"{name}: expected 'fp32', 'bf16' or 'auto', found {value!r}")


def bf16_available(device: Any = None) -> bool:
    """Whether bf16 autocast runs natively on ``device`` (a CUDA device or the CPU)."""
    if _device_type(device) == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    info = cpu_info()
    return (info.amx_bf16 or info.avx512_bf16) and mkldnn_bf16()


def _cpu_units_text() -> str:
    info = cpu_info()
    have = [f for f in BF16_FLAGS if f in info.flags]
    flags = ", ".join(have) if have else f"neither {' nor '.join(BF16_FLAGS)}"
    onednn = "oneDNN bf16 yes" if mkldnn_bf16() else "oneDNN bf16 no"
    return f"{info.name} (CPU flags: {flags}; {onednn})"


def precision_reason(precision: Any = "auto", device: Any = None) -> str:
    """One line saying which precision ``precision`` resolves to on ``device`` and why."""
    p = check_precision(precision)
    dev = _device_type(device)
    if dev == "cuda":
        ok = bf16_available("cuda")
        gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
        if p == "fp32":
            return f"fp32: asked for ({gpu})"
        if ok:
            return f"bf16: {gpu} supports bfloat16" + (" (auto picks it on CUDA)" if p == "auto" else "")
        return f"fp32: {gpu} does not support bfloat16" if p == "auto" else f"bf16 unavailable: {gpu} has no bfloat16"
    units = _cpu_units_text()
    info = cpu_info()
    if p == "fp32":
        return f"fp32: asked for ({units})"
    if p == "bf16":
        if bf16_available("cpu"):
            return f"bf16: asked for; {units}"
        return f"bf16 unavailable: {units}"
    if info.amx_bf16 and mkldnn_bf16():
        return f"bf16: auto picks bf16 on a CPU with AMX; {units}"
    if info.avx512_bf16 and mkldnn_bf16():
        return f"fp32: auto keeps fp32 without AMX (AVX512-BF16 alone is not reliably faster; ask for bf16); {units}"
    return f"fp32: auto keeps fp32 without bfloat16 matrix units; {units}"


def resolve_precision(precision: Any = "auto", device: Any = None, name: str = "precision") -> str:
    """``"fp32"`` or ``"bf16"`` for ``precision`` on ``device`` (see the module docstring for the rule).

    ``"bf16"`` where it cannot run natively is a one-line ConfigError naming the CPU (or GPU) and flags.
    """
    p = check_precision(precision, name)
    dev = _device_type(device)
    if p == "fp32":
        return "fp32"
    if p == "bf16":
        if bf16_available(dev):
            return "bf16"
        if dev == "cuda":
            gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
            raise ConfigError(f"{name} 'bf16': {gpu} does not support bfloat16; use 'fp32' or 'auto'")
        raise ConfigError(
            f"{name} 'bf16': this CPU has no bfloat16 matrix units: {_cpu_units_text()}; use 'fp32' or 'auto'"
        )
    if dev == "cuda":
        return "bf16" if bf16_available("cuda") else "fp32"
    return "bf16" if cpu_info().amx_bf16 and mkldnn_bf16() else "fp32"


def autocast(precision: str, device: Any = None) -> contextlib.AbstractContextManager:
    """The context a step runs in: ``torch.autocast(..., dtype=torch.bfloat16)`` for bf16, else nothing."""
    if precision == "bf16":
        return torch.autocast(_device_type(device), dtype=torch.bfloat16)
    return contextlib.nullcontext()


__all__ = [
    "PRECISIONS", "CpuInfo", "cpu_info", "mkldnn_bf16", "check_precision", "bf16_available", "precision_reason",
    "resolve_precision", "autocast",
]
