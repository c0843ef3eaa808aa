"""The request and response bodies of ``lstmkit serve`` (pydantic v2) and the one-line error messages.

Requests are strict: unknown fields are refused (``extra="forbid"``), ``seq`` is a JSON integer
``>= 1``, numbers must be finite (``allow_inf_nan=False``; the JSON parser refuses the ``NaN`` and
``Infinity`` tokens before pydantic sees them). Every refusal becomes one line that names the field,
what was expected and what was found (:func:`describe_errors`).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

STREAM_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,200}$"
STREAM_ID = re.compile(r"[A-Za-z0-9._:@-]{1,200}")
STREAM_ID_RULE = "1-200 characters of A-Z a-z 0-9 . _ : @ -"
MAX_SEQ = 2**63 - 1  # the stores keep seq as a signed 64-bit integer
MAX_INT = 2**63 - 1


def _whole_number(value: Any) -> Any:
    """A JSON integer, or a number with no fraction (``3.0``: an integer to JSON Schema); never a
    string or a boolean."""
    if isinstance(value, (str, bytes, bool)):
        raise ValueError(f"expected a whole number, found {shown(value)}")
    return value


Seq = Annotated[int, Field(ge=1, le=MAX_SEQ), BeforeValidator(_whole_number)]
TokenId = Annotated[int, Field(strict=True, ge=-MAX_INT - 1, le=MAX_INT)]
FLOAT32_MAX = 3.4028234663852886e38  # the model computes in float32: a larger number would become infinite
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
Text = Annotated[str, Field(strict=True)]
_INPUT_TAGS = {list: "list", int: "int", float: "float", str: "str", dict: "dict"}


def _input_tag(value: Any) -> str | None:
    """The input's member of the union, by its JSON type (a boolean or null has none): one member is
    validated, not each in turn (3x faster on lists of numbers)."""
    return _INPUT_TAGS.get(type(value))


# a list of numbers is validated as floats (the app turns whole numbers back into token ids for token models)
InputValue = Annotated[Union[Annotated[list[Number], Tag("list")], Annotated[TokenId, Tag("int")],
                             Annotated[Number, Tag("float")], Annotated[Text, Tag("str")],
                             Annotated[dict[str, Number], Tag("dict")]], Discriminator(_input_tag)]

INPUT_RULE = ("a number, a list of numbers (one step's features), a token id (an integer), a list of token ids, "
              "a text, or a {column: number} object")


class Event(BaseModel):
    """One time step of one stream."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={
        "examples": [{"seq": 1, "input": [0.1, 0.2, 0.3]}, {"input": [0.4, 0.5, 0.6]}]})

    seq: Optional[Seq] = Field(
        None, description="The event's sequence number: the stream's first event is 1. `null` or absent: the "
        "next number. The last applied number again is a repeat (answered from the recorded result, not "
        "stepped twice); any other number is refused with 409.")
    input: InputValue = Field(
        description="One time step of the model's input: a list of numbers (the features of one step; a "
        "single number for a model with one feature), an integer token id (models that start with an "
        "Embedding), token ids or a text (text models), or `{column: number}` (forecasters). See "
        "`GET /v1/model` for what this model takes.")


class EventsRequest(BaseModel):
    """Events of one stream, applied in order and atomically: all of them or none."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={
        "examples": [{"events": [{"seq": 1, "input": [0.1, 0.2, 0.3]}, {"seq": 2, "input": [0.4, 0.5, 0.6]}]}]})

    events: list[Event] = Field(min_length=1, description="At least one event; at most the server's "
                                "`--max-events` (default 4096; more is refused with 413).")


class EventResult(BaseModel):
    """One event's answer: its sequence number and the model's output at that step."""

    seq: int = Field(description="The number this event got (the one sent, or the next one when `seq` was null).")
    output: Any = Field(description="The model's output on the stream's first `seq` steps (a list of numbers "
                        "for a Sequential model; see `GET /v1/model`).")


class EventsResponse(BaseModel):
    """One result per event, in the order of the request."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"results": [{"seq": 1, "output": [0.0123, -0.0456]}, {"seq": 2, "output": [0.0211, -0.0502]}]}]})

    results: list[EventResult]


class StreamResponse(BaseModel):
    """A stream's position. An unknown stream is answered with ``seq`` 0 and ``updated`` null."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"stream_id": "sensor-1", "seq": 2, "updated": 1767225600.25}]})

    stream_id: str
    seq: int = Field(description="The last applied sequence number (0: no event yet, or an unknown stream).")
    updated: Optional[float] = Field(description="Unix time of the last applied event; null for an unknown stream.")
    state: Optional[dict[str, list[float]]] = Field(
        None, description="Only with `?include_state=true`: the recurrent state, `{name: numbers}` "
        "(e.g. `layer0.h`, `layer0.c`); zeros for an unknown stream.")


class ResetResponse(BaseModel):
    """The stream's memory is forgotten; its next event is seq 1."""

    stream_id: str
    seq: int = Field(0, description="Always 0 after a reset.")
    existed: bool = Field(description="Whether the stream had any state before the reset.")


