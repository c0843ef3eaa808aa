"""Small typed checks of a model file's metadata, shared by every loader.

The container's ``sha256`` (format version 2 on) already rejects an edited header, but files of
format version 1 carry no metadata checksum, so each loader checks what it reads against its own
schema and against the weights before using it. Every failure is one line::

    model file 'm.lstmkit': metadata field 'labels': expected 2 labels (the output layer's units), found 5

>>> from lstmkit.util.schema import FileSchema
>>> s = FileSchema("m.lstmkit")
>>> s.int_in({"context": 96}, "context", "params", low=1)
96
>>> s.int_in({"context": -3}, "context", "params", low=1)
Traceback (most recent call last):
...
lstmkit.errors.ModelFileError: model file 'm.lstmkit': metadata field 'params.context': expected an integer >= 1, found -3
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from lstmkit.errors import ModelFileError

_MISSING = object()


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else json.dumps(value)[:limit + 1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    return {dict: "a JSON object", list: "a JSON array", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


class FileSchema:
    """Checks of one file's metadata; every failure is a :class:`ModelFileError` naming the file and the field.

    ``where`` arguments name the enclosing field (``"params"`` makes ``key`` read ``params.key``).
    """

    def __init__(self, path: Any, what: str = "model file") -> None:
        self.path = str(path)
        self.what = what

    # ------------------------------------------------------------------ the one message
    def error(self, field: str, expected: str, found: Any) -> ModelFileError:
        return ModelFileError(f"{self.what} {self.path!r}: metadata field {field!r}: expected {expected}, found {found}")

    def fail(self, field: str, expected: str, found: Any) -> None:
        raise self.error(field, expected, found)

    @staticmethod
    def name(key: str, where: str | None) -> str:
        return f"{where}.{key}" if where else key

    # ------------------------------------------------------------------ raw JSON fields
    def json(self, meta: dict[str, str], key: str, expected: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        """Metadata field ``key`` decoded as JSON, of type ``expected``."""
        if key not in meta:
            if default is not _MISSING:
                return default
            self.fail(key, "a field holding JSON", "it missing")
        try:
            value = json.loads(meta[key])
        except (json.JSONDecodeError, TypeError):
            self.fail(key, "JSON", _show(meta[key]))
        return self.of_type(value, key, expected)

    def of_type(self, value: Any, field: str, expected: type | tuple[type, ...]) -> Any:
        types = expected if isinstance(expected, tuple) else (expected,)
        if object in types:
            return value
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types
                                               and (int in types or float in types))
        if not ok:
            self.fail(field, " or ".join(_type_name(t()) if t is not type(None) else "null" for t in types),
                      _type_name(value))
        return value

    # ------------------------------------------------------------------ fields of a JSON object
    def obj(self, value: Any, field: str) -> dict[str, Any]:
        return self.of_type(value, field, dict)

    def keys(self, d: dict[str, Any], required: Iterable[str], where: str) -> dict[str, Any]:
        """``d`` must be an object holding every key in ``required``."""
        self.obj(d, where)
        missing = [k for k in required if k not in d]
        if missing:
            self.fail(self.name(missing[0], where), "a value", "it missing")
        return d

    def get(self, d: dict[str, Any], key: str, where: str | None, default: Any = _MISSING) -> Any:
        if key not in d:
            if default is not _MISSING:
                return default
            self.fail(self.name(key, where), "a value", "it missing")
        return d[key]

    def int_in(self, d: dict[str, Any], key: str, where: str | None = None, *, low: int | None = None,
               high: int | None = None, optional: bool = False, default: Any = _MISSING) -> int | None:
        """An integer in ``[low, high]`` (``None`` allowed when ``optional``)."""
        value = self.get(d, key, where, None if optional and default is _MISSING else default)
        if value is None and optional:
            return None
        field = self.name(key, where)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "an integer", _show(value))
        if (low is not None and value < low) or (high is not None and value > high):
            rng = (f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]")
            self.fail(field, f"an integer {rng}", value)
        return value

    def number_in(self, d: dict[str, Any], key: str, where: str | None = None, *, low: float | None = None,
                  high: float | None = None, high_open: bool = False, low_open: bool = False,
                  optional: bool = False, default: Any = _MISSING) -> float | None:
        """A finite number in the given range."""
        value = self.get(d, key, where, None if optional and default is _MISSING else default)
        if value is None and optional:
            return None
        field = self.name(key, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(field, "a finite number", _show(value))
        bad = ((low is not None and (value < low or (low_open and value == low)))
               or (high is not None and (value > high or (high_open and value == high))))
        if bad:
            lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
            self.fail(field, f"a number {' and '.join(x for x in (lo, hi) if x)}", value)
        return float(value)

    def boolean(self, d: dict[str, Any], key: str, where: str | None = None, default: Any = _MISSING) -> bool:
        value = self.get(d, key, where, default)
        if not isinstance(value, bool):
            self.fail(self.name(key, where), "true or false", _show(value))
        return value

    def choice(self, d: dict[str, Any], key: str, choices: Sequence[Any], where: str | None = None,
               default: Any = _MISSING) -> Any:
        value = self.get(d, key, where, default)
        if value not in choices:
            self.fail(self.name(key, where), "one of " + ", ".join(map(repr, choices)), _show(value))
        return value

    def str_list(self, value: Any, field: str, *, min_len: int = 0, unique: bool = True) -> list[str]:
        """A JSON array of strings (at least ``min_len``, no repeats when ``unique``)."""
        return self._list(value, field, (str,), "strings", min_len, unique)

    def label_list(self, value: Any, field: str, *, min_len: int = 2) -> list[Any]:
        """A JSON array of distinct labels (strings or integers)."""
        return self._list(value, field, (str, int), "labels (strings or integers)", min_len, True)

    def _list(self, value: Any, field: str, types: tuple[type, ...], noun: str, min_len: int, unique: bool) -> list:
        if not isinstance(value, list):
            self.fail(field, f"a JSON array of {noun}", _type_name(value))
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, types):
                self.fail(f"{field}[{i}]", noun.rstrip("s").split(" (")[0] if len(types) == 1 else "a string or an integer",
                          _show(v))
        if len(value) < min_len:
            self.fail(field, f"at least {min_len} {noun.split(' (')[0]}", f"{len(value)}")
        if unique and len(set(map(repr, value))) != len(value):
            seen: set[str] = set()
            dup = next(v for v in value if repr(v) in seen or seen.add(repr(v)))  # type: ignore[func-returns-value]
            self.fail(field, f"distinct {noun.split(' (')[0]}", f"{dup!r} twice")
        return value

    # ------------------------------------------------------------------ against the weights
    def equals(self, field: str, value: Any, expected: Any, because: str) -> None:
        """``value`` (read from ``field``) must equal ``expected`` (what ``because`` says it must be)."""
        if value != expected:
            self.fail(field, f"{expected} ({because})", value)

    def recurrent_layers(self, tensors: dict[str, Any], prefix: str, field: str, value: Any) -> None:
        """``value`` (read from ``field``) must be the number of recurrent layers stored as ``{prefix}weight_hh_l<k>``.

        Checked before a network is built from the metadata, so an edited layer count is one line
        rather than a build of millions of layers.
        """
        found = sum(1 for name in tensors if re.fullmatch(re.escape(prefix) + r"weight_hh_l\d+", name))
        if found:
            self.equals(field, value, found, f"the recurrent layers in the weights ({prefix}weight_hh_l*)")

    def shape(self, tensors: dict[str, Any], name: str, expected: Sequence[int], because: str) -> None:
        """Weight ``name`` must exist with ``expected`` shape (what the metadata ``because`` says)."""
        if name not in tensors:
            raise ModelFileError(f"{self.what} {self.path!r}: weight {name!r} is missing ({because} needs it)")
        found = tuple(tensors[name].shape)
        if found != tuple(expected):
            raise ModelFileError(
                f"{self.what} {self.path!r}: weight {name!r} has shape {found}, {because} needs {tuple(expected)}"
            )

    def state_matches(self, tensors: dict[str, Any], state: dict[str, Any], because: str) -> None:
        """``tensors`` must hold exactly ``state``'s names, each with its shape."""
        missing = sorted(set(state) - set(tensors))
        unexpected = sorted(set(tensors) - set(state))
        if missing or unexpected:
            raise ModelFileError(
                f"{self.what} {self.path!r}: weights do not match {because} "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        for name in sorted(state):
            self.shape(tensors, name, tuple(state[name].shape), because)


__all__ = ["FileSchema"]
