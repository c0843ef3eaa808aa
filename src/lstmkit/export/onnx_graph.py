"""Graph-building primitives for the ONNX exporters: a small builder and the layers' ONNX forms.

Everything here writes standard ONNX operators (default domain), float32, for opsets
:data:`MIN_OPSET` .. the installed ``onnx``'s newest. The exporters (:mod:`lstmkit.export.sequential`,
the task exporters) compose these; none of them needs torch's exporter.

Recurrent layers use the ONNX ``LSTM`` / ``GRU`` / ``RNN`` operators with ``layout=0`` (time-major:
ONNX Runtime's CPU LSTM rejects the batch-first ``layout=1``), so a batch-major ``(N, T, F)`` tensor
is transposed to ``(T, N, F)`` before and back after. Weights are converted from PyTorch's layout:

* LSTM: PyTorch's gate blocks ``i, f, g, o`` become ONNX's ``i, o, f, c``;
* GRU: ``r, z, n`` become ``z, r, h``, with ``linear_before_reset=1`` (PyTorch's and Keras's
  ``reset_after``: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), or ``linear_before_reset=0`` for
  ``GRU(reset_after=False)`` (``n = tanh(W_in x + b_n + W_hn (r * h))``, its one bias in ``Wb``);
* SimpleRNN: one block, ``tanh``;
* biases: ONNX's ``B`` is ``[Wb, Rb]`` = ``[bias_ih, bias_hh]`` (``bias_hh`` zero for Keras-style
  single-bias layers), one row per direction.

An LSTM with a projection (``proj_size``, an LSTMP) has no ONNX operator; :func:`lstm_projected`
writes it as a ``Scan`` over the steps (the input product for all steps is one ``MatMul`` first).

Variable lengths (``Embedding(mask_zero=True)``): lstmkit's masks skip padded steps *wherever* they
are (before, after or between the tokens). :func:`compaction` computes, in the graph, for each row
where each step goes when the real steps are moved to the front in order (stable); the exporters
move the token ids there once (``ScatterElements``), run every recurrent operator with
``sequence_lens`` = the number of real steps, and put per-step outputs back at the end
(``GatherElements``). That is exactly lstmkit's own masking (it also moves real steps first), so pre-,
post-padding and holes all match.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: The oldest opset the exporters write: the graphs use ``Softmax`` / ``LogSoftmax`` over one axis and
#: ``ReduceSum`` / ``Unsqueeze`` / ``Squeeze`` with their axes as inputs, which are opset 13's forms.
MIN_OPSET = 13
DEFAULT_OPSET = 17

#: PyTorch gate block -> ONNX gate block order
LSTM_ORDER = (0, 3, 1, 2)   # i, f, g, o  ->  i, o, f, c
GRU_ORDER = (1, 0, 2)       # r, z, n     ->  z, r, h

#: Keras activation names (lstmkit.layers.activations) this module writes.
ACTIVATIONS = ("linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "log_softmax", "tanh", "elu",
               "selu", "gelu", "silu", "swish", "softplus", "softsign", "exponential", "leaky_relu")


def _onnx():
    import onnx

    return onnx


class Graph:
    """A graph under construction: nodes, initializers, inputs and outputs, with fresh value names.

    >>> g = Graph(17)
    >>> x = g.add_input("input", "float", ["batch", 3])
    >>> y = g.op("Relu", x)
    >>> g.add_output("output", y, "float", ["batch", 3])
    >>> sorted(n.op_type for n in g.nodes)
    ['Identity', 'Relu']
    """

    def __init__(self, opset: int, name: str = "lstmkit") -> None:
        self.opset = int(opset)
        self.name = name
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._count = 0
        self._consts: dict[tuple, str] = {}

    # ------------------------------------------------------------------ names, constants, nodes
    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """An initializer holding ``value`` (small constants are shared)."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        key = None
        if arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        self.initializers.append(_onnx().numpy_helper.from_array(np.ascontiguousarray(arr), name))
        if key is not None:
            self._consts[key] = name
        return name

    def weight(self, value: Any, hint: str) -> str:
        """A float32 weight initializer (never shared)."""
        name = self.fresh(hint)
        arr = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        self.initializers.append(_onnx().numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, *inputs: str | None, outputs: int = 1, domain: str | None = None, **attrs: Any):
        """Add one node; returns its output name (or the list of names when ``outputs > 1``)."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        node = _onnx().helper.make_node(op_type, ["" if i is None else i for i in inputs], names,
                                        name=self.fresh(f"n_{op_type}"), domain=domain, **attrs)
        self.nodes.append(node)
        return names[0] if outputs == 1 else names

    # ------------------------------------------------------------------ graph inputs and outputs
    def add_input(self, name: str, dtype: str, shape: Sequence[Any]) -> str:
        self.inputs.append(_value_info(name, dtype, shape))
        return name

    def add_output(self, name: str, value: str, dtype: str, shape: Sequence[Any]) -> None:
        self.nodes.append(_onnx().helper.make_node("Identity", [value], [name], name=self.fresh("n_out")))
        self.outputs.append(_value_info(name, dtype, shape))

    def to_model(self, *, doc: str = "", producer_version: str = "") -> Any:
        onnx = _onnx()
        helper = onnx.helper
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers, doc_string=doc)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="lstmkit", producer_version=producer_version)
        # The oldest IR version that carries this opset: runtimes older than the installed onnx still read it.
        model.ir_version = max(helper.find_min_ir_version_for(opsets), 8)
        return model

    # ------------------------------------------------------------------ shape helpers
    def dim(self, x: str, axis: int) -> str:
        """``x.shape[axis]`` as a 1-element int64 tensor."""
        shape = self.op("Shape", x)
        return self.op("Gather", shape, self.const([axis], np.int64))

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        return self.op("Unsqueeze", x, self.const(list(axes), np.int64))

    def squeeze(self, x: str, axes: Sequence[int]) -> str:
        return self.op("Squeeze", x, self.const(list(axes), np.int64))

    def transpose(self, x: str, perm: Sequence[int]) -> str:
        return self.op("Transpose", x, perm=list(perm))

    def reshape(self, x: str, shape: Sequence[int]) -> str:
        """Reshape with ONNX's conventions (0 copies the input's dim, -1 is inferred)."""
        return self.op("Reshape", x, self.const(list(shape), np.int64))

    def slice(self, x: str, starts: Sequence[int], ends: Sequence[int], axes: Sequence[int],
              steps: Sequence[int] | None = None) -> str:
        args = [x, self.const(list(starts), np.int64), self.const(list(ends), np.int64),
                self.const(list(axes), np.int64)]
        if steps is not None:
            args.append(self.const(list(steps), np.int64))
        return self.op("Slice", *args)

    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: bool = False) -> str:
        """``ReduceSum`` / ``ReduceMean`` / ``ReduceMax`` ... with the axes where this opset wants them
        (an input from opset 13 for ReduceSum, from opset 18 for the others)."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if as_input:
            return self.op(op_type, x, self.const(list(axes), np.int64), keepdims=int(keepdims))
        return self.op(op_type, x, axes=list(axes), keepdims=int(keepdims))

    def flip_time(self, x: str) -> str:
        """Reverse axis 1 of a batch-major tensor (every step, padding included)."""
        return self.slice(x, [-1], [np.iinfo(np.int64).min], [1], [-1])


