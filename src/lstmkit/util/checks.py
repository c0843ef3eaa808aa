"""Small pieces every layer shares: argument checks, seeding, output paths, one-hot labels, estimator params.

The lowest layer (``util``): imports nothing from lstmkit but :mod:`lstmkit.errors`.
"""

from __future__ import annotations

import random
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


# Kept importable from here (their old home was lstmkit.tasks.common).
from lstmkit.util.files import prepare_output, prepare_output_dir  # noqa: E402

__all__ = ["check_int", "seed_everything", "prepare_output", "prepare_output_dir", "ParamsMixin", "one_hot"]
