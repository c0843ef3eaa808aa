r"""What the stream engine runs: a model compiled into a one-step program over flat state vectors.

A :class:`StreamProgram` turns a model into three things the engine needs:

* ``encode_many(xs, ids)``: one event's input per stream, validated, as a batch array (``(B, I)``
  float32 vectors, or ``(B,)`` int64 token ids);
* ``run(X, S, trace)``: one time step for a batch of streams. ``S`` ``(B, state_size)`` holds each
  stream's state flattened (``layout`` names the parts, e.g. ``layer0.h``, ``layer0.c``); returns
  the raw outputs ``Y`` ``(B, out)``, the new states ``(B, state_size)`` and, with ``trace``, the
  gates of every recurrent layer;
* ``decode(y, ...)``: the raw output row as the user sees it (a vector for a Sequential; class
  probabilities, forecast rows or a next-token distribution for the task models).

:class:`SequentialProgram` compiles a :class:`~lstmkit.models.Sequential` built from ``Input``,
``Embedding``, forward ``LSTM`` / ``GRU`` / ``SimpleRNN``, ``Dropout`` (identity at inference) and
``Dense`` layers, onto the kernels of :mod:`lstmkit.nn.step`. For a stream with events
``x_1 .. x_t``, the output of step ``t`` equals ``model.predict(x_1..x_t)`` (a last recurrent layer
that returns only its final state is stepped as if the sequence ended at that step).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

import numpy as np

from lstmkit.errors import ConfigError, InputValueError, ShapeError


class StreamProgram:
    """The interface :class:`~lstmkit.stream.engine.StreamEngine` drives (see the module docstring)."""

    kind: str = "model"
    signature: str = ""
    state_size: int = 0
    layout: list[tuple[str, int, int]] = []  # (name, offset, size) in the flat state

    def zeros(self) -> np.ndarray:
        return np.zeros(self.state_size, np.float32)

    def encode(self, x: Any, stream_id: str) -> Any:
        raise NotImplementedError

    def encode_many(self, xs: Sequence[Any], ids: Sequence[str]) -> np.ndarray:
        """All inputs of a call as one array; the first bad one is an error naming its stream."""
        return np.stack([self.encode(x, sid) for x, sid in zip(xs, ids)])

    def run(self, x: np.ndarray, s: np.ndarray, trace: bool = False):
        raise NotImplementedError

    def decode(self, y: np.ndarray) -> Any:
        return y

    def flatten_named(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """A state stored by name (an older record) as this program's flat vector."""
        flat = self.zeros()
        for name, off, size in self.layout:
            if name not in tensors or np.asarray(tensors[name]).size != size:
                raise ConfigError(f"stored state: part {name!r} of {size} values is missing or of another size")
            flat[off:off + size] = np.asarray(tensors[name], np.float32).reshape(-1)
        return flat

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        return {name: np.array(flat[off:off + size], np.float32) for name, off, size in self.layout}

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "signature": self.signature}


def _layer_plan(model: Any) -> list[tuple[str, Any]]:
    from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, InputLayer, SimpleRNN

    plan: list[tuple[str, Any]] = []
    for layer in getattr(model, "layers", None) or []:
        if isinstance(layer, InputLayer):
            continue
        if isinstance(layer, Bidirectional):
            raise ConfigError(f"layer {layer.name!r}: a Bidirectional layer reads the future, so it cannot be "
                              "stepped one event at a time; stream a forward-only model")
        if isinstance(layer, (LSTM, GRU, SimpleRNN)):
            if getattr(layer, "go_backwards", False):
                raise ConfigError(f"layer {layer.name!r}: go_backwards=True reads the sequence from its end; "
                                  "it cannot be stepped one event at a time")
            if isinstance(layer, GRU) and not layer.reset_after:
                raise ConfigError(f"layer {layer.name!r}: GRU(reset_after=False) is not supported by the step "
                                  "kernels (they compute reset_after=True); stream a GRU with reset_after=True")
            plan.append(("lstm" if isinstance(layer, LSTM) else "gru" if isinstance(layer, GRU) else "rnn", layer))
        elif isinstance(layer, Embedding):
            plan.append(("embedding", layer))
        elif isinstance(layer, Dropout):
            continue
        elif isinstance(layer, Dense):
            plan.append(("dense", layer))
        else:
            raise ConfigError(f"layer {layer.name!r} ({type(layer).__name__}): not supported by StreamEngine yet "
                              "(supported: Input, Embedding, LSTM, GRU, SimpleRNN, Dropout, Dense)")
    if not any(kind in ("lstm", "gru", "rnn") for kind, _ in plan):
        raise ConfigError("model: no recurrent layer (LSTM, GRU or SimpleRNN); there is no memory to keep")
    if any(kind == "embedding" for kind, _ in plan[1:]):
        raise ConfigError("model: an Embedding must be the first layer to be stepped")
    return plan