class DeleteResponse(BaseModel):
    """The stream is removed from the store (deleting an unknown stream is not an error)."""

    stream_id: str
    deleted: bool = Field(description="True when the stream existed.")


class ErrorResponse(BaseModel):
    """Every error: one line naming the field or the cause, what was expected and what was found."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"error": "stream 'sensor-1': seq 5 refused; the next is 3 (last applied 2); nothing was applied"}]})

    error: str
    detail: Optional[list[dict[str, Any]]] = Field(None, description="For 422: pydantic's list of errors.")


class HealthResponse(BaseModel):
    """The process answers."""

    status: str = Field(examples=["ok"])


class ReadyResponse(BaseModel):
    """The store answers (503 with ``error`` otherwise)."""

    status: str = Field(examples=["ready"])
    streams: Optional[int] = Field(None, description="Streams kept in the store.")
    error: Optional[str] = None


class ModelResponse(BaseModel):
    """What the model takes and gives (:meth:`StreamEngine.info`) and the server's limits."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "kind": "sequential", "signature": "3f1c...", "input": {"kind": "vector", "dtype": "float32", "shape": [3]},
        "output": {"kind": "vector", "dtype": "float32", "shape": [2]}, "layers": ["LSTM", "Dense"],
        "state": {"layer0.h": [8], "layer0.c": [8]}, "store": "sqlite:///model.streams.db", "max_streams": None,
        "ttl": None, "limits": {"max_events": 4096, "max_body_bytes": 1048576, "max_batch_delay_ms": 2.0,
                                "max_batch_events": 8192}}]})

    kind: str
    signature: str
    input: dict[str, Any]
    output: dict[str, Any]
    limits: dict[str, Any]


# ---------------------------------------------------------------------------------------- messages
_FIELDS = {"events", "seq", "input", "stream_id", "include_state"}
_WHERE = {"body", "path", "query", "header"}


def input_schema(spec: Any) -> dict[str, Any] | None:
    """The JSON schema of one event's ``input`` for the served model (``engine.info()["input"]``), or
    None when the spec is not one of the kinds known here (the generic schema is kept)."""
    if not isinstance(spec, dict):
        return None
    kind = spec.get("kind")
    shape = spec.get("shape")
    numbers = None
    if kind in ("vector", "row") and isinstance(shape, list) and len(shape) == 1 and isinstance(shape[0], int):
        n = shape[0]
        number = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
        numbers = {"type": "array", "items": number, "minItems": n, "maxItems": n,
                   "description": f"{n} number(s): one step's features"}
        options: list[dict[str, Any]] = [numbers]
        if n == 1:
            options.insert(0, number)
        columns = spec.get("columns")
        if kind == "row" and isinstance(columns, list) and columns:
            options.append({"type": "object", "properties": {str(c): number for c in columns},
                            "required": [str(c) for c in columns], "additionalProperties": False})
        return options[0] if len(options) == 1 else {"anyOf": options}
    vocabulary = spec.get("vocabulary")
    if kind in ("token", "tokens") and isinstance(vocabulary, int) and vocabulary > 0:
        low = 1 if spec.get("padding_id") == 0 else 0
        token = {"type": "integer", "minimum": low, "maximum": vocabulary - 1}
        if kind == "token":
            return {**token, "description": f"one token id, {low}..{vocabulary - 1}"}
        return {"anyOf": [token, {"type": "array", "items": token, "minItems": 1}, {"type": "string", "minLength": 1}]}
    return None


def input_kinds(spec: Any) -> tuple[frozenset[type], str] | None:
    """``(accepted Python types of one event's input, what to say otherwise)`` for the served model's
    input spec, or None to leave every input to the engine (kinds not known here)."""
    if not isinstance(spec, dict):
        return None
    kind = spec.get("kind")
    shape = spec.get("shape")
    n = shape[0] if isinstance(shape, list) and len(shape) == 1 else "the model's"
    if kind == "vector":
        return frozenset({int, float, list, str}), f"{n} number(s) per step, as a list (see GET /v1/model)"
    if kind == "token":
        return frozenset({int}), "one token id (an integer; see GET /v1/model)"
    if kind == "row":
        return (frozenset({int, float, list, dict}),
                "numbers in column order, a number (one column) or a {column: number} object (see GET /v1/model)")
    if kind == "tokens":
        return frozenset({int, list, str}), "a token id, a list of token ids or a text (see GET /v1/model)"
    return None


