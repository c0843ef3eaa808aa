"""ONNX Runtime as a backend: load an exported file, run it with explicit state, ``predict(..., backend=...)``.

Loading (:func:`load_onnx`) checks that the file is what it claims, each problem one line
(:class:`~lstmkit.errors.ModelFileError`): a missing, empty or truncated file, another format (an lstmkit
``.lstmkit`` model, anything else), an ONNX graph that lstmkit did not export, or one whose graph no
longer matches the ``graph_sha256`` in its metadata (truncated or edited), or that ONNX Runtime refuses.

::

    m = load_onnx("model.onnx")
    y, state = m.run(x)               # zeros as the initial state
    y2, state = m.run(x2, state)      # continues the sequences of x

**Backend.** ``Sequential.predict(x, backend="onnxruntime")`` runs the model's exported graph (exported
in memory and checked against lstmkit once, then cached for the model: a weak map from the model to
its session, keyed by every weight's identity and version counter, so training, ``load_state_dict``
or ``set_weights`` make the next call export again). ``backend="torch"`` is the default.
``backend="auto"`` chooses per call with :func:`choose_backend`.

Measured (the article's model: Embedding(10000, 128) -> LSTM(64) -> Dense(2, softmax), one thread, a
shared 2-core CPU, best of 8-30 calls; milliseconds per call of ``batch`` sequences)::

    length 100:  batch      1      8     16     32     64    128
                 torch    0.58   1.26   1.84   3.20   6.15  11.93
                 ORT      0.20   0.83   1.68   3.30   6.73  14.11
                 ORT int8 0.27   0.59   1.17   2.14   4.45   9.74
    length 20:   torch    0.29   0.43   0.59   0.91   1.56   2.66
                 ORT      0.05   0.17   0.31   0.62   1.27   2.61
    length 400:  torch    1.16   3.37   5.94  11.80  28.83  59.45
                 ORT      0.62   3.35   6.41  13.33  31.00  64.43

ONNX Runtime has the smaller fixed cost per call (about 0.25 ms less); torch's oneDNN LSTM is a few
percent faster per step once a call holds enough work. The two cross where a call holds about
2,000-3,000 sequence steps (batch x length): batch 128 at length 20, 32 at length 100, 8 at length
400. :func:`choose_backend` encodes that. int8 (not chosen automatically: it changes the results
slightly) is the fastest from batch 8 on.
"""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError, InputValueError, LstmkitError, ModelFileError, ShapeError
from lstmkit.export.core import FORMAT, graph_digest, make_session, require_onnx, state_pairs

BACKENDS = ("torch", "onnxruntime", "auto")


# ------------------------------------------------------------------------------------------------ the rule
#: ``auto`` runs ONNX Runtime for calls of at most this many sequence steps (batch x length), torch above
ORT_MAX_STEPS = 2048


def choose_backend(batch: int, length: int | None = None) -> str:
    """The backend ``predict(..., backend="auto")`` uses for a call of ``batch`` sequences of ``length`` steps.

    Rule (the measurements in the module docstring): ``"onnxruntime"`` when ``batch * length <= 2048``
    (:data:`ORT_MAX_STEPS`), else ``"torch"``: ONNX Runtime's smaller fixed cost per call wins on small
    calls (2.9x at batch 1, 100 steps), torch's fused LSTM on large ones (1.1x at batch 64, 100 steps).
    ``length`` ``None`` (no time axis) counts as 1. The first ONNX Runtime call of a model also pays
    for its export and check (tens of milliseconds for small models), once per weight change.
    """
    steps = int(batch) * max(1, int(length or 1))
    return "onnxruntime" if steps <= ORT_MAX_STEPS else "torch"


