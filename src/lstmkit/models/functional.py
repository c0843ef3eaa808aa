"""The Functional API: ``Model(inputs, outputs)`` over a graph of layers called on ``Input`` placeholders.

>>> from lstmkit.layers import Input, LSTM, Dense, Concatenate
>>> from lstmkit.models import Model
>>> seq = Input(shape=(None, 3), name="seq")
>>> meta = Input(shape=(2,), name="meta")
>>> h = LSTM(8)(seq)
>>> out = Dense(1, activation="sigmoid")(Concatenate()([h, meta]))
>>> model = Model([seq, meta], out)
>>> model.output_shape, model.count_params()
((None, 1), 395)
>>> [layer.name for layer in model.layers]
['seq', 'meta', 'lstm', 'concatenate', 'dense']

A :class:`Functional` keeps the graph as the :class:`~lstmkit.layers.symbolic.Node` list recorded while
the layers were called (in an order where every node comes after the nodes it reads), and runs it on
real tensors: each node's arguments get the values computed so far, then the layer runs. Masks travel
with the values as in Keras (``Embedding(mask_zero=True)``, ``Masking``): a layer whose ``forward`` takes
``mask`` gets its first argument's mask, and ``compute_mask`` gives the mask of its output.

Layers used twice (shared layers) are one module with one set of weights; ``model.layers`` lists each
layer once (inputs first, then in graph order), indexable by position or by name. State-dict keys are
``layers.<layer name>.<weight>``. The config saved with the model lists the layers and the calls
(``nodes``), so :meth:`from_config` rebuilds the same graph without pickle.

Inputs to ``model(x)``, ``fit``, ``predict``: one array for a one-input model; a list in the order of
``inputs``; or a dict by input name. Outputs: the structure ``outputs`` was given in (one tensor, a list
or a dict). Targets for ``fit`` follow the outputs' structure (a list, or a dict by output layer name).
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from lstmkit.errors import ConfigError, DataError, ShapeError
from lstmkit.layers.base import Layer, format_shape, found_shape, layer_from_config, layer_to_config, snake_case
from lstmkit.layers.embedding import Embedding
from lstmkit.layers.input import Input, InputLayer
from lstmkit.layers.symbolic import KerasTensor, Node, call_parameters, map_structure
from lstmkit.models.data import as_tensor
from lstmkit.models.model import Model


class LayerList(torch.nn.ModuleDict):
    """A model's layers by name (state-dict keys ``layers.<name>...``), indexed and iterated like Keras's list."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return list(self._modules.values())[key]
        return super().__getitem__(key)

    def __iter__(self):  # type: ignore[override]
        return iter(self._modules.values())

    def __contains__(self, item: Any) -> bool:  # type: ignore[override]
        if isinstance(item, str):
            return item in self._modules
        return any(m is item for m in self._modules.values())


@lru_cache(maxsize=None)
def _positional_names(cls: type) -> tuple[str, ...]:
    params = list(inspect.signature(cls.forward).parameters.values())[1:]
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def _structure(obj: Any, what: str) -> tuple[str, list[KerasTensor], list[str] | None]:
    """``("single"|"list"|"dict", tensors, keys)`` for the ``inputs``/``outputs`` given to ``Model``."""
    if isinstance(obj, KerasTensor):
        return "single", [obj], None
    if isinstance(obj, dict) and obj and all(isinstance(v, KerasTensor) for v in obj.values()):
        if not all(isinstance(k, str) for k in obj):
            raise ConfigError(f"{what}: dict keys must be strings, found {list(obj)!r:.80}")
        return "dict", list(obj.values()), list(obj)
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(v, KerasTensor) for v in obj):
        return "list", list(obj), None
    raise ConfigError(f"{what}: expected a KerasTensor (from Input(...) or a layer call), a list or a dict of them, "
                      f"found {type(obj).__name__}")


