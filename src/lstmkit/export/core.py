r"""``to_onnx``: export a model to ONNX, check it against lstmkit on the spot, write it atomically.

::

    from lstmkit.export import to_onnx
    to_onnx(model, "model.onnx")                 # Sequential, TextClassifier, language model, Forecaster, ...
    to_onnx(model, "model.int8.onnx", int8=True) # weights of LSTM / MatMul / Gather in int8

What is written:

* ``model.onnx``: the graph (see :mod:`lstmkit.export.base` for the conventions every kind follows:
  ``input`` first, then ``h0_<k>`` / ``c0_<k>``; ``output`` first, then ``hn_<k>`` / ``cn_<k>``; batch
  and time dynamic), with the metadata in the ONNX ``metadata_props``: one entry per key, a string as it
  is, any other value as JSON, plus ``graph_sha256`` (SHA-256 of the serialized graph: a truncated or
  edited file is detected when it is loaded back, :func:`lstmkit.export.runtime.load_onnx`);
* ``model.onnx.json`` (the sidecar): the same metadata as one JSON document, plus the ONNX file's own
  SHA-256, for a user without an ONNX metadata reader. It says how to turn raw input (text) into the
  graph's ``input`` (vocabulary, tokenisation, max_length, classes) and what each input and output means.

**The check.** Before anything is written, ONNX Runtime runs the graph on sample inputs and must
reproduce lstmkit's outputs and final states to ``1e-5`` (``|ort - lstmkit| <= 1e-5 * max(1, |lstmkit|)``):

1. a batch of 3 sequences of 7 steps, from random (not zero) initial states;
2. one sequence of one step;
3. where the kind has variable lengths: one batch padded every way (after, before, holes, all padding);
4. a state carried over two calls: the ``hn`` / ``cn`` ONNX Runtime returned for one call are fed as
   ``h0`` / ``c0`` of the next call, to ONNX Runtime and to lstmkit alike.

Otherwise the export fails with one line naming the output, the index and the difference, and no file
is written. Both files go through a temporary file and a rename, so an existing file is never left
half-written. ``check=False`` skips the check (not recommended).

**int8** (``int8=True``): the checked float graph goes through ONNX Runtime's dynamic quantization
(``onnxruntime.quantization.quantize_dynamic``, int8 weights; ``LSTM`` becomes ``DynamicQuantizeLSTM``,
``MatMul`` ``MatMulInteger``, an embedding's ``Gather`` reads an int8 table). Its results are no longer
exact: it is checked on the same inputs with the looser :data:`INT8_TOLERANCE` and the largest difference
is reported (``ExportResult.int8_max_diff``). GRU and SimpleRNN operators stay float (ONNX Runtime has
no quantized form of them); only their surrounding MatMul / Gather are quantized.

Opsets: :data:`~lstmkit.export.onnx_graph.MIN_OPSET` (13) to the installed ``onnx``'s newest; default 17.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.errors import ConfigError, LstmkitError
from lstmkit.export.base import Exported, Feeds
from lstmkit.export.onnx_graph import DEFAULT_OPSET, MIN_OPSET

#: the float graph must reproduce lstmkit to this (relative above 1)
TOLERANCE = 1e-5
#: the int8 graph's allowance: largest |difference| from lstmkit on the sample inputs, relative above 1
INT8_TOLERANCE = 0.05
FORMAT = "lstmkit-onnx"
FORMAT_VERSION = 1
#: the model kinds whose exporters live in lstmkit.export.tasks
TASK_KINDS = ("Forecaster", "SequenceClassifier")


class ExportCheckError(LstmkitError):
    """ONNX Runtime does not reproduce lstmkit on a sample input (one line: which output, where, how much)."""


@dataclass
class ExportResult:
    """What :func:`write_onnx` did: the files, the kind, and the check's largest differences."""

    path: Path
    sidecar: Path
    kind: str
    opset: int
    int8: bool
    inputs: list[str]
    outputs: list[str]
    bytes: int
    checked: bool
    max_diff: float | None = None          # float graph vs lstmkit, over all checked outputs
    int8_max_diff: float | None = None     # int8 graph vs lstmkit (int8=True)
    cases: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ requirements
