"""ONNX export with explicit recurrent state, and an ONNX Runtime backend (issue 18).

::

    from lstmkit.export import to_onnx, load_onnx
    to_onnx(model, "model.onnx")                        # checked against lstmkit, written atomically
    m = load_onnx("model.onnx"); y, state = m.run(x)     # ONNX Runtime, state in and out
    model.predict(x, backend="onnxruntime")             # a Sequential through the exported graph

* :mod:`lstmkit.export.base`: the exporter contract (:class:`Exported`) and the graph conventions;
* :mod:`lstmkit.export.core`: :func:`to_onnx` / :func:`write_onnx` (dispatch, check, int8, files);
* :mod:`lstmkit.export.sequential`: Sequential, TextClassifier, sentiment and language-model exporters;
* :mod:`lstmkit.export.onnx_graph`: the graph-building primitives;
* :mod:`lstmkit.export.runtime`: loading an exported file, the ``predict`` backend and its ``auto`` rule.

Everything is imported lazily (``import lstmkit`` and ``import lstmkit.export`` stay light; onnx and
onnxruntime are imported only when used).
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "to_onnx": "core", "write_onnx": "core", "export_model": "core", "check_exported": "core", "ExportResult": "core",
    "ExportCheckError": "core", "TOLERANCE": "core", "INT8_TOLERANCE": "core", "quantize_int8": "core",
    "MIN_OPSET": "onnx_graph", "DEFAULT_OPSET": "onnx_graph",
    "Exported": "base", "Feeds": "base",
    "load_onnx": "runtime", "OnnxModel": "runtime", "choose_backend": "runtime", "predict": "runtime",
}


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'lstmkit.export' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lstmkit.export.{module}"), name)


__all__ = sorted(_API)
