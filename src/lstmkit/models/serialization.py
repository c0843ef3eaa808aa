"""Save and load of the Keras-style models (``Sequential``) in the one lstmkit file format.

The generic container (atomic write, kind marker, checksums over tensors *and* metadata) lives in
:mod:`lstmkit.util.container`; this module holds only what a Keras-style model puts in it:

* tensors: the model's ``state_dict()`` (e.g. ``layers.0.embeddings``, ``layers.1.cell.weight_ih_l0``);
* metadata: ``kind = "sequential"``, ``config`` (JSON:
  ``{"class_name": "Sequential", "config": {"layers": [...]}}``), ``compile_config`` (JSON or
  ``null``), ``preprocessing`` (JSON dict), and the container's markers and checksums.

Nothing is pickled and nothing is read with ``torch.load``. ``save`` writes a temporary file in the
same folder and renames it over the target, so an existing file is never left half-written.

>>> import tempfile, os
>>> from lstmkit.models import Sequential, load
>>> from lstmkit.layers import Dense
>>> m = Sequential([Dense(2, input_shape=(3,))])
>>> path = os.path.join(tempfile.mkdtemp(), "m.lstmkit")
>>> m.save(path)
>>> load(path).count_params()
8
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any


from lstmkit.errors import ConfigError, LstmkitError, ModelFileError
from lstmkit.models.classes import MODEL_CLASSES
from lstmkit.util.container import (  # noqa: F401  (re-exported: their old home was this module)
    FORMAT,
    FORMAT_VERSION,
    KIND_SEQUENTIAL,
    file_kind,
    json_field,
    load_tensors,
    read_header,
    read_raw_metadata,
    save_tensors,
    tensors_digest,
)
from lstmkit.util.files import write_bytes_atomic  # noqa: F401  (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.models.model import Model

_digest = tensors_digest
_read_header = read_header


def _model_classes() -> dict[str, type]:
    """The Keras-style model classes a file can name (each registers itself when defined)."""
    return {name: cls for name, cls in MODEL_CLASSES.items() if "from_config" in vars(cls)}


def save_model(model: "Model", filepath: Any) -> None:
    path = Path(os.fspath(filepath))
    if path.is_dir():
        raise ConfigError(f"filepath: expected a file path, found the directory {str(path)!r}")
    if path.exists() and not path.is_file():
        # Renaming over a device or pipe (e.g. /dev/null) would replace it with a regular file.
        raise ConfigError(f"filepath: expected a regular file path, found the special file {str(path)!r}")
    config = {"class_name": type(model).__name__, "config": model.get_config()}
    if type(model).__name__ not in _model_classes():
        raise ConfigError(f"model: only {sorted(_model_classes())} models can be saved, found {type(model).__name__}")
    save_tensors(path, model.state_dict(), {
        "config": json.dumps(config),
        "compile_config": json.dumps(getattr(model, "_compile_config", None)),
        "preprocessing": model.check_preprocessing(),
    }, kind=KIND_SEQUENTIAL)


def load_model(filepath: Any, *, compile: bool = True, map_location: Any = None) -> "Model":
    """Load a model written by :meth:`Model.save` (weights, config, compile config, preprocessing).

    The file is device-free: the model loads on the CPU wherever it was trained, and
    ``map_location`` (``"cuda"``, ``"auto"``, a :class:`torch.device`) moves it
    (:func:`lstmkit.util.devices.resolve_device`; an unavailable device is one line).

    Raises :class:`~lstmkit.errors.ModelFileError` naming the file when it is missing, not an lstmkit
    model, truncated or corrupted, or when its metadata does not fit its schema or its weights.
    """
    from lstmkit.util.devices import place, resolve_device

    resolve_device(map_location)
    meta = read_raw_metadata(filepath)
    path = Path(os.fspath(filepath))
    if file_kind(meta) != KIND_SEQUENTIAL:
        raise ModelFileError(
            f"model file {str(path)!r}: holds a {file_kind(meta)!r}, not a Keras-style Sequential model"
        )
    config = json_field(path, meta, "config", dict)
    compile_config = json_field(path, meta, "compile_config", (dict, type(None)), default=None)
    preprocessing = json_field(path, meta, "preprocessing", dict, default={})
    tensors, meta = load_tensors(path)
    name = config.get("class_name")
    cls = _model_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(f"model file {str(path)!r}: unknown model class {config.get('class_name')!r}")
    if not isinstance(config.get("config", {}), dict):
        raise ModelFileError(f"model file {str(path)!r}: metadata config.config should be a JSON object, "
                             f"found {type(config.get('config')).__name__}")
    _check_layer_specs(path, config.get("config", {}))
    try:
        model = cls.from_config(config.get("config", {}))
    except LstmkitError as exc:
        raise ModelFileError(f"model file {str(path)!r}: invalid model config ({exc})") from None
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ModelFileError(f"model file {str(path)!r}: invalid model config ({type(exc).__name__}: {exc})"[:400]) from None
    state = model.state_dict()
    missing = sorted(set(state) - set(tensors))
    unexpected = sorted(set(tensors) - set(state))
    if missing or unexpected:
        raise ModelFileError(
            f"model file {str(path)!r}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for name, t in tensors.items():
        if tuple(t.shape) != tuple(state[name].shape):
            raise ModelFileError(
                f"model file {str(path)!r}: weight {name!r} has shape {tuple(t.shape)}, the config needs "
                f"{tuple(state[name].shape)}"
            )
    model.load_state_dict(tensors)
    model.preprocessing = preprocessing
    if compile and compile_config:
        try:
            model.compile_from_config(compile_config)
        except LstmkitError as exc:
            raise ModelFileError(f"model file {str(path)!r}: invalid compile config ({exc})") from None
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            raise ModelFileError(f"model file {str(path)!r}: invalid compile config ({type(exc).__name__}: {exc})"
                                 [:400]) from None
    return place(model, map_location)


def _check_layer_specs(path: Path, config: dict[str, Any]) -> None:
    """Each layer entry of ``config`` (``{"layers": [...]}``) names a known layer and keywords it takes.

    Files of format version 1 carry no metadata checksum; an edited layer entry is named here
    (``config.config.layers[1]``) instead of surfacing as a traceback from the layer's constructor.
    """
    from lstmkit.layers.base import layer_from_config
    from lstmkit.util.schema import FileSchema

    s = FileSchema(path)
    layers = config.get("layers", [])
    if not isinstance(layers, list):
        s.fail("config.config.layers", "a JSON array of layer objects", type(layers).__name__)
    for i, spec in enumerate(layers):
        field = f"config.config.layers[{i}]"
        s.keys(spec, ("class_name", "config"), field)
        s.obj(spec["config"], f"{field}.config")
        try:
            layer_from_config(spec)
        except TypeError as exc:
            raise ModelFileError(f"model file {str(path)!r}: metadata field {field + '.config'!r}: "
                                 f"{spec.get('class_name')} does not take it ({exc})"[:400]) from None
        except LstmkitError as exc:
            raise ModelFileError(f"model file {str(path)!r}: metadata field {field!r}: {exc}"[:400]) from None


def read_metadata(filepath: Any) -> dict[str, Any]:
    """The decoded metadata of a model file (config, compile config, preprocessing, versions) without loading weights."""
    meta: dict[str, Any] = dict(read_raw_metadata(filepath))
    path = Path(os.fspath(filepath))
    for key in ("config", "compile_config", "preprocessing"):
        if key in meta:
            meta[key] = json_field(path, meta, key, object)
    return meta