class Functional(Model):
    """A model defined by a graph of layers: ``Model(inputs, outputs)`` (see the module docstring).

    Args:
        inputs: an :class:`~lstmkit.layers.Input`, a list of them, or a dict ``{name: Input}``.
        outputs: a KerasTensor computed from the inputs by calling layers, a list or a dict of them.
        name: the model's name (default ``"functional"``).

    Inputs: tensors of shape ``(N, *input.shape[1:])``. Outputs: ``(N, *output.shape[1:])`` each.
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name or "functional")
        self._in_kind, in_tensors, self._in_keys = _structure(inputs, "inputs")
        self._out_kind, out_tensors, self._out_keys = _structure(outputs, "outputs")
        for t in in_tensors:
            if not (t.node is not None and isinstance(t.node.layer, InputLayer)):
                raise ConfigError(
                    f"inputs: expected Input(...) placeholders, found the output of layer {t.layer.name!r} "
                    f"({type(t.layer).__name__}); pass the Input it was computed from"
                )
        if len({id(t) for t in in_tensors}) != len(in_tensors):
            raise ConfigError("inputs: the same Input is given twice")
        self._inputs = in_tensors
        self._outputs = out_tensors
        self._reached_inputs: list[KerasTensor] = []
        self._nodes = self._sort_nodes()
        ordered = self._keras_order()
        self._name_layers(ordered)
        self.layers = LayerList()
        for layer in ordered:
            self.layers[layer.name] = layer
        consumers: dict[int, int] = {}
        for node in self._nodes:
            for t in node.inputs:
                consumers[id(t)] = consumers.get(id(t), 0) + 1
        self._consumers = consumers
        self._token_inputs = [self._feeds_embedding(t) for t in in_tensors]
        if not trainable:
            for p in self.parameters():
                p.requires_grad_(False)

    # ------------------------------------------------------------------ the graph
    def _sort_nodes(self) -> list[Node]:
        inputs = {id(t) for t in self._inputs}
        order: list[Node] = []
        done: set[int] = set()
        active: set[int] = set()

        def visit(t: KerasTensor, consumer: Node | None) -> None:
            if id(t) in inputs:
                if not any(t is r for r in self._reached_inputs):
                    self._reached_inputs.append(t)
                return
            node = t.node
            if node is None or isinstance(node.layer, InputLayer):
                where = f" at layer {consumer.layer.name!r}" if consumer is not None else " as a model output"
                raise ConfigError(
                    f"Graph disconnected: the value of {t.name!r} (shape {format_shape(t.sample_shape)}) is needed"
                    f"{where}, but it is an input not given in Model(inputs=...)"
                )
            if id(node) in done:
                return
            if id(node) in active:  # pragma: no cover (symbolic calls cannot make cycles)
                raise ConfigError(f"the graph has a cycle at layer {node.layer.name!r}")
            active.add(id(node))
            for parent in node.inputs:
                visit(parent, node)
            active.discard(id(node))
            done.add(id(node))
            order.append(node)

        for t in self._outputs:
            visit(t, None)
        return order

    def _keras_order(self) -> list[Layer]:
        """``model.layers`` in Keras's order: by depth (distance from the outputs, deepest first), ties by
        the order a depth-first walk from the outputs first meets each layer (Keras's ``map_graph``)."""
        inputs = {id(t) for t in self._inputs}
        index: dict[int, int] = {}
        layers: dict[int, Layer] = {}
        post: list[Node] = []
        finished: set[int] = set()

        def visit(t: KerasTensor) -> None:
            node = t.node
            if id(node) in finished:
                return
            if id(node.layer) not in index:
                index[id(node.layer)] = len(index)
                layers[id(node.layer)] = node.layer
            if id(t) not in inputs and not isinstance(node.layer, InputLayer):
                for parent in node.inputs:
                    visit(parent)
            finished.add(id(node))
            post.append(node)

        for t in self._outputs:
            visit(t)
        node_depth: dict[int, int] = {}
        layer_depth: dict[int, int] = {}
        for node in reversed(post):
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = node_depth[id(node)] = depth
            if not isinstance(node.layer, InputLayer):
                for parent in node.inputs:
                    node_depth[id(parent.node)] = max(depth + 1, node_depth.get(id(parent.node), 0))
        for t in self._inputs:  # inputs no output needs: depth 0, first among them
            if id(t.node.layer) not in layer_depth:
                layers[id(t.node.layer)] = t.node.layer
                layer_depth[id(t.node.layer)] = 0
                index[id(t.node.layer)] = -1
        return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], index[id(layer)]))

    @staticmethod
    def _name_layers(layers: list[Layer]) -> None:
        """Keras-style unique names: explicit names must differ; default names get ``_1``, ``_2`` ..."""
        explicit = [layer.name for layer in layers if not layer._auto_named]
        dup = {n for n in explicit if explicit.count(n) > 1}
        if dup:
            raise ConfigError(f"layer names must be unique in a model, found {sorted(dup)[0]!r} on two layers")
        used = set(explicit)
        for layer in layers:
            if not layer._auto_named:
                continue
            base = layer.name if layer.name not in used else snake_case(type(layer).__name__)
            if isinstance(layer, InputLayer):
                base = "input_layer" if layer.name not in used else layer.name
            name, i = base, 0
            while name in used:
                i += 1
                name = f"{base}_{i}"
            layer.name = name
            used.add(name)
            if isinstance(layer, InputLayer):
                layer.output.name = name

    def _feeds_embedding(self, t: KerasTensor) -> bool:
        if t.dtype.startswith("int") or t.dtype == "uint8":
            return True
        return any(isinstance(node.layer, Embedding) and node.args and node.args[0] is t for node in self._nodes)

    # ------------------------------------------------------------------ shapes and names
    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def input(self) -> Any:
        """Keras's ``model.input``: the input tensor(s) in the structure ``inputs`` was given in."""
        if self._in_kind == "single":
            return self._inputs[0]
        return dict(zip(self._in_keys, self._inputs)) if self._in_kind == "dict" else list(self._inputs)

    @property
    def output(self) -> Any:
        """Keras's ``model.output``: the output tensor(s) in the structure ``outputs`` was given in."""
        return self._pack(list(self._outputs))

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    @property
    def input_names(self) -> list[str]:
        return [t.node.layer.name for t in self._inputs]

    @property
    def output_names(self) -> list[str]:
        if self._out_keys is not None:
            return list(self._out_keys)
        return [t.layer.name if t.node.single_output else f"{t.layer.name}_{t.index}" for t in self._outputs]

    @property
    def input_shape(self) -> Any:
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        shapes = [(None, *t.sample_shape) for t in self._outputs]
        return shapes[0] if self._out_kind == "single" else shapes

    def output_shapes(self) -> list[tuple]:
        return [t.sample_shape for t in self._outputs]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name`` or at position ``index`` of ``model.layers`` (Keras's ``get_layer``)."""
        if (name is None) == (index is None):
            raise ConfigError("get_layer: give exactly one of name= or index=")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or not -len(self.layers) <= index < len(self.layers):
                raise ConfigError(f"get_layer: index {index!r} is out of range; the model has {len(self.layers)} layers")
            return self.layers[index]
        if name not in self.layers:
            raise ConfigError(f"get_layer: no layer named {name!r}; the layers are {[l.name for l in self.layers]}")
        return self.layers[name]

    # ------------------------------------------------------------------ inputs
    def _input_list(self, x: Any, argument: str, convert: bool) -> list[torch.Tensor]:
        n = len(self._inputs)
        if isinstance(x, dict):
            names = self.input_names if self._in_keys is None else self._in_keys
            missing = [k for k in names if k not in x]
            extra = [k for k in x if k not in names]
            if missing or extra:
                raise DataError(f"{argument}: expected a dict with keys {names}, found {sorted(x)!r}"
                                + (f" (missing {missing[0]!r})" if missing else f" (unknown {extra[0]!r})"))
            items = [x[k] for k in names]
            labels = [f"{argument}[{k!r}]" for k in names]
        elif n > 1:
            if not isinstance(x, (list, tuple)) or len(x) != n:
                found = f"a {type(x).__name__} of length {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__
                raise DataError(f"{argument}: expected a list of {n} arrays (one per input: {self.input_names}), "
                                f"found {found}")
            items = list(x)
            labels = [f"{argument}[{i}]" for i in range(n)]
        else:
            one = isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], (torch.Tensor, np.ndarray))
            items = [x[0] if one else x]
            labels = [argument]
        if not convert:
            return items
        return [v if isinstance(v, torch.Tensor) and not v.requires_grad and v.dim() else as_tensor(v, label)
                for v, label in zip(items, labels)]

    def as_inputs(self, x: Any, argument: str = "x") -> tuple[torch.Tensor, ...]:
        xs = tuple(as_tensor(v, label) for v, label in zip(self._input_list(x, argument, False),
                                                            self._labels(argument)))
        sizes = {t.shape[0] for t in xs}
        if len(sizes) > 1:
            raise DataError(f"{argument}: every input needs the same number of samples, found "
                            + ", ".join(f"{label}: {t.shape[0]}" for label, t in zip(self._labels(argument), xs)))
        return xs

    def model_input(self, xs: tuple) -> Any:
        return xs[0] if len(self._inputs) == 1 else list(xs)

    def _labels(self, argument: str) -> list[str]:
        if len(self._inputs) == 1:
            return [argument]
        return [f"{argument}[{name!r}]" for name in self.input_names]

    def check_inputs(self, x: Any, argument: str) -> None:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        for t, value, label, token in zip(self._inputs, xs, self._labels(argument), self._token_inputs):
            shape = t.sample_shape
            if value.dim() != len(shape) + 1 or any(e is not None and e != d for e, d in zip(shape, value.shape[1:])):
                what = " token ids" if token else ""
                raise ShapeError(f"{label}: expected {format_shape(shape, batch='N')}{what}, found {found_shape(value)}")
            if token and value.is_floating_point():
                if not bool((value == value.round()).all()):
                    raise ShapeError(f"{label}: expected integer token ids, found fractional values")
            for node in self._nodes:
                if isinstance(node.layer, Embedding) and node.args and node.args[0] is t:
                    node.layer.check_ids(value.long() if value.is_floating_point() else value, label)

    def ensure_built(self, x: Any) -> Any:
        shapes = self.output_shapes()
        return shapes[0] if len(shapes) == 1 else shapes

    # ------------------------------------------------------------------ running
    def _prepare(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        dtype = next((p.dtype for p in self.parameters() if p.is_floating_point()), torch.get_default_dtype())
        out = []
        for t, token in zip(xs, self._token_inputs):
            if token:
                t = t.long() if t.dtype != torch.long else t
            elif t.dtype != dtype:
                t = t.to(dtype)
            out.append(t)
        return out

    def run_graph(self, x: Any, mask: Any = None, logits: Any = False, with_masks: bool = False) -> Any:
        """The outputs (a list, in ``outputs`` order) for inputs ``x``; ``logits[i]`` (or one bool for all)
        computes output ``i`` before its final softmax/sigmoid where :meth:`logits_activations` allows.
        With ``with_masks``: ``(outputs, masks)``, each output's Keras mask or ``None``."""
        xs = self._prepare(self._input_list(x, "x", True))
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(xs) if mask is not None else [None] * len(xs)
        values: dict[int, tuple[torch.Tensor, Any]] = {id(t): (v, m) for t, v, m in zip(self._inputs, xs, masks)}
        wants = list(logits) if isinstance(logits, (list, tuple)) else [bool(logits)] * len(self._outputs)
        logit_ids = {id(t) for t, want, act in zip(self._outputs, wants, self.logits_activations()) if want and act}
        for node in self._nodes:
            layer = node.layer
            args = map_structure(lambda t: values[id(t)][0], node.args)
            kwargs = map_structure(lambda t: values[id(t)][0], node.kwargs)
            params = call_parameters(type(layer))
            first_mask = map_structure(lambda t: values[id(t)][1], node.args[0])
            flat_masks = first_mask if isinstance(first_mask, (list, tuple)) else [first_mask]
            if all(m is None for m in flat_masks):
                first_mask = None
            if first_mask is not None and "mask" in params and "mask" not in kwargs:
                kwargs["mask"] = first_mask
            for p in params:
                if p.endswith("_mask") and p not in kwargs and p != "attention_mask":
                    source = self._argument(node, p[:-5])
                    if isinstance(source, KerasTensor) and values[id(source)][1] is not None:
                        kwargs[p] = values[id(source)][1]
            if node.single_output and id(node.outputs[0]) in logit_ids:
                out = layer.call_logits(args[0], kwargs.get("mask"))[0]
            else:
                out = layer(*args, **kwargs)
            outs = [out] if node.single_output else list(out)
            out_mask = layer.compute_mask(args[0], first_mask)
            masks = list(out_mask) if isinstance(out_mask, (list, tuple)) else [out_mask]
            for i, (t, value) in enumerate(zip(node.outputs, outs)):
                values[id(t)] = (value, masks[i] if i < len(masks) else None)
        outs = [values[id(t)][0] for t in self._outputs]
        if with_masks:
            return outs, [values[id(t)][1] for t in self._outputs]
        return outs

    @staticmethod
    def _argument(node: Node, name: str) -> Any:
        if name in node.kwargs:
            return node.kwargs[name]
        names = _positional_names(type(node.layer))
        if name in names:
            i = names.index(name)
            if i < len(node.args):
                return node.args[i]
        return None

    def _pack(self, outs: list[torch.Tensor]) -> Any:
        if self._out_kind == "single":
            return outs[0]
        if self._out_kind == "dict":
            return dict(zip(self._out_keys, outs))
        return list(outs)

    def forward(self, x: Any, mask: Any = None) -> Any:
        return self._pack(self.run_graph(x, mask))

    def pack_outputs(self, outs: list) -> Any:
        """Per-output results (e.g. ``predict``'s arrays) in the structure ``outputs`` was given in."""
        return self._pack(outs)

    def call_outputs(self, x: Any, logits: list[bool]) -> tuple[list[torch.Tensor], list[Any]]:
        return self.run_graph(x, None, logits, with_masks=True)

    def logits_activations(self) -> list[str | None]:
        """Per output: ``"softmax"``/``"sigmoid"`` when its layer ends in it, is called once, and its
        output feeds no other layer (so training may compute the loss from logits)."""
        acts = []
        for t in self._outputs:
            layer = t.layer
            act = getattr(layer, "activation", None)
            ok = (act in ("softmax", "sigmoid") and t.node.single_output
                  and type(layer).call_logits is not Layer.call_logits
                  and self._consumers.get(id(t), 0) == 0 and len(t.node.args) == 1)
            acts.append(act if ok else None)
        return acts

    def logits_activation(self) -> str | None:
        acts = self.logits_activations()
        return acts[0] if len(acts) == 1 else None

    def call_with_logits(self, x: Any) -> torch.Tensor:
        return self.run_graph(x, None, True)[0]

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        node_ids = {id(node): i for i, node in enumerate(self._nodes)}
        input_ids = {id(t): i for i, t in enumerate(self._inputs)}

        def ref(t: KerasTensor) -> dict[str, int]:
            if id(t) in input_ids:
                return {"__input__": input_ids[id(t)]}
            return {"__node__": node_ids[id(t.node)], "__index__": t.index}

        def encode(obj: Any) -> Any:
            if isinstance(obj, KerasTensor):
                return ref(obj)
            if isinstance(obj, (list, tuple)):
                return [encode(v) for v in obj]
            if isinstance(obj, dict):
                return {k: encode(v) for k, v in obj.items()}
            if obj is None or isinstance(obj, (bool, int, float, str)):
                return obj
            raise ConfigError(f"model: a call argument of type {type(obj).__name__} cannot be saved")

        return {
            "name": self.name,
            "inputs": [t.node.layer.get_config() for t in self._inputs],
            "input_structure": self._in_kind, "input_keys": self._in_keys,
            "layers": [layer_to_config(layer) for layer in self.layers if not isinstance(layer, InputLayer)],
            "nodes": [{"layer": node.layer.name, "args": encode(list(node.args)), "kwargs": encode(node.kwargs)}
                      for node in self._nodes],
            "outputs": [ref(t) for t in self._outputs],
            "output_structure": self._out_kind, "output_keys": self._out_keys,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Functional":
        inputs = [Input(**spec) for spec in config["inputs"]]
        layers = {}
        for spec in config["layers"]:
            layer = layer_from_config(spec)
            layers[layer.name] = layer
        produced: list[Any] = []

        def decode(obj: Any) -> Any:
            if isinstance(obj, dict) and "__input__" in obj:
                return inputs[obj["__input__"]]
            if isinstance(obj, dict) and "__node__" in obj:
                out = produced[obj["__node__"]]
                return out[obj["__index__"]] if isinstance(out, list) else out
            if isinstance(obj, list):
                return [decode(v) for v in obj]
            if isinstance(obj, dict):
                return {k: decode(v) for k, v in obj.items()}
            return obj

        for spec in config["nodes"]:
            if spec["layer"] not in layers:
                raise ConfigError(f"nodes: unknown layer {spec['layer']!r}")
            produced.append(layers[spec["layer"]](*decode(spec["args"]), **decode(spec["kwargs"])))
        outs = [decode(r) for r in config["outputs"]]
        ins: Any = inputs
        if config.get("input_structure") == "single":
            ins = inputs[0]
        elif config.get("input_structure") == "dict":
            ins = dict(zip(config["input_keys"], inputs))
        out: Any = outs
        if config.get("output_structure") == "single":
            out = outs[0]
        elif config.get("output_structure") == "dict":
            out = dict(zip(config["output_keys"], outs))
        return cls(ins, out, name=config.get("name"))

    # ------------------------------------------------------------------ summary
    def summary_rows(self) -> list[tuple[str, str, int | None]]:
        rows = []
        for layer in self.layers:
            nodes = [node for node in self._nodes if node.layer is layer]
            if isinstance(layer, InputLayer):
                shape = format_shape(layer.shape)
            else:
                shapes = [format_shape(t.sample_shape) for node in nodes[:1] for t in node.outputs]
                shape = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
            connected = []
            for node in nodes:
                for t in node.inputs:
                    connected.append(f"{t.layer.name}[0][{t.index}]")
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, layer.count_params(),
                         ", ".join(connected) if connected else "-"))
        return rows

