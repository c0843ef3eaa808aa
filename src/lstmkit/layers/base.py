"""The base class every Keras-style layer derives from.

A layer is a ``torch.nn.Module`` with a Keras life cycle:

* ``__init__`` only stores hyper-parameters (and builds weights when their shapes need no input);
* ``build(input_shape)`` creates the weights once the input shape is known (``input_shape`` never
  includes the batch axis; ``None`` marks an unknown length);
* ``call(x, mask=None)`` computes the output; ``forward`` builds on first use, then calls it;
* ``compute_output_shape`` / ``compute_mask`` let a model infer shapes and pass masks on;
* ``get_config()`` returns JSON-able hyper-parameters, and ``from_config`` rebuilds the layer from
  them, which is how a model is saved without pickle.

Subclasses register themselves by class name so that a saved config can be turned back into layers.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import torch

from lstmkit.errors import ConfigError, ShapeError

Shape = tuple  # a shape without the batch axis; entries are int or None

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")

LAYER_REGISTRY: dict[str, type["Layer"]] = {}


def snake_case(name: str) -> str:
    """``"SimpleRNN"`` -> ``"simple_rnn"``, ``"LSTM"`` -> ``"lstm"``, ``"Conv1D"`` -> ``"conv1d"`` (Keras 3's
    default layer names: a digit does not start a new word)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def format_shape(shape: Shape | None, *, batch: str = "None") -> str:
    """``(100, 128)`` -> ``"(None, 100, 128)"``; with ``batch="N"`` and unknown dims as ``L``: ``"(N, L, 128)"``."""
    if shape is None:
        return "?"
    dims = [batch]
    for d in shape:
        if d is None:
            dims.append("None" if batch == "None" else "L")
        else:
            dims.append(str(d))
    return "(" + ", ".join(dims) + ")"


def found_shape(x: torch.Tensor) -> str:
    """The shape of a batch as it appears in error messages: ``(N, 100, 3)``."""
    return "(" + ", ".join(["N", *(str(d) for d in x.shape[1:])]) + ")" if x.dim() else "()"


def check_positive_int(value: Any, argument: str, *, allow_zero: bool = False) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        want = "an integer >= 0" if allow_zero else "a positive integer"
        raise ConfigError(f"{argument}: expected {want}, found {value!r}")
    return int(value)


def check_rate(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{argument}: expected a float in [0, 1), found {value!r}")
    return float(value)


def check_shape(value: Any, argument: str) -> Shape:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in value
    ):
        raise ConfigError(
            f"{argument}: expected a tuple of positive ints or None (without the batch axis), found {value!r}"
        )
    return tuple(value)


