"""Graph primitives for the task exporters (:mod:`lstmkit.export.tasks`): a small ONNX graph builder
and lstmkit's recurrent layers as ONNX ``LSTM`` / ``GRU`` / ``RNN`` nodes.

The recurrent nodes follow ONNX Runtime's CPU kernels: ``layout=0`` (sequence first; the CPU kernel
rejects ``layout=1``), gates reordered from PyTorch's layout (LSTM ``i, f, g, o`` -> ONNX ``i, o, f, c``;
GRU ``r, z, n`` -> ``z, r, h`` with ``linear_before_reset=1``, which is PyTorch's GRU), biases as
``[W_b ; R_b]`` per direction. Opset 13 or newer (default 17); the IR version is the oldest that
carries the opset (at least 8).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lstmkit.errors import ConfigError

OPSET = 17  # the default; any opset from MIN_OPSET on works (the graphs adapt the reductions' form)
MIN_OPSET = 13

#: PyTorch gate blocks -> ONNX gate blocks
_GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}


class GraphBuilder:
    """Collects nodes, initializers, inputs and outputs; :meth:`model` checks and returns the ModelProto."""

    def __init__(self, name: str, opset: int = OPSET) -> None:
        if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or opset < MIN_OPSET:
            raise ConfigError(f"opset: expected an integer >= {MIN_OPSET}, found {opset!r}")
        self.name = name
        self.opset = int(opset)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._count = 0
        self._consts: dict[tuple, str] = {}
        self.cache: dict[Any, Any] = {}  # for compositions that reuse initializers (recurrent weights)

    def _fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def input(self, name: str, shape: Sequence[int | str], dtype: Any = np.float32) -> str:
        from onnx import helper

        self.inputs.append(helper.make_tensor_value_info(name, _elem(dtype), list(shape)))
        return name

    def output(self, value: str, name: str, shape: Sequence[int | str], dtype: Any = np.float32) -> str:
        """Declare ``value`` as the graph output ``name`` (through an Identity node when it is named otherwise)."""
        from onnx import helper

        if value != name:
            self.op("Identity", value, name=name)
        self.outputs.append(helper.make_tensor_value_info(name, _elem(dtype), list(shape)))
        return name

    def const(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        """An initializer holding ``value`` (small integer/float constants are shared)."""
        from onnx import numpy_helper

        arr = np.asarray(value, dtype=dtype) if dtype is not None else np.asarray(value)
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(np.float32)  # float64 only when asked for
        key = None
        if arr.size <= 8:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self._fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.array(arr, order="C"), name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, *values: int) -> str:
        """A 1-D int64 constant (shapes, axes, starts/ends)."""
        return self.const(np.array(values, dtype=np.int64), "ints")

    def scalar(self, value: float) -> str:
        return self.const(np.array(value, dtype=np.float32), "scalar")

    def op(self, op_type: str, *inputs: str, outputs: int = 1, name: str | Sequence[str] | None = None,
           **attrs: Any) -> Any:
        """Add one node; returns its output name (or the list of names when ``outputs > 1``).

        ``inputs`` may contain ``""`` for an omitted optional input; ``name`` fixes the output name(s).
        """
        from onnx import helper

        if name is None:
            names = [self._fresh(op_type.lower()) for _ in range(outputs)]
        else:
            names = [name] if isinstance(name, str) else list(name)
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self._fresh("n_" + op_type), **attrs))
        return names[0] if outputs == 1 and not isinstance(name, (list, tuple)) else names

    # ---------------------------------------------------------------- common compositions
    def dim(self, value: str, axis: int) -> str:
        """``value.shape[axis]`` as a 1-element int64 tensor."""
        return self.op("Gather", self.op("Shape", value), self.ints(axis), axis=0)

    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: int = 0) -> str:
        """``ReduceSum`` / ``ReduceMean`` / ... over ``axes``: axes as an input where the opset wants it
        (ReduceSum from 13, the others from 18), else as the attribute."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.ints(*axes), keepdims=keepdims)
        return self.op(op_type, x, axes=list(axes), keepdims=keepdims)

    def dim_scalar(self, value: str, axis: int) -> str:
        """``value.shape[axis]`` as an int64 scalar."""
        return self.op("Gather", self.op("Shape", value), self.const(np.array(axis, np.int64)), axis=0)

    def step_mask(self, lengths: str, like: str, axis: int = 1) -> str:
        """``(batch, steps)`` bool: ``t < lengths[n]``, with ``steps = like.shape[axis]``; ``lengths`` int64 ``(batch,)``."""
        steps = self.op("Range", self.const(np.array(0, np.int64)), self.dim_scalar(like, axis),
                        self.const(np.array(1, np.int64)))
        return self.op("Less", self.op("Unsqueeze", steps, self.ints(0)), self.op("Unsqueeze", lengths, self.ints(1)))

    def linear(self, x: str, weight: Any, bias: Any = None, hint: str = "linear") -> str:
        """``x @ weight.T + bias`` for a torch ``(out, in)`` weight."""
        key = ("linear", id(weight), id(bias))
        if key not in self.cache:  # a layer applied several times keeps one copy of its weights
            self.cache[key] = (self.const(_np(weight).T.copy(), hint + "_w"),
                               None if bias is None else self.const(_np(bias), hint + "_b"))
        w, b = self.cache[key]
        y = self.op("MatMul", x, w)
        return y if b is None else self.op("Add", y, b)

    def model(self, doc: str = "") -> Any:
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="lstmkit", doc_string=doc)
        model.ir_version = max(helper.find_min_ir_version_for(opsets), 8)
        onnx.checker.check_model(model)
        return model