def _value_info(name: str, dtype: str, shape: Sequence[Any]) -> Any:
    onnx = _onnx()
    elem = {"float": onnx.TensorProto.FLOAT, "int64": onnx.TensorProto.INT64,
            "int32": onnx.TensorProto.INT32}[dtype]
    return onnx.helper.make_tensor_value_info(name, elem, list(shape))


# ---------------------------------------------------------------------------------------- activations
def activation(g: Graph, x: str, name: str) -> str:
    """lstmkit's (Keras's) activation ``name`` applied to ``x`` (softmax over the last axis)."""
    if name == "linear":
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "elu": "Elu", "selu": "Selu",
              "softplus": "Softplus", "softsign": "Softsign", "exponential": "Exp"}
    if name in simple:
        if name == "selu":  # torch's constants (ONNX's defaults are their float32 roundings too)
            return g.op("Selu", x, alpha=1.6732632423543772, gamma=1.0507009873554805)
        return g.op(simple[name], x)
    if name == "relu6":
        return g.op("Clip", x, g.const(0.0, np.float32), g.const(6.0, np.float32))
    if name == "hard_sigmoid":  # relu6(x + 3) / 6
        return g.op("HardSigmoid", x, alpha=1.0 / 6.0, beta=0.5)
    if name == "softmax":
        return g.op("Softmax", x, axis=-1)
    if name == "log_softmax":
        return g.op("LogSoftmax", x, axis=-1)
    if name == "leaky_relu":
        return g.op("LeakyRelu", x, alpha=0.01)
    if name in ("silu", "swish"):
        return g.op("Mul", x, g.op("Sigmoid", x))
    if name == "gelu":  # exact (erf) form, as torch's default
        inner = g.op("Erf", g.op("Mul", x, g.const(1.0 / np.sqrt(2.0), np.float32)))
        return g.op("Mul", g.op("Mul", x, g.const(0.5, np.float32)), g.op("Add", inner, g.const(1.0, np.float32)))
    from lstmkit.errors import ConfigError

    raise ConfigError(f"activation {name!r}: not supported by the ONNX export (supported: {', '.join(ACTIVATIONS)})")