def require_onnx() -> tuple[Any, Any]:
    """``(onnx, onnxruntime)``, or a one-line ConfigError saying how to install them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise ConfigError(f"ONNX export needs the onnx and onnxruntime packages ({e.name} is missing); "
                          "install them with: pip install 'lstmkit[export]'") from None
    return onnx, onnxruntime


def check_opset(opset: Any) -> int:
    """``opset`` checked: an integer from :data:`MIN_OPSET` to the installed onnx's newest."""
    onnx, _ = require_onnx()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise ConfigError(f"opset: expected an integer from {MIN_OPSET} to {newest}, found {opset!r}")
    if opset < MIN_OPSET:
        raise ConfigError(f"opset: {opset} is too old; the exported graphs need opset {MIN_OPSET} or newer "
                          f"(Softmax over one axis, ReduceSum/Unsqueeze with axes as inputs); use {MIN_OPSET} to {newest}")
    if opset > newest:
        raise ConfigError(f"opset: {opset} is newer than the installed onnx {onnx.__version__} knows (at most {newest})")
    return int(opset)


# ------------------------------------------------------------------------------------------------ dispatch
def _export_task(obj: Any, opset: int) -> Exported:
    import importlib

    try:
        # By name, like lstmkit.util.registry's loaders: the task exporters are another module's, and may
        # themselves use this one's helpers.
        tasks = importlib.import_module("lstmkit.export.tasks")
    except ModuleNotFoundError as e:
        if e.name != "lstmkit.export.tasks":
            raise
        raise ConfigError(f"{type(obj).__name__}: ONNX export of this model kind is not available in this lstmkit "
                          "(lstmkit.export.tasks is missing)") from None
    fn = tasks.export_task
    try:
        takes_opset = "opset" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes_opset = False
    return fn(obj, opset=opset) if takes_opset else fn(obj)


def export_model(obj: Any, opset: int = DEFAULT_OPSET) -> Exported:
    """The :class:`~lstmkit.export.base.Exported` of ``obj`` (a model, or the path of an lstmkit model file),
    not checked and not written; :func:`write_onnx` does both."""
    opset = check_opset(opset)
    if isinstance(obj, (str, os.PathLike)):
        from lstmkit.util.registry import load

        obj = load(obj)
    name = type(obj).__name__
    if name in TASK_KINDS:
        return _export_task(obj, opset)
    from lstmkit.export import sequential as seq
    from lstmkit.models import Sequential

    if isinstance(obj, Sequential):
        return seq.export_sequential(obj, opset)
    if name == "TextClassifier":
        return seq.export_text_classifier(obj, opset)
    if name == "SentimentClassifier":
        return seq.export_sentiment(obj, opset)
    if name in ("LanguageModelGenerator", "LanguageModel"):
        return seq.export_language_model(obj, opset)
    if name == "Checkpoint":
        raise ConfigError("model: is a training checkpoint; export the trained model file instead")
    raise ConfigError(f"model: cannot export a {name} to ONNX (expected a Sequential, TextClassifier, language model, "
                      "Forecaster or SequenceClassifier, or the path of one's file)")


# ------------------------------------------------------------------------------------------------ checking
def _checked_session(model: Any, what: str) -> Any:
    """:func:`make_session` for the check: ONNX Runtime refusing the graph is one line, nothing written."""
    try:
        return make_session(model)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ExportCheckError(f"export check failed: ONNX Runtime cannot load the {what} graph "
                               f"({' '.join(str(e).split())[:300]}); nothing was written") from None