def shown(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it (JSON), cut to ``limit`` characters."""
    try:
        text = json.dumps(value, allow_nan=True, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _location(loc: tuple[Any, ...]) -> tuple[str, tuple[Any, ...], bool]:
    """``(text, kept, cut)``: the field path as ``events[0].input`` (a path or query parameter as
    ``stream_id (path)``), the loc items kept, and whether a union member's tag was cut off."""
    where = ""
    items = list(loc)
    if items and items[0] in _WHERE:
        where = items.pop(0)
    kept: list[Any] = []
    cut = False
    for item in items:
        if isinstance(item, int) or item in _FIELDS:
            kept.append(item)
        else:  # a union member's tag ('list[float]', 'function-after[...]') or an unknown field name
            cut = True
            kept.append(item)
            break
    text = ""
    for item in kept[:-1] if cut else kept:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else str(item))
    if where in ("path", "query", "header"):
        text = f"{text} ({where})" if text else where
    return text or "body", tuple(kept), cut


def _path(items: Any) -> str:
    text = ""
    for item in items:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else str(item))
    return text


def _strip(loc: Any) -> tuple[Any, ...]:
    loc = tuple(loc)
    return loc[1:] if loc and loc[0] in _WHERE else loc


def _expected(msg: str) -> str:
    """pydantic's ``Input should be greater than or equal to 1`` as ``a value >= 1``."""
    for prefix in ("Input should be ", "Value should be ", "Input should have ", "List should have "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
            break
    else:
        msg = msg[:1].lower() + msg[1:]
    for words, sign in (("greater than or equal to ", ">= "), ("less than or equal to ", "<= "),
                        ("greater than ", "> "), ("less than ", "< ")):
        if msg.startswith(words):
            return "a value " + sign + msg[len(words):]
    return msg


_MISSING = object()


def _lookup(source: Any, path: Any) -> Any:
    for item in path:
        try:
            source = source[item]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return source


def describe_errors(errors: list[dict[str, Any]], source: Any = None) -> str:
    """One line for a list of pydantic errors (the first problem; an event's input reported once, as
    a whole, looked up in ``source``, the validated body, when given)."""
    if not errors:
        return "body: invalid"
    first = errors[0]
    text, kept, cut = _location(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    value = first.get("input")
    if kind == "extra_forbidden":
        name = kept[-1] if kept else "?"
        parent = text if cut else text.rsplit(".", 1)[0] if "." in text else "body"
        parent = parent if parent != str(name) else "body"
        return f"{parent}: unknown field {str(name)!r}; allowed: " + (
            "seq, input" if parent.startswith("events[") else "events")
    if kind == "missing":
        return f"{text}: required field missing"
    if text.startswith("stream_id"):
        return f"{text}: expected {STREAM_ID_RULE}, found {shown(value)}"
    if kind == "value_error":  # our own validators' messages already say what was expected and found
        return f"{text}: {str(first.get('msg', '')).removeprefix('Value error, ')}"
    if kind == "int_from_float":
        return f"{text}: expected a whole number, found {shown(value)}"
    if "input" in kept:
        # the input union: one message for all of its members, naming the whole value
        at = kept.index("input") + 1
        prefix = kept[:at]
        same = [e for e in errors if _strip(e.get("loc", ()))[:at] == prefix]
        whole = _lookup(source, prefix) if source is not None else _MISSING
        if whole is _MISSING:
            whole = next((e.get("input") for e in same if len(_strip(e.get("loc", ()))) <= at + 1), value)
        text = _path(prefix)
        if any(e.get("type") in ("less_than_equal", "greater_than_equal") and _strip(e.get("loc", ()))[at:] == ("int",)
               for e in same):
            return f"{text}: integers must be within -2^63..2^63-1 (write larger numbers as decimals), found {shown(whole)}"
        if any(e.get("type") in ("finite_number", "less_than_equal", "greater_than_equal") for e in same):
            return (f"{text}: numbers must be finite and within +-3.4e38 (float32), found {shown(whole)}")
        return f"{text}: expected {INPUT_RULE}, found {shown(whole)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{text}: expected a JSON object, found {shown(value)}"
    if kind == "too_short" and text == "events":
        return "events: expected at least 1 event, found 0"
    return f"{text}: expected {_expected(str(first.get('msg', 'a valid value')))}, found {shown(value)}"


def _plain(value: Any) -> Any:
    """A JSON scalar as it is (finite numbers, short strings); anything else as its shown text."""
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, str) and len(value) <= 200:
        return value
    return shown(value, 200)


def error_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pydantic's errors, JSON-ready (type, loc, msg, input), at most 20."""
    out = []
    for e in errors[:20]:
        out.append({"type": str(e.get("type", "")), "loc": [x if isinstance(x, (int, str)) else str(x) for x in e.get("loc", ())],
                    "msg": str(e.get("msg", "")), "input": _plain(e.get("input"))})
    return out


__all__ = ["Event", "EventsRequest", "EventsResponse", "EventResult", "StreamResponse", "ResetResponse",
           "DeleteResponse", "ErrorResponse", "HealthResponse", "ReadyResponse", "ModelResponse",
           "describe_errors", "error_details", "shown", "input_schema", "input_kinds", "STREAM_ID", "STREAM_ID_PATTERN", "STREAM_ID_RULE"]
