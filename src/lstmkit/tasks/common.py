"""Small pieces every task shares: argument checks, seeding, output paths, one-hot labels."""

from __future__ import annotations

import random
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` as an int ``>= low``, else a one-line ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}; found {value!r}")
    return int(value)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_output(output: str | PathLike[str] | None, example_name: str = "model.lstmkit") -> Path | None:
    """Check, before any training, that a model file can be written there; its folder is made now."""
    if output is None:
        return None
    path = Path(output).expanduser()
    if path.is_dir():
        raise ConfigError(f"output: {path} is a directory; give a file path such as {path / example_name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"output: cannot create directory {path.parent}: {e.strerror or e}") from None
    return path


def prepare_output_dir(out: str | PathLike[str]) -> Path:
    """Create a benchmark's output folder (before any run); a file in the way is a one-line ConfigError."""
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out: expected a folder, found the file {str(path)!r}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out: cannot create the folder {str(path)!r} ({e.strerror or e})") from None
    return path


class ParamsMixin:
    """scikit-learn's ``get_params`` / ``set_params`` over the hyper-parameter names in ``_PARAMS``."""

    _PARAMS: tuple[str, ...] = ()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params: Any) -> Any:
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ConfigError(f"{type(self).__name__} has no parameter {k!r}; known: {', '.join(self._PARAMS)}")
            setattr(self, k, v)
        return self


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``(N,)`` int labels to ``(N, num_classes)`` float32 (what categorical_crossentropy expects)."""
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


__all__ = ["check_int", "seed_everything", "prepare_output", "prepare_output_dir", "ParamsMixin", "one_hot"]