# ---------------------------------------------------------------------------------------- dense, embedding
def dense(g: Graph, x: str, kernel: np.ndarray, bias: np.ndarray | None, act: str = "linear", hint: str = "dense") -> str:
    """``act(x @ kernel + bias)`` on the last axis; ``kernel`` is Keras's ``(F, units)``."""
    y = g.op("MatMul", x, g.weight(kernel, f"{hint}_kernel"))
    if bias is not None:
        y = g.op("Add", y, g.weight(bias, f"{hint}_bias"))
    return activation(g, y, act)


def embedding(g: Graph, ids: str, table: np.ndarray, scale: float | None = None, hint: str = "embedding") -> str:
    """``table[ids]`` (``Gather``), times ``scale`` when given."""
    y = g.op("Gather", g.weight(table, f"{hint}_table"), ids)
    if scale is not None and scale != 1.0:
        y = g.op("Mul", y, g.const(np.float32(scale), np.float32))
    return y


# ---------------------------------------------------------------------------------------- recurrent weights
def _blocks(w: np.ndarray, order: Sequence[int]) -> np.ndarray:
    parts = np.split(np.asarray(w, dtype=np.float32), len(order), axis=0)
    return np.concatenate([parts[i] for i in order], axis=0)


def onnx_rnn_weights(kind: str, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                     b_hh: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One direction's ``(W, R, B)`` in ONNX's gate order from PyTorch's (``kind`` lstm, gru or rnn)."""
    order = {"lstm": LSTM_ORDER, "gru": GRU_ORDER, "rnn": (0,)}[kind]
    W, R = _blocks(w_ih, order), _blocks(w_hh, order)
    if b_ih is None and b_hh is None:
        return W, R, None
    rows = W.shape[0]
    wb = np.zeros(rows, np.float32) if b_ih is None else _blocks(b_ih, order)
    rb = np.zeros(rows, np.float32) if b_hh is None else _blocks(b_hh, order)
    return W, R, np.concatenate([wb, rb])


def cell_weights(cell: Any, layer: int = 0, direction: int = 0) -> tuple[np.ndarray, ...]:
    """``(w_ih, w_hh, b_ih, b_hh, w_hr)`` of one layer and direction of an lstmkit.nn / torch.nn module."""
    sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")

    def get(name: str) -> np.ndarray | None:
        t = getattr(cell, name + sfx, None)
        return None if t is None else t.detach().cpu().float().numpy()

    for variant in ("peephole", "layer_norm"):
        if getattr(cell, variant, False):
            from lstmkit.errors import ConfigError

            raise ConfigError(f"recurrent layer: {variant} LSTMs are not supported by the ONNX export "
                              "(the ONNX LSTM operator has no such variant)")
    return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")


def recurrent(g: Graph, kind: str, x_tm: str, directions: Sequence[tuple[np.ndarray, ...]], hidden: int, *,
              direction: str = "forward", seq_lens: str | None = None, h0: str | None = None,
              c0: str | None = None, hint: str = "rnn",
              linear_before_reset: int = 1) -> tuple[str, str, str | None]:
    """One ONNX ``LSTM`` / ``GRU`` / ``RNN`` node over the time-major ``x_tm`` ``(T, N, F)``.

    ``directions`` holds each direction's PyTorch-layout ``(w_ih, w_hh, b_ih, b_hh)`` (two for
    ``direction="bidirectional"``). Returns ``(Y, Y_h, Y_c)``: ``Y`` ``(T, D, N, H)``, ``Y_h`` and
    ``Y_c`` ``(D, N, H)`` (``Y_c`` is ``None`` but for an LSTM). With ``seq_lens`` (int32 ``(N,)``), steps
    at and after a row's length are skipped, its ``Y`` there is zero and ``Y_h`` is its state after its
    last real step.
    """
    converted = [onnx_rnn_weights(kind, *d[:4]) for d in directions]
    W = np.stack([c[0] for c in converted])
    R = np.stack([c[1] for c in converted])
    has_bias = any(c[2] is not None for c in converted)
    inputs = [x_tm, g.weight(W, f"{hint}_W"), g.weight(R, f"{hint}_R")]
    if has_bias:
        B = np.stack([c[2] if c[2] is not None else np.zeros(2 * W.shape[1], np.float32) for c in converted])
        inputs.append(g.weight(B, f"{hint}_B"))
    else:
        inputs.append(None)
    inputs += [seq_lens, h0]
    op_type = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[kind]
    attrs: dict[str, Any] = {"hidden_size": int(hidden), "direction": direction}
    if kind == "lstm":
        inputs.append(c0)
        y, y_h, y_c = g.op(op_type, *inputs, outputs=3, **attrs)
        return y, y_h, y_c
    if kind == "gru":  # 1: PyTorch's GRU (Keras's reset_after=True); 0: Keras's reset_after=False
        attrs["linear_before_reset"] = int(linear_before_reset)
    if kind == "rnn":
        attrs["activations"] = ["Tanh"] * (2 if direction == "bidirectional" else 1)
    y, y_h = g.op(op_type, *inputs, outputs=2, **attrs)
    return y, y_h, None


def lstm_projected(g: Graph, x_tm: str, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                   b_hh: np.ndarray | None, w_hr: np.ndarray, h0: str, c0: str, hint: str = "lstmp") -> tuple[str, str, str]:
    """A forward LSTM with a projection (``h_t = W_hr (o_t * tanh(c_t))``) over ``x_tm`` ``(T, N, F)``, as a
    ``Scan``; ``h0`` ``(1, N, P)``, ``c0`` ``(1, N, H)``. Returns ``(Y (T, N, P), h_n (1, N, P), c_n (1, N, H))``."""
    onnx = _onnx()
    helper = onnx.helper
    H = w_hh.shape[0] // 4
    bias = np.zeros(4 * H, np.float32)
    if b_ih is not None:
        bias = bias + b_ih
    if b_hh is not None:
        bias = bias + b_hh
    xw = g.op("Add", g.op("MatMul", x_tm, g.weight(np.ascontiguousarray(w_ih.T), f"{hint}_Wih")),
              g.weight(bias, f"{hint}_b"))                                        # (T, N, 4H)
    r_t = g.weight(np.ascontiguousarray(w_hh.T), f"{hint}_Whh")                    # (P, 4H), outer scope
    p_t = g.weight(np.ascontiguousarray(w_hr.T), f"{hint}_Whr")                    # (H, P), outer scope
    body = Graph(g.opset, name=g.fresh("lstmp_step"))
    body._count = g._count + 1000  # value names unique across the two scopes
    h_prev, c_prev, xw_t = body.fresh("h_prev"), body.fresh("c_prev"), body.fresh("xw_t")
    body.inputs = [_value_info(h_prev, "float", ["N", w_hr.shape[0]]), _value_info(c_prev, "float", ["N", H]),
                   _value_info(xw_t, "float", ["N", 4 * H])]
    gates = body.op("Add", xw_t, body.op("MatMul", h_prev, r_t))

    def block(k: int) -> str:
        return body.slice(gates, [k * H], [(k + 1) * H], [1])

    i, f, gg, o = (body.op("Sigmoid", block(0)), body.op("Sigmoid", block(1)), body.op("Tanh", block(2)),
                   body.op("Sigmoid", block(3)))
    c = body.op("Add", body.op("Mul", f, c_prev), body.op("Mul", i, gg))
    h = body.op("MatMul", body.op("Mul", o, body.op("Tanh", c)), p_t)
    h_out, c_out, y_out = body.fresh("h_out"), body.fresh("c_out"), body.fresh("y_out")
    for src, dst in ((h, h_out), (c, c_out), (h, y_out)):
        body.nodes.append(helper.make_node("Identity", [src], [dst], name=body.fresh("n_id")))
    body.outputs = [_value_info(h_out, "float", ["N", w_hr.shape[0]]), _value_info(c_out, "float", ["N", H]),
                    _value_info(y_out, "float", ["N", w_hr.shape[0]])]
    # The body's constants (slice bounds) live in the body itself.
    body_graph = helper.make_graph(body.nodes, body.name, body.inputs, body.outputs, body.initializers)
    g._count = body._count + 1
    h_n, c_n, y = g.op("Scan", g.squeeze(h0, [0]), g.squeeze(c0, [0]), xw, outputs=3, body=body_graph,
                       num_scan_inputs=1)
    return y, g.unsqueeze(h_n, [0]), g.unsqueeze(c_n, [0])


# ---------------------------------------------------------------------------------------- masks
def compaction(g: Graph, mask: str) -> tuple[str, str]:
    """For a ``(N, T)`` bool mask: ``(dest, lengths)``. ``dest[n, t]`` (int64) is where step ``t`` goes when
    row ``n``'s real steps are moved to the front in order (its padding after them, in order);
    ``lengths`` (int64 ``(N,)``) counts the real steps."""
    m = g.op("Cast", mask, to=_onnx().TensorProto.INT64)
    one = g.const(1, np.int64)
    real_before = g.op("CumSum", m, g.const(1, np.int64))                            # (N, T) inclusive
    pad_before = g.op("CumSum", g.op("Sub", one, m), g.const(1, np.int64))
    lengths = g.reduce("ReduceSum", m, [1], keepdims=False)                          # (N,)
    pos_real = g.op("Sub", real_before, one)
    pos_pad = g.op("Sub", g.op("Add", pad_before, g.unsqueeze(lengths, [1])), one)
    dest = g.op("Where", mask, pos_real, pos_pad)
    return dest, lengths


def step_mask(g: Graph, like: str, lengths: str) -> str:
    """``(N, T)`` bool, True where ``t < lengths[n]`` (``like`` is any ``(N, T, ...)`` tensor)."""
    steps = g.op("Range", g.const(0, np.int64), g.squeeze(g.dim(like, 1), [0]), g.const(1, np.int64))
    return g.op("Less", g.unsqueeze(steps, [0]), g.unsqueeze(lengths, [1]))


def _expand_index(g: Graph, index: str, like: str) -> str:
    """An ``(N, T)`` index broadcast to ``like``'s shape ``(N, T, F)``."""
    return g.op("Expand", g.unsqueeze(index, [2]), g.op("Shape", like))


def to_compact(g: Graph, x: str, dest: str, rank: int) -> str:
    """Move each row's steps to ``dest`` (the real steps first): ``out[n, dest[n, t]] = x[n, t]``."""
    index = dest if rank == 2 else _expand_index(g, dest, x)
    return g.op("ScatterElements", x, index, x, axis=1)


def from_compact(g: Graph, x: str, dest: str) -> str:
    """The inverse of :func:`to_compact` for a ``(N, T, F)`` tensor: ``out[n, t] = x[n, dest[n, t]]``."""
    return g.op("GatherElements", x, _expand_index(g, dest, x), axis=1)


def reverse_real_steps(g: Graph, x: str, lengths: str) -> str:
    """Reverse the first ``lengths[n]`` steps of each row of a batch-major tensor (the rest stays)."""
    return g.op("ReverseSequence", x, lengths, batch_axis=0, time_axis=1)


# ---------------------------------------------------------------------------------------- pooling
def mean_pool(g: Graph, x: str, mask: str | None) -> str:
    """``(N, T, F) -> (N, F)``: the mean over the steps (the masked ones left out; zeros for none)."""
    if mask is None:
        return g.reduce("ReduceMean", x, [1])
    m = g.unsqueeze(g.op("Cast", mask, to=_onnx().TensorProto.FLOAT), [2])          # (N, T, 1)
    total = g.reduce("ReduceSum", g.op("Mul", x, m), [1])
    count = g.op("Max", g.reduce("ReduceSum", m, [1]), g.const(np.float32(1.0), np.float32))
    return g.op("Div", total, count)


def max_pool(g: Graph, x: str, mask: str | None) -> str:
    """``(N, T, F) -> (N, F)``: the maximum over the (unmasked) steps; zeros for a row with none."""
    if mask is None:
        return g.reduce("ReduceMax", x, [1])
    m3 = g.unsqueeze(mask, [2])
    filled = g.op("Where", m3, x, g.const(np.float32(-np.inf), np.float32))
    best = g.reduce("ReduceMax", filled, [1])
    any_real = g.unsqueeze(g.op("Cast", g.reduce("ReduceMax", g.op("Cast", mask, to=_onnx().TensorProto.INT32), [1]),
                                to=_onnx().TensorProto.BOOL), [1])
    return g.op("Where", any_real, best, g.const(np.float32(0.0), np.float32))


def attention_pool(g: Graph, x: str, mask: str | None, kernel: np.ndarray, bias: np.ndarray,
                   context: np.ndarray) -> str:
    """lstmkit's AttentionPooling: ``softmax_t(v . tanh(W x_t + b))`` over the (unmasked) steps, weighted sum."""
    hidden = g.op("Tanh", g.op("Add", g.op("MatMul", x, g.weight(kernel, "attn_kernel")), g.weight(bias, "attn_bias")))
    scores = g.squeeze(g.op("MatMul", hidden, g.weight(context, "attn_context")), [2])   # (N, T)
    if mask is None:
        weights = g.op("Softmax", scores, axis=1)
    else:
        any_real = g.op("Cast", g.reduce("ReduceMax", g.op("Cast", mask, to=_onnx().TensorProto.INT32), [1],
                                          keepdims=True), to=_onnx().TensorProto.BOOL)           # (N, 1)
        neg = g.op("Where", mask, scores, g.const(np.float32(-np.inf), np.float32))
        safe = g.op("Where", any_real, neg, g.const(np.float32(0.0), np.float32))
        weights = g.op("Mul", g.op("Softmax", safe, axis=1), g.op("Cast", mask, to=_onnx().TensorProto.FLOAT))
    return g.reduce("ReduceSum", g.op("Mul", x, g.unsqueeze(weights, [2])), [1])


__all__ = [
    "Graph", "MIN_OPSET", "DEFAULT_OPSET", "LSTM_ORDER", "GRU_ORDER", "ACTIVATIONS", "activation", "dense", "embedding",
    "onnx_rnn_weights", "cell_weights", "recurrent", "lstm_projected", "compaction", "step_mask", "to_compact",
    "from_compact", "reverse_real_steps", "mean_pool", "max_pool", "attention_pool",
]
