"""Symbolic tensors for the Functional API: ``Input(shape)`` and layers called on them.

In Keras's Functional API a model is written by calling layers on placeholders::

    inputs = Input(shape=(None, 8))                 # a KerasTensor, shape (None, None, 8)
    x = LSTM(16, return_sequences=True)(inputs)     # another KerasTensor, (None, None, 16)
    outputs = Dense(1)(x)
    model = Model(inputs, outputs)

Calling a layer on a :class:`KerasTensor` runs no math. :func:`symbolic_call` builds the layer from the
input shapes (shapes here never include the batch axis; ``None`` is an unknown length), asks it for
its output shape(s), and records a :class:`Node` (the layer, the call's arguments with their tensors,
the output tensors). :class:`~lstmkit.models.functional.Functional` later walks the nodes and runs
each layer on real tensors.

The protocol a layer follows to be callable here (every lstmkit layer does):

* ``build(*shapes)`` and ``compute_output_shape(*shapes, **flags)``, where ``shapes`` mirror the
  positional tensor arguments (a list argument gives a list of shapes) and ``flags`` are the call's
  non-tensor keyword arguments that ``compute_output_shape`` names (e.g. ``return_attention_scores``);
* a recurrent layer with ``return_state=True`` returns ``[output, *states]`` (shapes from
  ``state_shapes()``);
* masks: a layer whose ``forward`` takes ``mask`` gets the masks of its first argument; parameters
  named ``<arg>_mask`` (``query_mask``, ``value_mask``) get the mask of argument ``<arg>``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from lstmkit.errors import ConfigError, LstmkitError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.layers.base import Layer

_DTYPES = {"float32", "float64", "float16", "bfloat16", "int32", "int64", "int16", "int8", "uint8", "bool"}


def _format(shape: tuple) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


class KerasTensor:
    """A placeholder for a batch of tensors in a Functional graph (Keras's ``KerasTensor``).

    Attributes:
        shape: the shape *with* the batch axis, as Keras gives it, e.g. ``(None, 100, 64)``.
        dtype: ``"float32"``, ``"int64"`` ...
        name: a readable name (the producing layer's, with the output index).
        node: the :class:`Node` that produced it (``None`` only for an input being constructed).
        index: which output of ``node`` it is.
    """

    def __init__(self, shape: tuple, dtype: str = "float32", *, node: "Node | None" = None, index: int = 0,
                 name: str | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name or "keras_tensor"

    @property
    def sample_shape(self) -> tuple:
        """The shape of one sample (no batch axis), as lstmkit's layers take it."""
        return self.shape[1:]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def layer(self) -> "Layer | None":
        return None if self.node is None else self.node.layer

    def __repr__(self) -> str:
        return f"<KerasTensor shape={_format(self.shape)}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self) -> bool:
        raise ConfigError(
            f"a KerasTensor ({self.name}) is a placeholder in a Functional graph: it has no value to test; "
            "use it as a layer's input"
        )

    def __len__(self) -> int:
        raise ConfigError(f"a KerasTensor ({self.name}) has no length; use .shape")

    def __iter__(self):
        raise ConfigError(f"a KerasTensor ({self.name}) cannot be iterated; use layers on it")

    # Arithmetic on placeholders would need a layer per operator (Keras's ops); say so in one line.
    def _no_ops(self, *_: Any) -> Any:
        raise ConfigError(
            f"an operator or index on a KerasTensor ({self.name}): lstmkit has no symbolic ops; use layers "
            "(Add, Subtract, Multiply, Dot, Concatenate, Reshape, Permute ...)"
        )

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __matmul__ = __getitem__ = _no_ops


@dataclass(eq=False)
class Node:
    """One call of a layer in a Functional graph: ``outputs = layer(*args, **kwargs)``.

    ``args``/``kwargs`` keep the call as written, with :class:`KerasTensor` objects where tensors go
    (possibly inside lists, e.g. ``initial_state=[h, c]``); ``inputs`` lists those tensors in order.
    """

    layer: "Layer"
    args: tuple
    kwargs: dict
    outputs: list[KerasTensor] = field(default_factory=list)
    inputs: list[KerasTensor] = field(default_factory=list)
    single_output: bool = True


def flatten_tensors(obj: Any) -> list[KerasTensor]:
    """Every :class:`KerasTensor` in a nest of lists, tuples and dicts, in order."""
    if isinstance(obj, KerasTensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in flatten_tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in flatten_tensors(item)]
    return []


def has_symbolic(args: tuple, kwargs: dict) -> bool:
    return bool(flatten_tensors(args)) or bool(flatten_tensors(kwargs))


def map_structure(fn: Callable[[KerasTensor], Any], obj: Any) -> Any:
    """``obj`` with each :class:`KerasTensor` replaced by ``fn(tensor)`` (lists, tuples, dicts kept)."""
    if isinstance(obj, KerasTensor):
        return fn(obj)
    if isinstance(obj, list):
        return [map_structure(fn, item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(map_structure(fn, item) for item in obj)
    if isinstance(obj, dict):
        return {k: map_structure(fn, v) for k, v in obj.items()}
    return obj


@lru_cache(maxsize=None)
def call_parameters(cls: type) -> frozenset[str]:
    """The keyword names a layer class's ``forward`` takes (cached per class)."""
    try:
        params = inspect.signature(cls.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return frozenset()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return frozenset(params) | {"**"}
    return frozenset(params)


@lru_cache(maxsize=None)
def _parameters(method: Any) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(method).parameters)
    except (TypeError, ValueError):  # pragma: no cover
        return frozenset()


@lru_cache(maxsize=None)
def _shape_flags(cls: type) -> frozenset[str]:
    try:
        params = inspect.signature(cls.compute_output_shape).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return frozenset()
    return frozenset(name for name, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
                     or (p.default is not inspect.Parameter.empty))


def _producers(tensors: list[KerasTensor]) -> str:
    names = []
    for t in tensors:
        layer = t.layer
        what = f"{layer.name!r} ({type(layer).__name__})" if layer is not None else repr(t.name)
        names.append(f"{what} with output shape {_format(t.shape)}")
    return ", ".join(names) if names else "no tensor"


def _compatible(built: tuple, shape: tuple) -> bool:
    return len(built) == len(shape) and all(b is None or s is None or b == s for b, s in zip(built, shape))


def symbolic_call(layer: "Layer", args: tuple, kwargs: dict) -> Any:
    """Call ``layer`` on :class:`KerasTensor` arguments: build it, infer its outputs, record the :class:`Node`.

    Returns one :class:`KerasTensor`, or a list for a layer with several outputs (``return_state``).
    A layer that cannot take its inputs raises a :class:`~lstmkit.errors.ShapeError` naming this layer,
    the layer(s) whose outputs it was given, and their shapes.
    """
    kwargs = dict(kwargs)
    kwargs.pop("training", None)  # Keras's training flag: lstmkit layers follow model.train()/eval()
    accepted = call_parameters(type(layer))
    for key in kwargs:
        if key not in accepted and "**" not in accepted:
            raise ConfigError(f"{type(layer).__name__} '{layer.name}' call: unknown argument {key!r}")
    if not args:
        raise ConfigError(f"{type(layer).__name__} '{layer.name}' call: expected the input tensor(s) as the "
                          "first argument, found none")
    first = flatten_tensors(args[0])
    if not first:
        raise ConfigError(f"{type(layer).__name__} '{layer.name}' call: expected a KerasTensor (or a list of them) "
                          f"as the first argument, found {type(args[0]).__name__}")
    mixed = [a for a in _plain_tensors(args) if a is not None]
    if mixed:
        raise ConfigError(f"{type(layer).__name__} '{layer.name}' call: mixes KerasTensors with real tensors; "
                          "use Input(...) placeholders for every input")
    shapes = [map_structure(lambda t: t.sample_shape, a) for a in args]
    flags = {k: v for k, v in kwargs.items() if k in _shape_flags(type(layer)) and not flatten_tensors(v)}
    # Tensor keywords that build / compute_output_shape name (MultiHeadAttention's key=) give their shapes.
    kw_shapes = {k: map_structure(lambda t: t.sample_shape, v) for k, v in kwargs.items() if flatten_tensors(v)}
    build_kw = _named_shapes(kw_shapes, _parameters(type(layer).build))
    shape_kw = _named_shapes(kw_shapes, _parameters(type(layer).compute_output_shape))
    inputs = flatten_tensors(args) + flatten_tensors(kwargs)
    if getattr(layer, "stateful", False) is True and _batch_of(first) is None:
        raise ConfigError(
            f"{type(layer).__name__} '{layer.name}' is stateful=True, so its batch size must be static (Keras's rule), "
            f"found the dynamic batch size of {_format(first[0].shape)}; give Input(shape=..., batch_size=N)"
        )
    try:
        if not layer.built:
            layer.build(*shapes, **build_kw)
        elif isinstance(args[0], KerasTensor) and layer.built_input_shape is not None \
                and isinstance(layer.built_input_shape, tuple) \
                and not _compatible(layer.built_input_shape, args[0].sample_shape):
            raise ShapeError(
                f"it was built for inputs {_format((None, *layer.built_input_shape))}"
            )
        out_shapes = layer.compute_output_shape(*shapes, **shape_kw, **flags)
        if getattr(layer, "return_state", False) is True and hasattr(layer, "state_shapes"):
            out_shapes = [out_shapes, *layer.state_shapes()]
    except LstmkitError as exc:
        message = str(exc)
        raise ShapeError(
            f"layer {layer.name!r} ({type(layer).__name__}) cannot take the output of {_producers(first)}: {message}"
        ) from None
    single = not isinstance(out_shapes, list)
    out_list = [out_shapes] if single else out_shapes
    node = Node(layer, tuple(args), kwargs, inputs=inputs, single_output=single)
    batch = _batch_of(first)
    node.outputs = [
        KerasTensor((batch, *tuple(s)), "float32", node=node, index=i,
                    name=layer.name if single else f"{layer.name}:{i}")
        for i, s in enumerate(out_list)
    ]
    layer._inbound_nodes.append(node)
    return node.outputs[0] if single else list(node.outputs)


def _named_shapes(shapes: dict[str, Any], params: frozenset[str]) -> dict[str, Any]:
    """``{key: shape}`` -> the parameter names a method takes (``key`` or Keras's ``key_shape``)."""
    out = {}
    for name, shape in shapes.items():
        for candidate in (name, f"{name}_shape"):
            if candidate in params:
                out[candidate] = shape
                break
    return out


def _batch_of(tensors: list[KerasTensor]) -> int | None:
    sizes = {t.shape[0] for t in tensors if t.shape and t.shape[0] is not None}
    return sizes.pop() if len(sizes) == 1 else None


def _plain_tensors(obj: Any) -> list[Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _plain_tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _plain_tensors(item)]
    return []


def check_dtype(dtype: Any, argument: str = "dtype") -> str:
    """A Keras dtype name (``"float32"``, ``"int32"`` ...) from a string or a torch dtype."""
    if dtype is None:
        return "float32"
    if not isinstance(dtype, str):
        dtype = str(dtype).replace("torch.", "")
    if dtype not in _DTYPES:
        raise ConfigError(f"{argument}: expected one of {sorted(_DTYPES)}, found {dtype!r}")
    return dtype