class Layer(torch.nn.Module):
    """Base class of Keras-style layers (see the module docstring for the life cycle).

    Args:
        name: unique name within a model; default: the class name in snake case, numbered by the model.
        input_shape: the input shape without the batch axis, for the first layer of a model.
        trainable: ``False`` freezes the layer's weights.
    """

    supports_masking: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LAYER_REGISTRY[cls.__name__] = cls

    def __init__(self, *, name: str | None = None, input_shape: Any = None, trainable: bool = True) -> None:
        super().__init__()
        if name is not None and (not isinstance(name, str) or not _NAME_RE.match(name)):
            raise ConfigError(
                f"name: expected letters, digits, '_' or '-' (starting with a letter or '_'), found {name!r}"
            )
        if not isinstance(trainable, bool):
            raise ConfigError(f"trainable: expected True or False, found {trainable!r}")
        self._auto_named = name is None
        self.name: str = snake_case(type(self).__name__) if name is None else name
        self.input_shape_arg: Shape | None = None if input_shape is None else check_shape(input_shape, "input_shape")
        self.trainable = trainable
        self.built = False
        self.built_input_shape: Shape | None = None
        self._inbound_nodes: list = []  # Functional graph nodes where this layer was called on KerasTensors

    # ----------------------------------------------------------------- life cycle
    def default_input_shape(self) -> Shape | None:
        """The input shape this layer implies when it is first in a model (e.g. Embedding's ``input_length``)."""
        return self.input_shape_arg

    def build(self, input_shape: Shape) -> None:
        """Create the weights for ``input_shape`` (no batch axis). Subclasses call ``super().build``."""
        self.built = True
        self.built_input_shape = tuple(input_shape)
        if not self.trainable:
            for p in self.parameters():
                p.requires_grad_(False)

    def build_from_input(self, x: torch.Tensor) -> None:
        """Build from a real batch (first call without a known input shape), on that batch's device."""
        self.build(self.generalize_shape(tuple(x.shape[1:])))
        if x.device.type != "cpu":
            self.to(x.device)

    def generalize_shape(self, shape: Shape) -> Shape:
        """The input shape to build from when only a batch is known: time axes become ``None``."""
        if len(shape) <= 1:
            return shape
        return (*([None] * (len(shape) - 1)), shape[-1])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def compute_mask(self, inputs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
        """The mask for the next layer: passed on by layers that support masking, else dropped."""
        return mask if self.supports_masking else None

    def call(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the layer (``torch.nn.Module.__call__``), or, on :class:`~lstmkit.layers.symbolic.KerasTensor`
        inputs, add it to a Functional graph (:func:`~lstmkit.layers.symbolic.symbolic_call`)."""
        if args and isinstance(args[0], torch.Tensor) and "training" not in kwargs:
            return super().__call__(*args, **kwargs)
        from lstmkit.layers.symbolic import call_parameters, has_symbolic, symbolic_call

        if has_symbolic(args, kwargs):
            return symbolic_call(self, args, kwargs)
        if "training" in kwargs and "training" not in call_parameters(type(self)):
            kwargs.pop("training")  # Keras's flag; lstmkit layers follow train()/eval()
        return super().__call__(*args, **kwargs)

    def _only_node(self, what: str) -> Any:
        if not self._inbound_nodes:
            raise ConfigError(f"layer {self.name!r} has not been called on a KerasTensor, so it has no {what}")
        if len(self._inbound_nodes) > 1:
            raise ConfigError(f"layer {self.name!r} was called {len(self._inbound_nodes)} times, so it has no single "
                              f"{what}; use the tensors its calls returned")
        return self._inbound_nodes[0]

    @property
    def output(self) -> Any:
        """Keras's ``layer.output``: the KerasTensor(s) its one Functional call returned."""
        node = self._only_node("output")
        return node.outputs[0] if node.single_output else list(node.outputs)

    @property
    def input(self) -> Any:
        """Keras's ``layer.input``: the first argument of its one Functional call."""
        node = self._only_node("input")
        return node.outputs[0] if not node.args else node.args[0]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> Any:
        if not self.built:
            self.build_from_input(x)
        return self.call(x, mask)

    def call_logits(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, str] | None:
        """``(pre-activation, "softmax"|"sigmoid")`` when this layer ends in that activation, else ``None``.

        Training uses it to compute crossentropy from logits (numerically stable), while ``predict``
        still returns probabilities.
        """
        return None

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Layer":
        return cls(**config)

    # ----------------------------------------------------------------- weights
    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters()) + sum(b.numel() for b in self.weight_buffers())

    def weight_buffers(self) -> list[torch.Tensor]:
        """Buffers Keras counts as non-trainable weights (e.g. BatchNormalization's moving statistics)."""
        return []

    def get_weights(self) -> list:
        """The weights as numpy arrays (state-dict order, buffers excluded)."""
        return [p.detach().cpu().numpy().copy() for p in self.parameters()]

    def set_weights(self, weights: list) -> None:
        params = list(self.parameters())
        if len(weights) != len(params):
            raise ShapeError(
                f"set_weights: layer '{self.name}' expected {len(params)} arrays, found {len(weights)}"
            )
        with torch.no_grad():
            for i, (p, w) in enumerate(zip(params, weights)):
                t = torch.as_tensor(w, dtype=p.dtype)
                if tuple(t.shape) != tuple(p.shape):
                    raise ShapeError(
                        f"set_weights: layer '{self.name}' weight {i} expected shape {tuple(p.shape)}, "
                        f"found {tuple(t.shape)}"
                    )
                p.copy_(t)

    def _input_error(self, what: str, x: torch.Tensor) -> ShapeError:
        return ShapeError(f"{type(self).__name__} '{self.name}' input: expected {what}, found {found_shape(x)}")

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def layer_from_config(spec: Any) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": {...}}`` (as written by :func:`layer_to_config`)."""
    if (not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str)
            or not isinstance(spec.get("config"), dict)):
        raise ConfigError(f"layer config: expected {{'class_name': str, 'config': dict}}, found {spec!r:.80}")
    cls = LAYER_REGISTRY.get(spec["class_name"])
    if cls is None:
        raise ConfigError(
            f"layer config: unknown class_name {spec['class_name']!r}; known: {sorted(LAYER_REGISTRY)}"
        )
    return cls.from_config(dict(spec["config"]))


def layer_to_config(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
