"""lstmkit: long short-term memory for software.

Layers, lowest first (imports only point up this list):

* :mod:`lstmkit.nn`      the math: reference LSTM cell, fused fast path, variants, baselines.
* :mod:`lstmkit.models`  the Keras-style API (``Sequential``, ``compile``/``fit``), save/load.
* :mod:`lstmkit.layers`  the Keras-style layers (``Embedding``, ``LSTM``, ``Dense`` ...).
* :mod:`lstmkit.data`    files to tensors (tokenizers, dataset readers).
* :mod:`lstmkit.tasks`   whole jobs (the sentiment demo ...).
* :mod:`lstmkit.cli`     the ``lstmkit`` command.

Submodules are imported lazily so ``import lstmkit`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from lstmkit._version import __version__
from lstmkit.errors import LstmkitError
from lstmkit import _aliases

_aliases.install()

_SUBMODULES = {"util", "nn", "train", "models", "layers", "data", "tasks", "bench", "inspect", "errors", "utils", "keras"}


def load(path: Any, map_location: Any = None) -> Any:
    """Load any file lstmkit wrote: a Sequential, TextClassifier, Forecaster, SequenceClassifier, language model ...

    The file's ``kind`` marker picks the loader (:mod:`lstmkit.util.registry`). Files are
    device-free: they load on the CPU wherever they were trained; ``map_location`` (``"cuda"``,
    ``"cuda:1"``, ``"auto"``, a :class:`torch.device`) moves the result there
    (:mod:`lstmkit.util.devices`).
    """
    from lstmkit.util.registry import load as _load

    return _load(path, map_location=map_location)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"lstmkit.{name}")
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")


__all__ = ["__version__", "LstmkitError", "load", *sorted(_SUBMODULES)]