def model_signature(model: Any) -> str:
    """sha256 over the model's layer configs and weights: a state written by another model (or the same
    architecture with other weights) is refused."""
    h = hashlib.sha256()
    h.update(json.dumps([_signed_config(layer) for layer in model.layers], sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


#: config entries added after states were first saved, left out at their default so those states still load
_SIGNATURE_DEFAULTS = {"reset_after": True}


def _signed_config(layer: Any) -> dict:
    config = dict(layer.get_config())
    for key, default in _SIGNATURE_DEFAULTS.items():
        if key in config and config[key] == default:
            del config[key]
    for key in ("layer", "backward_layer"):  # Bidirectional's wrapped layers
        if isinstance(config.get(key), dict) and isinstance(config[key].get("config"), dict):
            inner = dict(config[key]["config"])
            for k, default in _SIGNATURE_DEFAULTS.items():
                if inner.get(k, object()) == default:
                    del inner[k]
            config[key] = {**config[key], "config": inner}
    return config


def _cell_weights(cell: Any) -> tuple[Any, Any, Any, Any]:
    if getattr(cell, "num_layers", 1) != 1 or getattr(cell, "bidirectional", False):
        raise ConfigError("recurrent layer: only one forward layer per Keras-style layer can be stepped")
    for part in ("weight_hr_l0", "weight_ci_l0"):
        if getattr(cell, part, None) is not None:
            raise ConfigError(f"recurrent layer: {part.split('_')[1]} weights are not supported by the step kernels")
    if getattr(cell, "layer_norm", False):
        raise ConfigError("recurrent layer: layer_norm is not supported by the step kernels")
    return (cell.weight_ih_l0, cell.weight_hh_l0, getattr(cell, "bias_ih_l0", None), getattr(cell, "bias_hh_l0", None))


#: the step backends of :class:`SequentialProgram` (see :func:`step_backend`)
STEP_BACKENDS = ("auto", "lstmkit", "onnxruntime")


def step_backend(backend: Any) -> str:
    """The backend a Sequential program steps with.

    ``"lstmkit"``: the one-step kernels of :mod:`lstmkit.nn.step`. ``"onnxruntime"``: the model's ONNX
    export (:mod:`lstmkit.export`), called with time 1 and the state fed in and out. ``"auto"`` is
    ``"lstmkit"``: measured in the same run (``benchmarks/stream_engine.py``), the step kernel is at
    or below ONNX Runtime's LSTM at batch 1 (2.0x at hidden 64, 1.5x at 256) and per event with 256
    streams (1.06-1.10x), and an ONNX Runtime call costs its fixed few microseconds on top for the
    Embedding and Dense layers. The ONNX path is there for parity and for deployments that run only
    the exported graph.
    """
    if backend not in STEP_BACKENDS:
        raise ConfigError(f"backend: expected one of {', '.join(STEP_BACKENDS)}, found {backend!r}")
    return "lstmkit" if backend == "auto" else str(backend)


class SequentialProgram(StreamProgram):
    """A Keras-style Sequential compiled onto :mod:`lstmkit.nn.step` kernels (see the module docstring);
    with ``backend="onnxruntime"``, onto its ONNX export instead (:func:`step_backend`)."""

    kind = "sequential"

    def __init__(self, model: Any, backend: str = "auto") -> None:
        from lstmkit.nn.step import DenseStep, GRUStep, LSTMStep, RNNStep

        self.model = model
        model.eval()
        self.plan = _layer_plan(model)
        self.signature = model_signature(model)
        self.steps: list[tuple[str, Any, Any]] = []   # (kind, kernel, layer)
        layout: list[tuple[str, int, int]] = []
        off = 0
        for i, (kind, layer) in enumerate(self.plan):
            if kind == "embedding":
                self.steps.append((kind, layer.embeddings.detach().cpu().float().numpy().copy(), layer))
            elif kind == "dense":
                self.steps.append((kind, DenseStep(layer.kernel, layer.bias, layer.activation, layer._activation_fn), layer))
            else:
                kernel = {"lstm": LSTMStep, "gru": GRUStep, "rnn": RNNStep}[kind](*_cell_weights(layer.cell))
                names = [f"layer{i}.h", f"layer{i}.c"] if kind == "lstm" else [f"layer{i}.h"]
                for name in names:
                    layout.append((name, off, layer.units))
                    off += layer.units
                self.steps.append((kind, kernel, layer))
        self.layout, self.state_size = layout, off
        self._offsets = {name: o for name, o, _ in layout}
        first_kind, first = self.plan[0]
        self.token_input = first_kind == "embedding"
        if self.token_input:
            self.vocabulary, self.mask_zero = int(first.input_dim), bool(getattr(first, "mask_zero", False))
        else:
            shape = getattr(first, "built_input_shape", None)
            if not shape:
                raise ConfigError("model: not built yet (call it or give Input(shape=...) first)")
            self.n_in = int(shape[-1])
        last = self.plan[-1][1]
        self.out_size = int(last.units if hasattr(last, "units") else last.output_dim)
        self.backend = step_backend(backend)
        self._onnx: Any = None
        if self.backend == "onnxruntime":
            from lstmkit.export.runtime import runner_for

            self._onnx = runner_for(model)  # exported and checked against lstmkit once
            # graph state k (h0_k, c0_k) <-> the k-th recurrent layer's parts of the flat state
            recurrent = [i for i, (kind, _) in enumerate(self.plan) if kind in ("lstm", "gru", "rnn")]
            self._onnx_state = []
            for k, i in enumerate(recurrent):
                for part, graph in (("h", "h0"), ("c", "c0")):
                    name = f"layer{i}.{part}"
                    if name in self._offsets:
                        off = self._offsets[name]
                        self._onnx_state.append((f"{graph}_{k}", off, self.plan[i][1].units))

    # ------------------------------------------------------------------ inputs
    def encode(self, x: Any, stream_id: str) -> Any:
        if self.token_input:
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
                raise InputValueError(f"stream {stream_id!r}: input: expected one token id (an integer), found {x!r}"[:300])
            if not 0 <= int(x) < self.vocabulary:
                raise InputValueError(f"stream {stream_id!r}: input: token id must be in 0..{self.vocabulary - 1}, found {x}")
            if int(x) == 0 and self.mask_zero:
                raise InputValueError(f"stream {stream_id!r}: input: token id 0 is padding (mask_zero=True), not an event")
            return np.int64(x)
        try:
            arr = np.asarray(x) if not isinstance(x, (str, bytes, dict)) else None
        except (TypeError, ValueError):  # ragged lists and the like
            arr = None
        if arr is None or arr.dtype.kind not in "fiu":
            raise InputValueError(f"stream {stream_id!r}: input: expected {self.n_in} number(s), found {x!r}"[:300])
        arr = arr.reshape(-1) if arr.ndim <= 1 else arr
        if arr.shape != (self.n_in,):
            raise ShapeError(f"stream {stream_id!r}: input: expected {self.n_in} number(s) per step, found shape {np.shape(x)}")
        with np.errstate(over="ignore", invalid="ignore"):
            out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise InputValueError(f"stream {stream_id!r}: input: NaN, infinite or beyond float32 range "
                                  f"(|x| > 3.4e38) value in {arr.tolist()}"[:300])
        return out

    def encode_many(self, xs: Sequence[Any], ids: Sequence[str]) -> np.ndarray:
        n = len(xs)
        try:
            if self.token_input:
                arr = np.asarray(xs)
                ok = (arr.shape == (n,) and arr.dtype.kind in "iu"
                      and (n == 0 or (int(arr.min()) >= (1 if self.mask_zero else 0) and int(arr.max()) < self.vocabulary)))
                if ok:
                    return arr.astype(np.int64, copy=False)
            else:
                arr = np.asarray(xs)
                if arr.dtype.kind in "fiu":
                    with np.errstate(over="ignore", invalid="ignore"):
                        arr = arr.astype(np.float32, copy=False)
                    if self.n_in == 1 and arr.shape == (n,):
                        arr = arr.reshape(n, 1)
                    if arr.shape == (n, self.n_in) and np.isfinite(arr).all():
                        return arr
        except (ValueError, TypeError, OverflowError):
            pass
        return super().encode_many(xs, ids).reshape(n, -1) if not self.token_input else super().encode_many(xs, ids)

    # ------------------------------------------------------------------ one step
    def _run_onnx(self, x: np.ndarray, s: np.ndarray):
        state = {name: np.ascontiguousarray(s[None, :, off:off + size]) for name, off, size in self._onnx_state}
        y, nxt = self._onnx.run(x[:, None] if self.token_input else x[:, None, :], state)
        new = np.empty_like(s)
        for name, off, size in self._onnx_state:
            new[:, off:off + size] = nxt[name][0]
        y = np.asarray(y, np.float32)
        return (y[:, -1] if y.ndim == 3 else y), new, None

    def run(self, x: np.ndarray, s: np.ndarray, trace: bool = False):
        """``x`` ``(B, I)`` or ``(B,)`` tokens, ``s`` ``(B, state_size)``: returns ``(Y, S', traces)``.
        A traced step always runs the kernels (the exported graph has no gate outputs)."""
        if self._onnx is not None and not trace:
            return self._run_onnx(x, s)
        new = np.empty_like(s)
        traces: dict[str, dict[str, np.ndarray]] | None = {} if trace else None
        h = x
        for i, (kind, kernel, layer) in enumerate(self.steps):
            if kind == "embedding":
                h = kernel[h]
            elif kind == "dense":
                h = kernel(h)
            elif kind == "lstm":
                o_h, units = self._offsets[f"layer{i}.h"], layer.units
                o_c = self._offsets[f"layer{i}.c"]
                got = kernel(h, s[:, o_h:o_h + units], s[:, o_c:o_c + units], trace,
                             out=(new[:, o_h:o_h + units], new[:, o_c:o_c + units]))
                if trace:
                    traces[layer.name] = {**got[2], "cell_state": got[1].copy(), "hidden_state": got[0].copy()}
                h = got[0]
            else:
                o_h, units = self._offsets[f"layer{i}.h"], layer.units
                got = kernel(h, s[:, o_h:o_h + units], trace)
                hn = got[0] if trace else got
                new[:, o_h:o_h + units] = hn
                if trace:
                    traces[layer.name] = {**got[1], "hidden_state": hn.copy()}
                h = hn
        return h, new, traces

    def info(self) -> dict[str, Any]:
        if self.token_input:
            inp: dict[str, Any] = {"kind": "token", "dtype": "int", "vocabulary": self.vocabulary,
                                   "padding_id": 0 if self.mask_zero else None}
        else:
            inp = {"kind": "vector", "dtype": "float32", "shape": [self.n_in]}
        return {"kind": self.kind, "signature": self.signature, "backend": self.backend, "input": inp,
                "output": {"kind": "vector", "dtype": "float32", "shape": [self.out_size]},
                "layers": [type(layer).__name__ for _, layer in self.plan],
                "state": {name: [size] for name, _, size in self.layout}}


__all__ = ["StreamProgram", "SequentialProgram", "model_signature", "step_backend", "STEP_BACKENDS"]