def _elem(dtype: Any) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _np(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):
        return t.detach().float().cpu().numpy()
    return np.asarray(t, dtype=np.float32)


# -------------------------------------------------------------------------------------- recurrent layers
def cell_of(rnn: Any) -> str:
    """``"lstm"``, ``"gru"`` or ``"rnn"`` for an lstmkit (or torch) recurrent module; variants ONNX has no
    op for are a ConfigError."""
    mode = getattr(rnn, "mode", None) or type(rnn).__name__.upper()
    cell = {"LSTM": "lstm", "GRU": "gru", "SIMPLERNN": "rnn", "RNN_TANH": "rnn", "RNN_RELU": "rnn", "RNN": "rnn"}.get(
        str(mode).upper())
    if cell is None:
        raise ConfigError(f"ONNX export: recurrent layer {type(rnn).__name__} has no ONNX equivalent (LSTM, GRU, RNN)")
    for flag, what in (("peephole", "peephole connections"), ("layer_norm", "layer normalisation")):
        if getattr(rnn, flag, False):
            raise ConfigError(f"ONNX export: an LSTM with {what} has no ONNX LSTM op; export needs {flag}=False")
    if getattr(rnn, "proj_size", 0):
        raise ConfigError("ONNX export: an LSTM with proj_size > 0 has no ONNX LSTM op; export needs proj_size=0")
    return cell


def _direction_arrays(rnn: Any, layer: int, direction: int, cell: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    w_ih = _np(getattr(rnn, "weight_ih" + sfx))
    w_hh = _np(getattr(rnn, "weight_hh" + sfx))
    H = w_hh.shape[1]
    gates = len(_GATE_ORDER[cell])
    b_ih = getattr(rnn, "bias_ih" + sfx, None)
    b_hh = getattr(rnn, "bias_hh" + sfx, None)
    b_ih = np.zeros(gates * H, np.float32) if b_ih is None else _np(b_ih)
    b_hh = np.zeros(gates * H, np.float32) if b_hh is None else _np(b_hh)

    def reorder(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a[g * H : (g + 1) * H] for g in _GATE_ORDER[cell]], axis=0)

    return reorder(w_ih), reorder(w_hh), np.concatenate([reorder(b_ih), reorder(b_hh)])


def recurrent_layer(b: GraphBuilder, rnn: Any, layer: int, x: str, h0: str, c0: str | None = None,
                    seq_lens: str = "") -> tuple[str, str, str | None]:
    """One layer (both directions) of ``rnn`` as an ONNX node.

    ``x`` ``(steps, batch, in)`` (sequence first), ``h0``/``c0`` ``(directions, batch, hidden)``,
    ``seq_lens`` an int32 ``(batch,)`` tensor name or ``""``. Returns ``(Y, Y_h, Y_c)``: ``Y``
    ``(steps, directions, batch, hidden)``; ``Y_c`` is None for a GRU or RNN.
    """
    cell = cell_of(rnn)
    D = 2 if rnn.bidirectional else 1
    key = ("recurrent", id(rnn), layer)
    if key not in b.cache:  # one set of initializers per layer, however often the layer is applied
        arrays = [_direction_arrays(rnn, layer, d, cell) for d in range(D)]
        b.cache[key] = tuple(b.const(np.stack([a[i] for a in arrays]), f"{cell}{layer}_{part}")
                             for i, part in enumerate("WRB"))
    W, R, B = b.cache[key]
    attrs: dict[str, Any] = {"hidden_size": int(rnn.hidden_size), "direction": "bidirectional" if D == 2 else "forward"}
    if cell == "lstm":
        y, y_h, y_c = b.op("LSTM", x, W, R, B, seq_lens, h0, c0 or "", outputs=3, **attrs)
        return y, y_h, y_c
    if cell == "gru":
        attrs["linear_before_reset"] = 1
        y, y_h = b.op("GRU", x, W, R, B, seq_lens, h0, outputs=2, **attrs)
        return y, y_h, None
    act = "Relu" if getattr(rnn, "nonlinearity", "tanh") == "relu" else "Tanh"
    y, y_h = b.op("RNN", x, W, R, B, seq_lens, h0, outputs=2, activations=[act] * D, **attrs)
    return y, y_h, None


def batch_major(b: GraphBuilder, y: str) -> str:
    """``Y`` ``(steps, D, batch, H)`` -> ``(batch, steps, D*H)`` (directions concatenated as torch does)."""
    return b.op("Reshape", b.op("Transpose", y, perm=[2, 0, 1, 3]), b.ints(0, 0, -1))


def sequence_major(b: GraphBuilder, y: str) -> str:
    """``Y`` ``(steps, D, batch, H)`` -> ``(steps, batch, D*H)``, the next layer's input."""
    return b.op("Reshape", b.op("Transpose", y, perm=[0, 2, 1, 3]), b.ints(0, 0, -1))


__all__ = ["GraphBuilder", "OPSET", "MIN_OPSET", "cell_of", "recurrent_layer", "batch_major", "sequence_major"]
