"""Keras 3 constructor arguments that lstmkit's layers accept by name but do not implement.

Each new layer declares the Keras arguments it leaves out with the value that means "not used"
(``groups=1``, ``kernel_regularizer=None`` ...). Passing that value is accepted, so a Keras config
copies across; any other value, or an argument Keras's layer does not take either, is one line:

>>> from lstmkit.layers.keras_args import split_unsupported
>>> split_unsupported("Conv1D", {"name": "c", "groups": 1}, {"groups": 1})
{'name': 'c'}
>>> split_unsupported("Conv1D", {"groups": 2}, {"groups": 1})
Traceback (most recent call last):
...
lstmkit.errors.ConfigError: groups: Conv1D in lstmkit does not support groups=2 (only the Keras default 1)
"""

from __future__ import annotations

from typing import Any

from lstmkit.errors import ConfigError

# Keyword arguments of lstmkit's Layer base class (``name``, ``input_shape``, ``trainable``).
BASE_ARGUMENTS = ("name", "input_shape", "trainable")

# Arguments every Keras layer takes, with their "not used" value.
KERAS_LAYER_DEFAULTS: dict[str, Any] = {"dtype": None, "activity_regularizer": None, "autocast": True}


def split_unsupported(layer: str, kwargs: dict[str, Any], unsupported: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` without the Keras arguments at their defaults; a ConfigError for anything else."""
    defaults = {**KERAS_LAYER_DEFAULTS, **unsupported}
    kept: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in BASE_ARGUMENTS:
            kept[key] = value
        elif key in defaults:
            default = defaults[key]
            ok = value is default or (type(value) is type(default) and value == default)
            if not ok and key == "data_format" and value == "channels_last":
                ok = True  # lstmkit is channels-last, Keras's default
            if not ok:
                raise ConfigError(
                    f"{key}: {layer} in lstmkit does not support {key}={value!r:.60} (only the Keras default {default!r})"
                )
        else:
            raise ConfigError(f"{key}: {layer} does not take this argument (found {key}={value!r:.60})")
    return kept
