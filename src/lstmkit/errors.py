"""The errors lstmkit raises for a user's mistake.

Every one is a ``ValueError`` subclass, so code that already catches ``ValueError`` keeps working,
and every message is one line that names the offending argument, field or file, what was expected
and what was found. The CLI turns any :class:`LstmkitError` into that line on stderr and exit code 2,
never a traceback.
"""

from __future__ import annotations


class LstmkitError(ValueError):
    """Base class: a problem with what the user gave lstmkit (not a bug in lstmkit)."""


class ShapeError(LstmkitError):
    """A tensor or array has the wrong rank or size, e.g. ``expected (N, L, 128), found (N, L, 64)``."""


class InputValueError(LstmkitError):
    """Values are invalid: NaN/inf, floats where token ids belong, ids out of range, labels that do not fit."""


class DataError(LstmkitError):
    """A dataset is empty, inconsistent (x and y of different lengths) or cannot be read."""


class ConfigError(LstmkitError):
    """An argument or hyper-parameter is out of range or of the wrong kind (``units=0``, unknown loss)."""


class ModelFileError(LstmkitError):
    """A file is not an lstmkit model, or it is truncated or corrupted."""


__all__ = [
    "LstmkitError",
    "ShapeError",
    "InputValueError",
    "DataError",
    "ConfigError",
    "ModelFileError",
]
