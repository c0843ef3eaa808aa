"""Small pieces every layer shares: argument checks, seeding, output paths, one-hot labels, estimator params.

The lowest layer (``util``): imports nothing from lstmkit but :mod:`lstmkit.errors`.
"""

from __future__ import annotations

import functools
import random
from typing import Any, Callable, TypeVar

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


def rename_old_names(owner: str, aliases: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with each old spelling in ``aliases`` (old -> new name) renamed to its new name.

    Giving one setting under both names is a one-line ConfigError naming ``owner``.
    """
    out = dict(options)
    for old, new in aliases.items():
        if old in out:
            if new in out:
                raise ConfigError(f"{owner}: {new} given twice (as {new}= and as its old name {old}=); "
                                  f"give {new}= only")
            out[new] = out.pop(old)
    return out


_C = TypeVar("_C", bound=type)


def accepts_old_names(aliases: dict[str, str]) -> Callable[[_C], _C]:
    """Class decorator (put it above ``@dataclass``): the class's ``__init__`` also takes the old
    keyword spellings in ``aliases`` (old -> new name), and each old name reads and sets its new one."""

    def decorate(cls: _C) -> _C:
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **rename_old_names(cls.__name__, aliases, kwargs))

        cls.__init__ = __init__  # type: ignore[misc]
        for old, new in aliases.items():
            setattr(cls, old, property(lambda self, new=new: getattr(self, new),
                                       lambda self, value, new=new: setattr(self, new, value),
                                       doc=f"The old name of ``{new}``."))
        return cls

    return decorate


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``(N,)`` int labels to ``(N, num_classes)`` float32 (what categorical_crossentropy expects)."""
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


# Kept importable from here (their old home was lstmkit.tasks.common).
from lstmkit.util.files import prepare_output, prepare_output_dir  # noqa: E402

__all__ = ["check_int", "seed_everything", "prepare_output", "prepare_output_dir", "ParamsMixin", "one_hot",
           "rename_old_names", "accepts_old_names"]