def make_session(model: Any, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session for a ModelProto or serialized bytes."""
    _, ort = require_onnx()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    data = model if isinstance(model, (bytes, bytearray)) else model.SerializeToString()
    return ort.InferenceSession(bytes(data), sess_options=opts, providers=["CPUExecutionProvider"])


def state_pairs(input_names: list[str], output_names: list[str]) -> list[tuple[str, str]]:
    """``(h0_k, hn_k)``, ``(c0_k, cn_k)`` and any ``(x, x_n)`` (a forecaster's ``loc``/``scale``): which
    output of a call feeds which input of the next."""
    pairs = []
    for name in input_names:
        if name[:3] in ("h0_", "c0_"):
            out = name[0] + "n_" + name[3:]
            if out in output_names:
                pairs.append((name, out))
        elif name + "_n" in output_names:
            pairs.append((name, name + "_n"))
    return pairs


def _compare(label: str, names: list[str], got: list[np.ndarray], want: list[np.ndarray], tol: float) -> float:
    if len(got) != len(want):
        raise ExportCheckError(f"export check failed ({label}): the graph has {len(got)} outputs, lstmkit gives "
                               f"{len(want)}; nothing was written")
    worst = 0.0
    for name, a, b in zip(names, got, want):
        a = np.asarray(a, np.float64)
        b = np.asarray(b, np.float64)
        if a.shape != b.shape:
            raise ExportCheckError(f"export check failed ({label}): output {name!r} has shape {a.shape} in ONNX "
                                   f"Runtime but {b.shape} in lstmkit; nothing was written")
        if not a.size:
            continue
        diff = np.abs(a - b)
        diff = np.where(np.isnan(a) != np.isnan(b), np.inf, np.nan_to_num(diff, nan=0.0))
        scaled = diff / np.maximum(1.0, np.abs(np.nan_to_num(b)))
        i = int(np.argmax(scaled))
        where = tuple(int(v) for v in np.unravel_index(i, a.shape))
        worst = max(worst, float(diff.max()))
        if not scaled.flat[i] <= tol:
            raise ExportCheckError(
                f"export check failed ({label}): output {name!r} differs from lstmkit at index {list(where)} by "
                f"{float(diff[where]):.3g} (ONNX Runtime {float(a[where]):.7g}, lstmkit {float(b[where]):.7g}; "
                f"tolerance {tol:g}); nothing was written")
    return worst


def check_cases(exported: Exported) -> list[tuple[str, Feeds]]:
    """The sample inputs of the check (the carried-state case is run separately, see :func:`check_exported`)."""
    def label(feeds: Feeds) -> str:
        shape = np.asarray(feeds["input"]).shape
        if len(shape) < 2:
            return f"input of shape {shape}"
        n, t = shape[:2]
        return f"{n} sequence{'s' if n != 1 else ''} of {t} step{'s' if t != 1 else ''}"

    cases = [(label(f), f) for f in (exported.sample_feeds(3, 7, 0), exported.sample_feeds(1, 1, 1))]
    if exported.ragged_feeds is not None:
        cases.append(("padded batch of unequal lengths", exported.ragged_feeds(2)))
    return cases


def _reference(exported: Exported, feeds: Feeds) -> list[np.ndarray]:
    with warnings.catch_warnings():
        # torch's note that its oneDNN LSTM has no projection (it falls back by itself) is not the user's business
        warnings.filterwarnings("ignore", message=".*LSTM with projections is not supported", category=UserWarning)
        return exported.reference(feeds)


def check_exported(exported: Exported, session: Any, tolerance: float = TOLERANCE) -> tuple[float, list[str]]:
    """Run ``session`` (the exported graph, or its int8 form) on the sample inputs and compare with
    ``exported.reference``; returns the largest |difference| and the cases run, or raises ExportCheckError."""
    if exported.sample_feeds is None or exported.reference is None:
        raise ConfigError(f"exporter of kind {exported.kind!r}: gives no sample inputs or reference to check against")
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if not inputs or inputs[0] != "input" or not outputs or outputs[0] != "output":
        raise ExportCheckError(f"export check failed: the graph's first input and output must be named 'input' and "
                               f"'output', found {inputs[:1]} and {outputs[:1]}; nothing was written")
    worst, labels = 0.0, []
    for label, feeds in check_cases(exported):
        got = session.run(None, {k: v for k, v in feeds.items() if k in inputs})
        worst = max(worst, _compare(label, outputs, got, _reference(exported, feeds), tolerance))
        labels.append(label)
    pairs = state_pairs(inputs, outputs)
    if pairs:
        label = "state carried over two calls"
        first = exported.sample_feeds(2, 5, 3)
        got1 = dict(zip(outputs, session.run(None, {k: v for k, v in first.items() if k in inputs})))
        second = exported.sample_feeds(2, 4, 4)
        for inp, out in pairs:
            second[inp] = np.asarray(got1[out], np.float32)
        got2 = session.run(None, {k: v for k, v in second.items() if k in inputs})
        worst = max(worst, _compare(label, outputs, got2, _reference(exported, second), tolerance))
        labels.append(label)
    return worst, labels


# ------------------------------------------------------------------------------------------------ int8
def quantize_int8(model: Any) -> Any:
    """ONNX Runtime's dynamic int8 quantization of ``model`` (LSTM, MatMul, Gather weights)."""
    import tempfile

    onnx, _ = require_onnx()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice ("consider pre-processing") on the root logger
    try:
        with tempfile.TemporaryDirectory(prefix="lstmkit-int8-") as tmp:
            src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            src.write_bytes(model.SerializeToString())
            quantize_dynamic(str(src), str(dst), op_types_to_quantize=["LSTM", "MatMul", "Gather"],
                             weight_type=QuantType.QInt8, per_channel=False)
            return onnx.load_from_string(dst.read_bytes())
    finally:
        root.setLevel(level)


# ------------------------------------------------------------------------------------------------ writing
def graph_digest(model: Any) -> str:
    """SHA-256 of the serialized graph (what ``graph_sha256`` in the metadata holds)."""
    return hashlib.sha256(model.graph.SerializeToString()).hexdigest()


def _io(values: Any) -> list[dict[str, Any]]:
    onnx, _ = require_onnx()
    out = []
    for v in values:
        t = v.type.tensor_type
        shape = [d.dim_param if d.dim_param else int(d.dim_value) for d in t.shape.dim]
        out.append({"name": v.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": shape})
    return out


def describe(exported: Exported, opset: int, int8: bool) -> dict[str, Any]:
    """The metadata written to ``metadata_props`` and the sidecar (without the file's own hash)."""
    from lstmkit._version import __version__

    model = exported.model
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": exported.kind,
        "lstmkit_version": __version__,
        "opset": opset,
        "int8": int8,
        "inputs": _io(model.graph.input),
        "outputs": _io(model.graph.output),
        "conventions": ("inputs: 'input' first, then h0_<k> (and c0_<k> for an LSTM) per recurrent layer k, shaped "
                        "(directions, batch, hidden); outputs: 'output' first, then hn_<k> / cn_<k> in the same order. "
                        "Feed zeros as h0/c0 to start; feed hn/cn of one call as h0/c0 of the next to continue. "
                        "Batch and time axes are dynamic."),
        "metadata_props": "each key of this document is one ONNX metadata_props entry: strings as they are, any other "
                          "value as JSON; graph_sha256 is the SHA-256 of the serialized graph",
    }
    meta.update(exported.metadata)
    return meta


def _props(meta: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in meta.items()}


def _check_destination(path: Any) -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ConfigError(f"path: expected a file path such as model.onnx, found {path!r}"[:200])
    p = Path(path).expanduser()
    if p.is_dir():
        raise ConfigError(f"path: {str(p)!r} is a directory; give a file path such as {str(p / 'model.onnx')!r}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"path: the folder {str(folder)!r} does not exist")
    return p


def write_onnx(obj: Any, path: Any, *, opset: int = DEFAULT_OPSET, int8: bool = False, check: bool = True) -> ExportResult:
    """Export ``obj``, check it (unless ``check=False``), and write ``path`` and ``path.json`` atomically."""
    if not isinstance(int8, bool) or not isinstance(check, bool):
        raise ConfigError(f"int8 / check: expected True or False, found {int8!r} / {check!r}")
    dest = _check_destination(path)
    opset = check_opset(opset)
    exported = export_model(obj, opset)
    onnx, _ = require_onnx()
    model = exported.model
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - an invalid graph is the exporter's bug; say it in one line
        raise ExportCheckError(f"export check failed: the graph is not valid ONNX ({' '.join(str(e).split())[:300]}); "
                               "nothing was written") from None
    actual_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), opset)
    result_meta: dict[str, Any] = {}
    max_diff = int8_diff = None
    labels: list[str] = []
    if check:
        max_diff, labels = check_exported(exported, _checked_session(model, "exported"))
        result_meta["check"] = {"tolerance": TOLERANCE, "max_abs_diff": max_diff, "cases": labels,
                                "rule": "|onnxruntime - lstmkit| <= tolerance * max(1, |lstmkit|) on every output"}
    if int8:
        try:
            model = quantize_int8(model)
        except Exception as e:  # noqa: BLE001 - the quantizer raises assorted exception types
            raise ExportCheckError(f"int8 quantization failed ({type(e).__name__}: {' '.join(str(e).split())[:300]}); "
                                   "nothing was written") from None
        if check:
            int8_diff, _ = check_exported(exported, _checked_session(model, "int8"), tolerance=INT8_TOLERANCE)
            result_meta["int8_check"] = {"tolerance": INT8_TOLERANCE, "max_abs_diff": int8_diff, "cases": labels}
    meta = describe(exported, int(actual_opset), int8)
    meta.update(result_meta)
    meta["graph_sha256"] = graph_digest(model)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, _props(meta))
    data = model.SerializeToString()
    sidecar = dest.with_name(dest.name + ".json")
    side = {"about": ("lstmkit ONNX export: what the graph's inputs and outputs mean and how to prepare its input. "
                      f"Describes {dest.name} (sha256 below)."),
            "file": dest.name, "sha256": hashlib.sha256(data).hexdigest(), **meta}
    from lstmkit.util.files import write_bytes_atomic

    write_bytes_atomic(dest, data, what="ONNX file")
    write_bytes_atomic(sidecar, (json.dumps(side, indent=2, ensure_ascii=False) + "\n").encode(), what="ONNX sidecar")
    return ExportResult(path=dest, sidecar=sidecar, kind=exported.kind, opset=int(actual_opset), int8=int8,
                        inputs=[i.name for i in model.graph.input], outputs=[o.name for o in model.graph.output],
                        bytes=len(data), checked=check, max_diff=max_diff, int8_max_diff=int8_diff, cases=labels)


def to_onnx(obj: Any, path: Any, *, opset: int = DEFAULT_OPSET, int8: bool = False, check: bool = True) -> Path:
    """Export ``obj`` (a model or the path of an lstmkit model file) to the ONNX file ``path``; returns the path.

    See the module docstring: the graph is checked against lstmkit on the spot (``check``), metadata goes
    to ``metadata_props`` and ``path + ".json"``, and both files are written atomically. Raises a one-line
    :class:`~lstmkit.errors.LstmkitError` (a ConfigError for an unsupported model or opset, an
    :class:`ExportCheckError` when ONNX Runtime disagrees with lstmkit).
    """
    return write_onnx(obj, path, opset=opset, int8=int8, check=check).path


__all__ = ["to_onnx", "write_onnx", "export_model", "check_exported", "check_opset", "quantize_int8", "make_session",
           "state_pairs", "graph_digest", "ExportResult", "ExportCheckError", "TOLERANCE", "INT8_TOLERANCE", "MIN_OPSET",
           "DEFAULT_OPSET", "FORMAT"]
