r"""Keras 3 ``.keras`` files to and from :class:`lstmkit.models.Sequential` models.

>>> from lstmkit.interop.keras import load_keras, save_keras     # doctest: +SKIP
>>> model = load_keras("sentiment.keras")                       # doctest: +SKIP
>>> save_keras(model, "back.keras")                             # doctest: +SKIP

A ``.keras`` file is a zip archive of ``config.json`` (the architecture), ``metadata.json`` and
``model.weights.h5`` (the weights). Both directions read and write those with ``zipfile``, ``json``
and ``h5py`` only: Keras need not be installed, and nothing is unpickled or executed.

**Weights.** In the h5 file a Sequential's layers sit under ``layers/<class name in snake case>``
(``lstm``, ``lstm_1``, ... numbered in config order, as Keras's saver names them), each with its
variables in ``vars/0``, ``vars/1``, ...; a recurrent layer keeps them in ``cell/vars``, a
Bidirectional in ``forward_layer/cell/vars`` and ``backward_layer/cell/vars``. They map to
lstmkit's (PyTorch-layout) weights as follows (``H`` units, ``I`` input features):

==============  ==================================  ===============================================
Keras layer     Keras variables                     lstmkit weights
==============  ==================================  ===============================================
Embedding       embeddings ``(V, D)``               ``embeddings`` ``(V, D)`` (same)
Dense           kernel ``(I, U)``, bias ``(U,)``    ``kernel`` ``(I, U)``, ``bias`` (same)
LSTM            kernel ``(I, 4H)``,                 ``cell.weight_ih_l0 = kernel.T``,
                recurrent_kernel ``(H, 4H)``,       ``cell.weight_hh_l0 = recurrent_kernel.T``,
                bias ``(4H,)``; gates i, f, c, o    ``cell.bias_ih_l0 = bias`` (``bias_hh`` is a
                                                    zero buffer); gates i, f, g, o: same order
GRU             kernel ``(I, 3H)``,                 gates reordered z, r, h -> r, z, n, then
(reset_after)   recurrent_kernel ``(H, 3H)``,       transposed: ``weight_ih_l0``, ``weight_hh_l0``;
                bias ``(2, 3H)``: input, recurrent  ``bias_ih_l0 = bias[0]``, ``bias_hh_l0 = bias[1]``
GRU             kernel, recurrent_kernel as above,  as above, ``bias_ih_l0 = bias`` (lstmkit's
(reset_after    bias ``(3H,)``                      ``GRU(reset_after=False)``, no ``bias_hh``)
=False)
SimpleRNN       kernel ``(I, H)``,                  ``weight_ih_l0 = kernel.T``,
                recurrent_kernel ``(H, H)``,        ``weight_hh_l0 = recurrent_kernel.T``,
                bias ``(H,)``                       ``bias_ih_l0 = bias``
Bidirectional   forward_layer, backward_layer       ``forward_layer``, ``backward_layer`` (as above)
==============  ==================================  ===============================================

Dropout, GlobalAveragePooling1D and GlobalMaxPooling1D have no weights; InputLayer becomes the
model's input shape. Any other layer (Conv1D, LayerNormalization, Attention ...), activations
whose math differs (``leaky_relu``: slope 0.2 in Keras 3, 0.01 here), a GlobalMaxPooling1D that
receives a padding mask (Keras's ignores the mask, lstmkit's skips padding) and a lone ``go_backwards`` layer with ``return_sequences`` under a mask (Keras keeps that mask in
forward order for the reversed outputs) are refused with one :class:`~lstmkit.errors.ConfigError`
line naming the layer. A file that is not a ``.keras`` zip,
or is truncated or corrupted, raises :class:`~lstmkit.errors.ModelFileError`.

Settings that only matter while training (regularisers, constraints, ``noise_shape``) are dropped
with one :class:`~lstmkit.errors.LstmkitWarning`; ``dropout`` and ``recurrent_dropout`` of LSTM, GRU
and SimpleRNN are kept (both ways).

**Masks.** With ``return_sequences=True`` and a padding mask, lstmkit's recurrent layers output
zeros at padded steps; Keras's do the same inside ``Bidirectional`` or with
``zero_output_for_mask=True`` (which :func:`save_keras` writes), and otherwise repeat the last real
output there. Only those padded positions can differ, and mask-aware layers ignore them.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from lstmkit._version import __version__
from lstmkit.errors import ConfigError, LstmkitError, LstmkitWarning, ModelFileError
from lstmkit.layers import (
    GRU,
    LSTM,
    AttentionPooling,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Input,
    Layer,
    SimpleRNN,
)
from lstmkit.layers.recurrent import _Recurrent
from lstmkit.models.sequential import Sequential
from lstmkit.util.files import write_bytes_atomic

#: Keras layer classes that :func:`load_keras` maps (``InputLayer`` becomes the input shape).
SUPPORTED_LAYERS = (
    "Bidirectional", "Dense", "Dropout", "Embedding", "GRU", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
    "InputLayer", "LSTM", "SimpleRNN",
)
#: Keras activation names with the same math in lstmkit (Keras name -> lstmkit name). ``leaky_relu``
#: is missing on purpose: Keras 3's slope is 0.2, lstmkit's (PyTorch's) 0.01.
ACTIVATIONS = {
    "linear": "linear", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid",
    "softmax": "softmax", "log_softmax": "log_softmax", "tanh": "tanh", "elu": "elu", "selu": "selu",
    "gelu": "gelu", "silu": "silu", "swish": "silu", "softplus": "softplus", "softsign": "softsign",
    "exponential": "exponential",
}
_TO_KERAS_ACTIVATION = {"swish": "silu"}

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
_MAX_JSON_BYTES = 64 * 1024 * 1024
_GRU_ORDER = [1, 0, 2]  # Keras z, r, h <-> PyTorch r, z, n (the permutation is its own inverse)
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


# ============================================================================ shared helpers
def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ConfigError(
            "Keras files need the 'h5py' package; install the keras extra: pip install 'lstmkit[keras]'"
        ) from None
    return h5py


def keras_snake_case(name: str) -> str:
    """Keras's ``to_snake_case``, which names a layer's group in the weights file:
    ``"SimpleRNN"`` -> ``"simple_rnn"``, ``"GlobalAveragePooling1D"`` -> ``"global_average_pooling1d"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique(name: str, used: dict[str, int]) -> str:
    """Keras's ``_get_unique_name``: ``lstm``, ``lstm_1``, ``lstm_2`` ..."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _to_keras_weights(layer: Layer) -> list[tuple[str, list[np.ndarray]]]:
    """The layer's weights in Keras's layout: ``[(sub-path in the layer's h5 group, [arrays])]``."""
    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().to(torch.float32).numpy().copy()

    if isinstance(layer, Embedding):
        return [("", [arr(layer.embeddings)])]
    if isinstance(layer, Dense):
        return [("", [arr(layer.kernel)] + ([arr(layer.bias)] if layer.bias is not None else []))]
    if isinstance(layer, Bidirectional):
        out = [("", [])]
        for key, sub in (("forward_layer", layer.forward_layer), ("backward_layer", layer.backward_layer)):
            out += [(f"{key}/{path}" if path else key, arrays) for path, arrays in _to_keras_weights(sub)]
        return out
    if isinstance(layer, _Recurrent):
        cell = layer.cell
        w_ih, w_hh = arr(cell.weight_ih_l0), arr(cell.weight_hh_l0)
        b_ih = arr(cell.bias_ih_l0) if layer.use_bias else None
        b_hh = arr(cell.bias_hh_l0) if layer.use_bias and getattr(cell, "bias_hh_l0", None) is not None else None
        if isinstance(layer, GRU):
            def keras_order(a: np.ndarray) -> np.ndarray:
                return np.concatenate([np.split(a, 3, axis=0)[g] for g in _GRU_ORDER], axis=0)

            arrays = [keras_order(w_ih).T.copy(), keras_order(w_hh).T.copy()]
            if b_ih is not None and not layer.reset_after:  # one bias (3H,)
                arrays.append(keras_order(b_ih))
            elif b_ih is not None:
                arrays.append(np.stack([keras_order(b_ih), keras_order(b_hh)]))
        else:  # LSTM (gate order i, f, g, o = Keras's i, f, c, o) and SimpleRNN: one bias
            arrays = [w_ih.T.copy(), w_hh.T.copy()]
            if b_ih is not None:
                arrays.append(b_ih + b_hh)  # bias_hh is a zero buffer (recurrent_bias=False)
        return [("", []), ("cell", arrays)]
    return [("", [])]  # Dropout, pooling


def _from_keras_weights(layer: Layer, arrays: list[np.ndarray]) -> None:
    """Copy Keras-layout ``arrays`` (flattened in :func:`_to_keras_weights`'s order, shapes checked) into ``layer``."""
    def put(target: torch.Tensor, value: np.ndarray) -> None:
        target.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(target.dtype))

    with torch.no_grad():
        if isinstance(layer, Embedding):
            put(layer.embeddings, arrays[0])
        elif isinstance(layer, Dense):
            put(layer.kernel, arrays[0])
            if layer.bias is not None:
                put(layer.bias, arrays[1])
        elif isinstance(layer, Bidirectional):
            n = len(arrays) // 2
            _from_keras_weights(layer.forward_layer, arrays[:n])
            _from_keras_weights(layer.backward_layer, arrays[n:])
        elif isinstance(layer, _Recurrent):
            cell = layer.cell
            if isinstance(layer, GRU):
                def torch_order(a: np.ndarray) -> np.ndarray:
                    return np.concatenate([np.split(a, 3, axis=-1)[g] for g in _GRU_ORDER], axis=-1)

                put(cell.weight_ih_l0, torch_order(arrays[0]).T)
                put(cell.weight_hh_l0, torch_order(arrays[1]).T)
                if layer.use_bias and not layer.reset_after:  # one bias (3H,)
                    put(cell.bias_ih_l0, torch_order(arrays[2]))
                elif layer.use_bias:
                    put(cell.bias_ih_l0, torch_order(arrays[2][0]))
                    put(cell.bias_hh_l0, torch_order(arrays[2][1]))
            else:
                put(cell.weight_ih_l0, arrays[0].T)
                put(cell.weight_hh_l0, arrays[1].T)
                if layer.use_bias:
                    put(cell.bias_ih_l0, arrays[2])
                    cell.bias_hh_l0.zero_()


def _describe(layer: Layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


# ============================================================================ import
class _Reader:
    """Reads one Keras layer spec (a ``config.json`` entry) into an lstmkit layer, with one-line errors."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.names: set[str] = set()
        self.dropped: list[str] = []

    # ---------------------------------------------------------------- config access
    def bad(self, field: str, expected: str, found: Any) -> ModelFileError:
        return ModelFileError(f"{self.where}: config.json field {field!r}: expected {expected}, found {found!r:.80}")

    def refuse(self, name: str, cls: str, why: str) -> ConfigError:
        return ConfigError(f"{self.where}: Keras layer {name!r} ({cls}): {why}")

    def get(self, config: dict, key: str, kinds: Any, field: str, default: Any = ...) -> Any:
        if key not in config:
            if default is ...:
                raise self.bad(f"{field}.{key}", "a value", "nothing")
            return default
        value = config[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _as_tuple(kinds)):
            raise self.bad(f"{field}.{key}", _kind_names(kinds), value)
        return value

    def lstmkit_name(self, name: Any) -> str:
        text = name if isinstance(name, str) and name else "layer"
        if not _NAME_OK.match(text):
            text = re.sub(r"[^A-Za-z0-9_\-]", "_", text)
            if not re.match(r"[A-Za-z_]", text):
                text = "_" + text
        base, i = text, 0
        while text in self.names:
            i += 1
            text = f"{base}_{i}"
        self.names.add(text)
        return text

    def drop(self, name: str, cls: str, what: str) -> None:
        self.dropped.append(f"{name} ({cls}): {what}")

    # ---------------------------------------------------------------- layers
    def layer(self, spec: Any, field: str, *, nested: bool = False) -> Layer:
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or not isinstance(spec.get("config"), dict):
            raise self.bad(field, "{'class_name': str, 'config': {...}}", spec)
        cls, config = spec["class_name"], spec["config"]
        name = config.get("name") if isinstance(config.get("name"), str) else f"#{field}"
        module = spec.get("module")
        if isinstance(module, str) and not (module == "keras" or module.startswith(("keras.", "tf_keras"))):
            raise self.refuse(name, cls, f"a custom layer (module {module!r}) has no lstmkit equivalent; "
                                         f"lstmkit maps {', '.join(SUPPORTED_LAYERS)}")
        dtype = config.get("dtype")
        policy = str(dtype.get("class_name", "")) if isinstance(dtype, dict) else ""
        inner = dtype.get("config") if isinstance(dtype, dict) else None
        policy_name = str(inner.get("name", "")) if isinstance(inner, dict) else str(dtype or "")
        if "Quantized" in str(policy) or str(policy_name).startswith(("int8", "int4", "float8", "gptq")):
            raise self.refuse(name, cls, f"quantized weights (dtype policy {policy_name!r}) are not supported; "
                                         "save the float model")
        make: Callable[[str, str, dict, str], Layer] | None = {
            "Embedding": self.embedding, "Dense": self.dense, "Dropout": self.dropout,
            "LSTM": self.recurrent, "GRU": self.recurrent, "SimpleRNN": self.recurrent,
            "Bidirectional": self.bidirectional,
            "GlobalAveragePooling1D": self.pooling, "GlobalMaxPooling1D": self.pooling,
        }.get(cls)
        if make is None or (nested and cls not in ("LSTM", "GRU", "SimpleRNN")):
            what = "LSTM, GRU or SimpleRNN inside Bidirectional" if nested else ", ".join(SUPPORTED_LAYERS)
            raise self.refuse(name, cls, f"lstmkit has no equivalent layer; lstmkit maps {what}")
        for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "embeddings_regularizer",
                    "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
                    "embeddings_constraint"):
            if config.get(key) is not None:
                self.drop(name, cls, key)
        try:
            layer = make(name, cls, config, field)
        except LstmkitError as e:  # an lstmkit constructor's check (a rate >= 1, units <= 0, a size too big)
            if str(e).startswith(self.where):
                raise
            raise type(e)(f"{self.where}: Keras layer {name!r} ({cls}): {e}"[:400]) from None
        return layer

    def _common(self, name: str, config: dict) -> dict[str, Any]:
        return {"name": self.lstmkit_name(name), "trainable": config.get("trainable", True) is not False}

    def activation(self, value: Any, name: str, cls: str, key: str = "activation") -> str:
        if value is None:
            return "linear"
        if isinstance(value, dict) and value.get("class_name") == "function" and isinstance(value.get("config"), str):
            value = value["config"]  # a built-in function serialised as an object
        if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
            raise self.refuse(name, cls, f"{key} {value!r:.60} is not supported; lstmkit has the same math for "
                                         f"{sorted(ACTIVATIONS)}")
        return ACTIVATIONS[value.lower()]

    def embedding(self, name: str, cls: str, config: dict, field: str) -> Layer:
        f = f"{field}.config"
        return Embedding(
            self.get(config, "input_dim", int, f), self.get(config, "output_dim", int, f),
            mask_zero=self.get(config, "mask_zero", bool, f, False), **self._common(name, config),
        )

    def dense(self, name: str, cls: str, config: dict, field: str) -> Layer:
        f = f"{field}.config"
        return Dense(
            self.get(config, "units", int, f), activation=self.activation(config.get("activation"), name, cls),
            use_bias=self.get(config, "use_bias", bool, f, True), **self._common(name, config),
        )

    def dropout(self, name: str, cls: str, config: dict, field: str) -> Layer:
        if config.get("noise_shape") is not None:
            self.drop(name, cls, "noise_shape")
        return Dropout(self.get(config, "rate", (int, float), f"{field}.config"), **self._common(name, config))

    def pooling(self, name: str, cls: str, config: dict, field: str) -> Layer:
        if config.get("data_format", "channels_last") != "channels_last":
            raise self.refuse(name, cls, f"data_format {config.get('data_format')!r} is not supported; "
                                         "lstmkit pools (N, L, F) inputs (channels_last)")
        if config.get("keepdims", False):
            raise self.refuse(name, cls, "keepdims=True is not supported; lstmkit outputs (N, F)")
        kind = GlobalAveragePooling1D if cls == "GlobalAveragePooling1D" else GlobalMaxPooling1D
        return kind(**self._common(name, config))

    def recurrent(self, name: str, cls: str, config: dict, field: str) -> Layer:
        f = f"{field}.config"
        activation = self.activation(config.get("activation", "tanh"), name, cls)
        if activation != "tanh":
            raise self.refuse(name, cls, f"activation {config.get('activation')!r} is not supported; lstmkit's "
                                         f"{cls} uses 'tanh'")
        kwargs: dict[str, Any] = {
            "use_bias": self.get(config, "use_bias", bool, f, True),
            "dropout": float(self.get(config, "dropout", (int, float), f, 0.0)),
            "recurrent_dropout": float(self.get(config, "recurrent_dropout", (int, float), f, 0.0)),
            "return_sequences": self.get(config, "return_sequences", bool, f, False),
            "go_backwards": self.get(config, "go_backwards", bool, f, False),
        }
        if self.get(config, "return_state", bool, f, False):
            raise self.refuse(name, cls, "return_state=True returns several tensors; a Sequential layer returns one")
        if self.get(config, "stateful", bool, f, False):
            kwargs["stateful"] = True  # lstmkit's layers keep their state between calls too (reset_states())
        if config.get("time_major"):
            raise self.refuse(name, cls, "time_major=True is not supported; lstmkit's layers are batch-major")
        if cls != "SimpleRNN":
            rec = self.activation(config.get("recurrent_activation", "sigmoid"), name, cls, "recurrent_activation")
            if rec != "sigmoid":
                raise self.refuse(name, cls, f"recurrent_activation {config.get('recurrent_activation')!r} is not "
                                             f"supported; lstmkit's {cls} uses 'sigmoid'")
        if cls == "LSTM":
            kwargs["unit_forget_bias"] = self.get(config, "unit_forget_bias", bool, f, True)
            kind: type[_Recurrent] = LSTM
        elif cls == "GRU":
            kwargs["reset_after"] = self.get(config, "reset_after", bool, f, True)
            kind = GRU
        else:
            kind = SimpleRNN
        return kind(self.get(config, "units", int, f), **kwargs, **self._common(name, config))

    def bidirectional(self, name: str, cls: str, config: dict, field: str) -> Layer:
        f = f"{field}.config"
        merge_mode = config.get("merge_mode", "concat")
        if merge_mode not in ("concat", "sum", "mul", "ave"):
            raise self.refuse(name, cls, f"merge_mode {merge_mode!r} is not supported; lstmkit has "
                                         "'concat', 'sum', 'mul' and 'ave'")
        forward = self.layer(self.get(config, "layer", dict, f), f"{f}.layer", nested=True)
        spec = config.get("backward_layer")
        backward = None if spec is None else self.layer(spec, f"{f}.backward_layer", nested=True)
        if backward is not None and backward.go_backwards == forward.go_backwards:
            raise self.refuse(name, cls, "the backward layer must have the opposite go_backwards of the forward one")
        return Bidirectional(forward, merge_mode=merge_mode, backward_layer=backward, **self._common(name, config))


def _as_tuple(kinds: Any) -> tuple:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _kind_names(kinds: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "an object",
             list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kinds))


def _input_shape(reader: _Reader, config: dict, top: dict, specs: list[dict]) -> tuple | None:
    """The model's input shape without the batch axis, from the InputLayer or the build configs."""
    candidates: list[Any] = []
    for spec in config.get("layers", []):
        if isinstance(spec, dict) and spec.get("class_name") == "InputLayer" and isinstance(spec.get("config"), dict):
            c = spec["config"]
            candidates.append(c.get("batch_shape", c.get("batch_input_shape")))
    candidates.append(config.get("build_input_shape"))
    if isinstance(top.get("build_config"), dict):
        candidates.append(top["build_config"].get("input_shape"))
    if specs:
        first = specs[0]
        if isinstance(first.get("config"), dict):
            candidates.append(first["config"].get("batch_input_shape"))
        if isinstance(first.get("build_config"), dict):
            candidates.append(first["build_config"].get("input_shape"))
    for shape in candidates:
        if isinstance(shape, list) and len(shape) >= 2:
            dims = shape[1:]
            if all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in dims):
                return tuple(dims)
            raise reader.bad("InputLayer.batch_shape", "positive integers or null", shape)
    return None


def _open_weights(h5: Any, where: str) -> Any:
    for root in ("layers", "_layer_checkpoint_dependencies"):  # the second: files of Keras 2.13
        if root in h5:
            return h5[root]
    return None


def _datasets(group: Any, path: str, where: str, label: str) -> list[Any]:
    """The datasets ``path/vars/0``, ``vars/1`` ... under ``group`` (empty when absent), in numeric order."""
    node = group
    for part in [p for p in path.split("/") if p] + ["vars"]:
        if not hasattr(node, "keys") or part not in node:
            return []
        node = node[part]
    found = node
    keys = list(found.keys()) if hasattr(found, "keys") else [None]
    if not all(isinstance(k, str) and k.isdigit() and hasattr(found[k], "shape") for k in keys):
        raise ModelFileError(f"{where}: weights of {label} at {found.name!r}: expected datasets 0, 1, ..., found {keys[:5]}")
    return [found[k] for k in sorted(keys, key=int)]


def _layer_arrays(root: Any, layer: Layer, keras_key: str, keras_name: str, where: str) -> list[np.ndarray]:
    """The layer's Keras variables from the h5 file, checked against the shapes ``layer`` needs."""
    label = f"Keras layer {keras_name!r} ({_keras_class(layer)})"
    expected = _to_keras_weights(layer)
    want = [a.shape for _, arrays in expected for a in arrays]
    if not want:
        return []
    group = None
    if root is not None:
        for key in (keras_key, keras_name):
            if key in root:
                group = root[key]
                break
    if group is None:
        raise ModelFileError(f"{where}: model.weights.h5 has no weights for {label} (looked for "
                             f"'layers/{keras_key}')")
    found: list[Any] = []
    for path, arrays in expected:
        sets = _datasets(group, path, where, label)
        if not sets and arrays and path.endswith("cell"):
            sets = _datasets(group, path[: -len("cell")], where, label)  # variables kept on the layer itself
        found += sets
    if not found:
        raise ModelFileError(f"{where}: model.weights.h5 holds no weights for {label} (was the Keras model built "
                             "before it was saved?)")
    shapes = [tuple(d.shape) for d in found]
    if shapes != [tuple(s) for s in want]:
        raise ModelFileError(f"{where}: weights of {label} in model.weights.h5 have shapes {shapes}, "
                             f"the config needs {[tuple(s) for s in want]}")
    out = []
    for d in found:
        a = np.asarray(d[()])
        if not np.issubdtype(a.dtype, np.floating):
            raise ModelFileError(f"{where}: weights of {label} at {d.name!r}: expected floats, found {a.dtype}")
        out.append(a.astype(np.float32))
    return out


def _keras_class(layer: Layer) -> str:
    return type(layer).__name__


def _mask_check(where: str, layers: list[Layer], names: list[str], what: str) -> None:
    """Refuse what a padding mask makes Keras and lstmkit compute differently: a GlobalMaxPooling1D it
    reaches (Keras's ignores masks, lstmkit's skips padding) and a lone ``go_backwards`` layer with
    ``return_sequences`` (Keras keeps the mask in forward order for the reversed outputs, lstmkit reverses it)."""
    live = False
    for layer, name in zip(layers, names):
        why = None
        if isinstance(layer, Embedding):
            live = layer.mask_zero
        elif isinstance(layer, GlobalMaxPooling1D):
            if live:
                why = ("it receives a padding mask, which Keras's GlobalMaxPooling1D ignores (padding counts in the "
                       "max) and lstmkit's skips; the outputs would differ")
            live = False
        elif isinstance(layer, _Recurrent) and live and layer.go_backwards and layer.return_sequences:
            why = ("go_backwards=True with return_sequences=True under a padding mask: Keras keeps the mask in "
                   "forward order for the reversed outputs, lstmkit reverses it; use Bidirectional or "
                   "return_sequences=False")
        elif isinstance(layer, (_Recurrent, Bidirectional)):
            live = live and layer.return_sequences
        elif isinstance(layer, (GlobalAveragePooling1D, AttentionPooling)):
            live = False
        if why:
            raise ConfigError(f"{where}: {what} {name!r} ({type(layer).__name__}): {why}")


def _read_json(raw: bytes, where: str, member: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ModelFileError(f"{where}: {member} is not valid JSON ({e})"[:300]) from None


def load_keras(path: Any) -> Sequential:
    """Import a Keras 3 ``.keras`` file (or a folder with ``config.json`` and ``model.weights.h5``)
    as an lstmkit :class:`~lstmkit.models.Sequential` with the same weights and outputs.

    Raises :class:`~lstmkit.errors.ConfigError` for a layer or setting lstmkit cannot express (one
    line naming the layer, its class and what lstmkit supports) and
    :class:`~lstmkit.errors.ModelFileError` for a missing, truncated, corrupted or non-Keras file.
    """
    h5py = _h5py()
    path = Path(os.fspath(path))
    where = f"Keras file {str(path)!r}"
    if path.is_dir():
        if not (path / _CONFIG).is_file() or not (path / _WEIGHTS).is_file():
            raise ModelFileError(f"{where}: a folder without {_CONFIG} and {_WEIGHTS}, not a saved Keras model")
        config = _read_json((path / _CONFIG).read_bytes()[: _MAX_JSON_BYTES + 1], where, _CONFIG)
        try:
            with h5py.File(path / _WEIGHTS, "r") as h5:
                return _build(config, h5, where)
        except (OSError, KeyError, RuntimeError) as e:
            raise ModelFileError(f"{where}: {_WEIGHTS} is truncated or corrupted ({e})"[:300]) from None
    if not path.exists():
        raise ModelFileError(f"{where}: not found")
    if not path.is_file():
        raise ModelFileError(f"{where}: not a regular file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        raise ModelFileError(f"{where}: a legacy Keras HDF5 (.h5) file; lstmkit reads Keras 3 .keras zip files "
                             "(re-save it with model.save('model.keras'))")
    if not zipfile.is_zipfile(path):
        if head.startswith(b"PK"):
            raise ModelFileError(f"{where}: a damaged zip archive (truncated or corrupted); not a readable .keras file")
        raise ModelFileError(f"{where}: not a Keras .keras file (expected a zip archive with {_CONFIG} and {_WEIGHTS})")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if _CONFIG not in names:
                raise ModelFileError(f"{where}: a zip archive without {_CONFIG}, not a Keras .keras file")
            if _WEIGHTS not in names:
                if "model.weights.npz" in names:
                    raise ModelFileError(f"{where}: weights in model.weights.npz are not supported; save with the "
                                         "default h5 weights")
                raise ModelFileError(f"{where}: a zip archive without {_WEIGHTS}, not a Keras .keras file")
            if zf.getinfo(_CONFIG).file_size > _MAX_JSON_BYTES:
                raise ModelFileError(f"{where}: {_CONFIG} is larger than {_MAX_JSON_BYTES} bytes")
            config = _read_json(zf.read(_CONFIG), where, _CONFIG)
            damaged = zf.testzip()  # h5py reads the weights member piecewise, which skips the CRC check
            if damaged is not None:
                raise ModelFileError(f"{where}: {damaged} is corrupted (checksum mismatch)")
            with zf.open(_WEIGHTS) as raw:
                # h5py seeks; a stored (uncompressed) member, as Keras writes, seeks without re-reading.
                data: Any = raw if zf.getinfo(_WEIGHTS).compress_type == zipfile.ZIP_STORED else io.BytesIO(raw.read())
                with h5py.File(data, "r") as h5:
                    return _build(config, h5, where)
    except LstmkitError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, RuntimeError) as e:
        raise ModelFileError(f"{where}: truncated or corrupted ({type(e).__name__}: {e})"[:300]) from None


def _build(config: Any, h5: Any, where: str) -> Sequential:
    reader = _Reader(where)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise reader.bad("class_name", "a Keras model config", config)
    if config["class_name"] != "Sequential":
        raise ConfigError(f"{where}: the model is a Keras {config['class_name']}; lstmkit imports Sequential "
                          "models (a plain stack of layers) only")
    inner = reader.get(config, "config", dict, "")
    layer_specs = reader.get(inner, "layers", list, "config")
    for i, spec in enumerate(layer_specs):
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or not isinstance(spec.get("config"), dict):
            raise reader.bad(f"config.layers[{i}]", "{'class_name': str, 'config': {...}}", spec)
    specs = [s for s in layer_specs if not (isinstance(s, dict) and s.get("class_name") == "InputLayer")]
    if not specs:
        raise ModelFileError(f"{where}: the Sequential model has no layers")
    for spec in layer_specs:
        if isinstance(spec, dict) and spec.get("class_name") == "InputLayer":
            c = spec.get("config") or {}
            if c.get("sparse") or c.get("ragged"):
                raise reader.refuse(c.get("name", "input_layer"), "InputLayer", "sparse or ragged inputs are not supported")
    input_shape = _input_shape(reader, inner, config, specs)
    name = inner.get("name") if isinstance(inner.get("name"), str) else None
    model = Sequential(name=name)
    if input_shape is not None:
        model.add(Input(shape=input_shape))
    layers: list[Layer] = []
    keras_names: list[str] = []
    keras_keys: list[str] = []
    used: dict[str, int] = {}
    for i, spec in enumerate(specs):
        layer = reader.layer(spec, f"config.layers[{i}]")
        cfg = spec["config"]
        keras_names.append(cfg["name"] if isinstance(cfg.get("name"), str) else layer.name)
        keras_keys.append(_unique(keras_snake_case(spec["class_name"]), used))
        layers.append(layer)
    _mask_check(where, layers, keras_names, "Keras layer")
    for layer, keras_name in zip(layers, keras_names):
        try:
            model.add(layer)
        except LstmkitError as e:
            raise ConfigError(f"{where}: Keras layer {keras_name!r} ({_keras_class(layer)}): {e}"[:400]) from None
    if not model.built:
        raise ModelFileError(f"{where}: the config gives no input shape (the Keras model was never built), "
                             "so its weights cannot be placed")
    try:
        root = _open_weights(h5, where)
        for layer, key, keras_name in zip(layers, keras_keys, keras_names):
            _from_keras_weights(layer, _layer_arrays(root, layer, key, keras_name, where))
    except LstmkitError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as e:  # h5py on a damaged weights file
        raise ModelFileError(f"{where}: model.weights.h5 is damaged ({type(e).__name__}: {e})"[:300]) from None
    if reader.dropped:
        warnings.warn(f"{where}: settings that only matter in training were dropped: {'; '.join(reader.dropped)}",
                      LstmkitWarning, stacklevel=3)
    return model


# ============================================================================ export
_INITIALIZERS = {
    "glorot_uniform": ("GlorotUniform", {"seed": None}),
    "glorot_normal": ("GlorotNormal", {"seed": None}),
    "he_uniform": ("HeUniform", {"seed": None}),
    "he_normal": ("HeNormal", {"seed": None}),
    "lecun_uniform": ("LecunUniform", {"seed": None}),
    "lecun_normal": ("LecunNormal", {"seed": None}),
    "uniform": ("RandomUniform", {"seed": None, "minval": -0.05, "maxval": 0.05}),
    "normal": ("RandomNormal", {"seed": None, "mean": 0.0, "stddev": 0.05}),
    "orthogonal": ("Orthogonal", {"seed": None, "gain": 1.0}),
    "zeros": ("Zeros", {}),
    "ones": ("Ones", {}),
}


def _initializer(name: str) -> Any:
    if name.lower() not in _INITIALIZERS:
        return name  # Keras reads a name as well
    cls, config = _INITIALIZERS[name.lower()]
    return {"module": "keras.initializers", "class_name": cls, "config": dict(config), "registered_name": None}


def _spec(cls: str, config: dict[str, Any], input_shape: tuple | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"module": "keras.layers", "class_name": cls, "config": config, "registered_name": None}
    if input_shape is not None:
        spec["build_config"] = {"input_shape": [None, *input_shape]}
    return spec


def _keras_layer_spec(layer: Layer, where: str) -> dict[str, Any]:
    base: dict[str, Any] = {"name": layer.name, "trainable": layer.trainable, "dtype": "float32"}
    shape = layer.built_input_shape
    if isinstance(layer, Embedding):
        return _spec("Embedding", {
            **base, "input_dim": layer.input_dim, "output_dim": layer.output_dim,
            "embeddings_initializer": _initializer(layer.embeddings_initializer), "embeddings_regularizer": None,
            "activity_regularizer": None, "embeddings_constraint": None, "mask_zero": layer.mask_zero,
        }, shape)
    if isinstance(layer, Dense):
        if layer.activation not in ACTIVATIONS.values() and layer.activation not in _TO_KERAS_ACTIVATION:
            raise ConfigError(f"{where}: {_describe(layer)}: activation {layer.activation!r} has no Keras equivalent "
                              f"with the same math; Keras and lstmkit share {sorted(set(ACTIVATIONS.values()))}")
        return _spec("Dense", {
            **base, "units": layer.units, "activation": _TO_KERAS_ACTIVATION.get(layer.activation, layer.activation),
            "use_bias": layer.use_bias, "kernel_initializer": _initializer(layer.kernel_initializer),
            "bias_initializer": _initializer(layer.bias_initializer), "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
        }, shape)
    if isinstance(layer, Dropout):
        return _spec("Dropout", {**base, "rate": layer.rate, "seed": None, "noise_shape": None}, None)
    if isinstance(layer, (GlobalAveragePooling1D, GlobalMaxPooling1D)) and not isinstance(layer, AttentionPooling):
        return _spec(type(layer).__name__, {**base, "data_format": "channels_last", "keepdims": False}, shape)
    if isinstance(layer, Bidirectional):
        if layer.forward_layer.go_backwards == layer.backward_layer.go_backwards:
            raise ConfigError(f"{where}: {_describe(layer)}: Keras needs the backward layer's go_backwards to be the "
                              "opposite of the forward layer's")
        return _spec("Bidirectional", {
            **base, "merge_mode": layer.merge_mode,
            "layer": _keras_layer_spec(layer.forward_layer, where),
            "backward_layer": _keras_layer_spec(layer.backward_layer, where),
        }, shape)
    if isinstance(layer, (LSTM, GRU, SimpleRNN)):
        cls = type(layer).__name__
        config: dict[str, Any] = {
            **base, "return_sequences": layer.return_sequences, "return_state": False,
            "go_backwards": layer.go_backwards, "stateful": bool(getattr(layer, "stateful", False)), "unroll": False,
            # lstmkit outputs zeros at masked steps; so does Keras with this flag.
            "zero_output_for_mask": layer.return_sequences, "units": layer.units, "activation": layer.activation,
        }
        if cls != "SimpleRNN":
            config["recurrent_activation"] = layer.recurrent_activation
        config.update({
            "use_bias": layer.use_bias, "kernel_initializer": _initializer("glorot_uniform"),
            "recurrent_initializer": _initializer("orthogonal"), "bias_initializer": _initializer("zeros"),
        })
        if cls == "LSTM":
            config["unit_forget_bias"] = layer.unit_forget_bias
        config.update({
            "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
            "bias_constraint": None, "dropout": layer.dropout, "recurrent_dropout": layer.recurrent_dropout,
            "seed": None,
        })
        if cls == "GRU":
            config["reset_after"] = layer.reset_after
        return _spec(cls, config, shape)
    keras_like = {"AttentionPooling": "Keras has no additive attention-pooling layer"}
    why = keras_like.get(type(layer).__name__, "Keras has no equivalent layer")
    raise ConfigError(f"{where}: {_describe(layer)}: {why}; save_keras exports Embedding, LSTM, GRU, SimpleRNN, "
                      "Bidirectional, Dense, Dropout, GlobalAveragePooling1D and GlobalMaxPooling1D")


def keras_config(model: Sequential, *, where: str = "save_keras") -> dict[str, Any]:
    """The ``config.json`` Keras 3 reads for ``model`` (a built lstmkit Sequential)."""
    if not isinstance(model, Sequential):
        raise ConfigError(f"model: expected an lstmkit Sequential, found {type(model).__name__}")
    if not len(model.layers):
        raise ConfigError(f"{where}: Sequential {model.name!r} has no layers")
    if not model.built:
        raise ConfigError(f"{where}: Sequential {model.name!r} is not built; give it an input shape "
                          "(an Input layer or input_shape=) or call it once")
    input_shape = tuple(model.input_shape[1:])
    tokens = isinstance(model.layers[0], Embedding)
    layers: list[dict[str, Any]] = [{
        "module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
        "config": {"batch_shape": [None, *input_shape], "dtype": "int32" if tokens else "float32", "sparse": False,
                   "name": "input_layer"},
    }]
    layers += [_keras_layer_spec(layer, where) for layer in model.layers]
    names = [keras_layer["config"]["name"] for keras_layer in layers[1:]]
    _mask_check(where, list(model.layers), names, "layer")
    return {
        "module": "keras", "class_name": "Sequential", "registered_name": None,
        "config": {"name": model.name, "trainable": True, "dtype": "float32", "layers": layers,
                   "build_input_shape": [None, *input_shape]},
        "build_config": {"input_shape": [None, *input_shape]},
    }


def _weights_h5(model: Sequential) -> bytes:
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_group("vars").attrs["name"] = model.name
        root = h5.create_group("layers")
        used: dict[str, int] = {}
        for layer in model.layers:
            key = _unique(keras_snake_case(type(layer).__name__), used)
            group = root.create_group(key)
            for path, arrays in _to_keras_weights(layer):
                node = group.require_group(path) if path else group
                sub = layer
                if path.startswith(("forward_layer", "backward_layer")):
                    sub = layer.forward_layer if path.startswith("forward") else layer.backward_layer
                label = (f"{keras_snake_case(type(sub).__name__)}_cell" if path.endswith("cell") else sub.name)
                vars_ = node.create_group("vars")
                vars_.attrs["name"] = label
                for i, a in enumerate(arrays):
                    vars_.create_dataset(str(i), data=a)
    return buffer.getvalue()


def save_keras(model: Sequential, path: Any) -> None:
    """Write ``model`` (an lstmkit Sequential) as a Keras 3 ``.keras`` file that
    ``keras.saving.load_model(path)`` loads with the same weights and outputs.

    The file is built in memory and written through a temporary file renamed over ``path``, so a
    failure never leaves a half-written file (an existing one stays as it was). A layer Keras has
    no equal for (``AttentionPooling``, a custom layer) raises a one-line
    :class:`~lstmkit.errors.ConfigError` before anything is written.
    """
    target = Path(os.fspath(path))
    where = f"save_keras {str(target)!r}"
    if target.suffix != ".keras":
        raise ConfigError(f"path: expected a file name ending in .keras (Keras's load_model requires it), "
                          f"found {str(target)!r}")
    config = keras_config(model, where=where)
    weights = _weights_h5(model)
    metadata = {
        "keras_version": "3.0.0",
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "saved_by": f"lstmkit {__version__}",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_METADATA, json.dumps(metadata))
        zf.writestr(_CONFIG, json.dumps(config))
        zf.writestr(_WEIGHTS, weights)
    write_bytes_atomic(target, buffer.getvalue(), what="Keras file")


__all__ = ["load_keras", "save_keras", "keras_config", "keras_snake_case", "SUPPORTED_LAYERS", "ACTIVATIONS"]