# ------------------------------------------------------------------------------------------------ a loaded graph
class OnnxModel:
    """An exported graph in an ONNX Runtime session, run with explicit state (see the module docstring)."""

    def __init__(self, session: Any, metadata: dict[str, Any], path: Path | None = None) -> None:
        self.session = session
        self.metadata = metadata
        self.path = path
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        self._inputs = {i.name: i for i in session.get_inputs()}
        self.pairs = state_pairs(self.input_names, self.output_names)
        self._state_inputs = {i for i, _ in self.pairs}

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", "unknown"))

    @property
    def state_names(self) -> list[str]:
        """The state inputs, ``h0_0, c0_0, h0_1, ...``."""
        return [i for i, _ in self.pairs]

    def zero_state(self, batch: int) -> dict[str, np.ndarray]:
        """Zeros for every carried input (a forecaster's ``loc``/``scale`` of 0 mean "this window's own
        statistics")."""
        state = {}
        for name in self.state_names:
            dims = self._inputs[name].shape
            state[name] = np.zeros([batch if not isinstance(d, int) else d for d in dims], np.float32)
        return state

    def _input_array(self, x: Any) -> np.ndarray:
        spec = self._inputs["input"]
        want = np.int64 if "int64" in spec.type else np.float32
        arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
        if want is np.int64 and arr.dtype.kind not in "iu":
            raise InputValueError(f"x: expected integer token ids, found {arr.dtype} values")
        if want is np.int64 and arr.size:
            vocab = self.metadata.get("vocab_size")
            low, high = int(arr.min()), int(arr.max())
            if low < 0 or (isinstance(vocab, int) and high >= vocab):
                bad = low if low < 0 else high
                raise InputValueError(f"x: token id {bad} is out of range; expected ids in 0..{vocab - 1 if vocab else 'vocab-1'}")
        elif want is np.float32 and arr.size and not np.isfinite(arr).all():
            raise InputValueError("x: NaN or infinite value in the input")
        arr = np.ascontiguousarray(arr.astype(want, copy=False))
        if arr.ndim != len(spec.shape):
            raise ShapeError(f"x: expected {len(spec.shape)} axes {tuple(spec.shape)}, found shape {arr.shape}")
        return arr

    def _defaults(self, arr: np.ndarray) -> dict[str, np.ndarray]:
        """Inputs other than ``input`` and the state, from the metadata's ``input_defaults`` (the graph's
        ``metadata_props``, the same as the sidecar's): a number fills
        the input's shape; ``"time"`` is every row's full length (a ``lengths`` input)."""
        out: dict[str, np.ndarray] = {}
        defaults = self.metadata.get("input_defaults") or {}
        for name in self.input_names:
            if name == "input" or name in self._state_inputs or name not in defaults:
                continue
            spec, value = self._inputs[name], defaults[name]
            shape = [arr.shape[0] if not isinstance(d, int) else d for d in spec.shape]
            if value == "time":
                out[name] = np.full(shape, arr.shape[1], np.int64)
            else:
                out[name] = np.full(shape, float(value), np.int64 if "int64" in spec.type else np.float32)
        return out

    def run(self, x: Any, state: dict[str, Any] | None = None, **inputs: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(output, next_state)`` for ``x``; ``state`` (``{"h0_0": ..., ...}``, e.g. the previous call's
        ``next_state``) defaults to zeros. ``next_state`` is keyed by the input names, ready to feed back.
        ``inputs``: the graph's other inputs (a classifier's ``lengths``); left out, they take the
        sidecar's ``input_defaults``."""
        arr = self._input_array(x)
        feeds = self.zero_state(arr.shape[0])
        feeds.update(self._defaults(arr))
        for name, value in inputs.items():
            if name not in self._inputs or name == "input":
                raise ConfigError(f"{name}: not an input of this graph (it takes {', '.join(self.input_names)})")
            spec = self._inputs[name]
            feeds[name] = np.asarray(value, np.int64 if "int64" in spec.type else np.float32)
        if state is not None:
            unknown = sorted(set(state) - set(feeds))
            if unknown:
                raise ConfigError(f"state: unknown part {unknown[0]!r} (this graph takes {', '.join(feeds) or 'none'})")
            feeds.update({k: np.asarray(v, np.float32) for k, v in state.items()})
        feeds["input"] = arr
        try:
            results = self.session.run(None, feeds)
        except Exception as e:  # noqa: BLE001 - onnxruntime's own error types: one line, never a traceback
            raise InputValueError(f"x: ONNX Runtime refused the input ({' '.join(str(e).split())[:240]})") from None
        outs = dict(zip(self.output_names, results))
        return outs["output"], {i: outs[o] for i, o in self.pairs}

    __call__ = run


def _read_metadata(model: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for prop in model.metadata_props:
        try:
            meta[prop.key] = json.loads(prop.value) if prop.value[:1] in "[{0123456789-tfn" else prop.value
        except ValueError:
            meta[prop.key] = prop.value
    return meta


def load_onnx(path: Any, *, threads: int | None = None) -> OnnxModel:
    """Open an ONNX file written by :func:`lstmkit.export.to_onnx`, checked (see the module docstring)."""
    onnx, _ = require_onnx()
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise ModelFileError(f"path: expected the path of an ONNX file, found {type(path).__name__}")
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"ONNX file {str(p)!r}: does not exist" if not p.exists() else
                             f"ONNX file {str(p)!r}: is not a file")
    data = p.read_bytes()
    if not data:
        raise ModelFileError(f"ONNX file {str(p)!r}: is empty")
    if len(data) >= 9 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") < len(data):
        raise ModelFileError(f"ONNX file {str(p)!r}: is an lstmkit (safetensors) model file, not ONNX; "
                             "export it with: lstmkit export MODEL -o model.onnx")
    try:
        model = onnx.load_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise ModelFileError(f"ONNX file {str(p)!r}: not an ONNX model (truncated or another format)") from None
    meta = _read_metadata(model)
    if not len(model.graph.node) or meta.get("format") != FORMAT:
        raise ModelFileError(f"ONNX file {str(p)!r}: not an lstmkit export (no {FORMAT!r} metadata"
                             f"{'' if len(model.graph.node) else '; no graph: truncated or another format'}); "
                             "export a model with: lstmkit export MODEL -o model.onnx")
    if str(meta.get("graph_sha256")) != graph_digest(model):
        raise ModelFileError(f"ONNX file {str(p)!r}: its graph does not match the graph_sha256 in its metadata "
                             "(truncated or edited); export the model again")
    try:
        session = make_session(data, threads if threads is not None else _torch_threads())
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelFileError(f"ONNX file {str(p)!r}: ONNX Runtime cannot run it ({' '.join(str(e).split())[:200]})") from None
    return OnnxModel(session, meta, p)


