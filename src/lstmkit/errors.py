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


class LstmkitWarning(UserWarning):
    """A fit or a forecast that runs but is probably not what the user wants: a validation set too
    small to choose an epoch, a kept model at chance, too few gradient steps, a column without a
    name, interval bounds below zero for data that never is. One line, like the errors."""


__all__ = [
    "LstmkitWarning",
    "LstmkitError",
    "ShapeError",
    "InputValueError",
    "DataError",
    "ConfigError",
    "ModelFileError",
]
