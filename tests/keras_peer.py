"""Real Keras 3 on the torch backend, the peer the Keras-parity tests compare with (or why it is missing)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
except Exception as exc:  # noqa: BLE001 (any import failure means: no Keras to compare with)
    keras = None
    KERAS_MISSING = f"Keras 3 is not importable ({type(exc).__name__}); pip install 'lstmkit[keras]'"
else:
    KERAS_MISSING = None
    if not keras.__version__.startswith("3.") or keras.backend.backend() != "torch":
        KERAS_MISSING = f"needs Keras 3 on the torch backend, found {keras.__version__} on {keras.backend.backend()}"
        keras = None

needs_keras = pytest.mark.skipif(keras is None, reason=KERAS_MISSING or "")

__all__ = ["keras", "KERAS_MISSING", "needs_keras"]