def _torch_threads() -> int:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:  # pragma: no cover
        return 1


# ------------------------------------------------------------------------------------------------ the backend
_CACHE: "weakref.WeakKeyDictionary[Any, tuple[Any, OnnxModel]]" = weakref.WeakKeyDictionary()


def weights_key(model: Any) -> tuple:
    """What makes an exported graph stale: the model's layers and every weight's identity, storage and
    version counter (bumped by any in-place change: an optimizer step, ``load_state_dict``, ``set_weights``)."""
    if not hasattr(model, "parameters"):  # a task model (TextClassifier): the weights of its network
        inner = next((getattr(model, a) for a in ("model_", "network_", "model") if hasattr(getattr(model, a, None),
                                                                                     "parameters")), None)
        return ("task", id(inner), weights_key(inner)) if inner is not None else ("task", id(model))
    parts: list[Any] = [id(getattr(model, "layers", None)), len(getattr(model, "layers", []) or [])]
    for t in list(model.parameters()) + list(model.buffers()):
        parts.append((id(t), t._version, t.data_ptr(), tuple(t.shape)))
    return tuple(parts)


def runner_for(model: Any) -> OnnxModel:
    """The model's exported graph in an ONNX Runtime session: exported and checked on first use, cached
    until a weight changes (see :func:`weights_key`)."""
    threads = _torch_threads()
    key = (weights_key(model), threads)
    hit = _CACHE.get(model)
    if hit is not None and hit[0] == key:
        return hit[1]
    from lstmkit.export.core import DEFAULT_OPSET, check_exported, describe, export_model

    exported = export_model(model, DEFAULT_OPSET)
    session = make_session(exported.model, threads)
    check_exported(exported, session)
    runner = OnnxModel(session, describe(exported, DEFAULT_OPSET, False))
    _CACHE[model] = (key, runner)
    return runner


def check_backend(backend: Any) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"backend: expected one of {', '.join(map(repr, BACKENDS))}, found {backend!r}")
    return backend


def predict(model: Any, x: Any, *, batch_size: Any = 32, verbose: Any = 0, backend: str = "onnxruntime") -> np.ndarray:
    """``model.predict(x)`` through ONNX Runtime (``backend="onnxruntime"``), torch, or the one
    :func:`choose_backend` picks (``"auto"``). Same checks and output (float32 numpy) as torch's predict."""
    from lstmkit.models.data import as_tensor
    from lstmkit.models.training import _check_batch_size, _check_verbose
    from lstmkit.models.training import predict as torch_predict

    backend = check_backend(backend)
    batch_size = _check_batch_size(batch_size)
    _check_verbose(verbose)
    xt = as_tensor(x, "x")
    if backend == "torch":
        return torch_predict(model, xt, batch_size=batch_size, verbose=verbose)
    model.ensure_built(xt)
    model.check_inputs(xt, "x")
    if backend == "auto":
        length = int(xt.shape[1]) if xt.dim() > 1 else None
        if choose_backend(min(batch_size, int(xt.shape[0])), length) == "torch":
            return torch_predict(model, xt, batch_size=batch_size, verbose=verbose)
        try:
            runner = runner_for(model)
        except LstmkitError:  # a model the export does not cover (no recurrent layer ...): torch runs it
            return torch_predict(model, xt, batch_size=batch_size, verbose=verbose)
    else:
        runner = runner_for(model)
    xs = xt.cpu().numpy()
    outs = [runner.run(xs[i:i + batch_size])[0] for i in range(0, xs.shape[0], batch_size)]
    return np.concatenate(outs).astype(np.float32, copy=False) if outs else np.zeros((0,), np.float32)


__all__ = ["BACKENDS", "ORT_MAX_STEPS", "choose_backend", "OnnxModel", "load_onnx", "runner_for", "weights_key", "check_backend", "predict"]
