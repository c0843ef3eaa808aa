"""One-file model save/load: safetensors weights with the JSON config in the header metadata.

File layout (a standard safetensors file; open it with any safetensors reader):

* tensors: the model's ``state_dict()`` (e.g. ``layers.0.embeddings``, ``layers.1.cell.weight_ih_l0``);
* metadata (all strings): ``format = "lstmkit"``, ``lstmkit_version``, ``config`` (JSON:
  ``{"class_name": "Sequential", "config": {"layers": [...]}}``), ``compile_config`` (JSON or
  ``null``), ``preprocessing`` (JSON dict), ``weights_sha256`` (hash over the tensors, so corrupted
  bytes are detected).

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

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lstmkit._version import __version__
from lstmkit.errors import ConfigError, LstmkitError, ModelFileError

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.models.model import Model

FORMAT = "lstmkit"
FORMAT_VERSION = "1"
KIND_SEQUENTIAL = "sequential"  # files from Model.save (kind marker added later; absent = sequential)


def _model_classes() -> dict[str, type]:
    from lstmkit.models.sequential import Sequential

    return {"Sequential": Sequential}


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_model(model: "Model", filepath: Any) -> None:
    from safetensors.torch import save

    path = Path(os.fspath(filepath))
    if path.is_dir():
        raise ConfigError(f"filepath: expected a file path, found the directory {str(path)!r}")
    if path.exists() and not path.is_file():
        # Renaming over a device or pipe (e.g. /dev/null) would replace it with a regular file.
        raise ConfigError(f"filepath: expected a regular file path, found the special file {str(path)!r}")
    config = {"class_name": type(model).__name__, "config": model.get_config()}
    if type(model).__name__ not in _model_classes():
        raise ConfigError(f"model: only {sorted(_model_classes())} models can be saved, found {type(model).__name__}")
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lstmkit_version": __version__,
        "config": json.dumps(config),
        "compile_config": json.dumps(getattr(model, "_compile_config", None)),
        "preprocessing": model.check_preprocessing(),
        "weights_sha256": _digest(tensors),
    }
    metadata["kind"] = KIND_SEQUENTIAL
    write_bytes_atomic(path, save(tensors, metadata=metadata))


def write_bytes_atomic(path: Any, data: bytes, *, what: str = "model file") -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync and rename.

    A crash or an error part-way leaves the previous file (if any) untouched. An OSError (disk
    full, no permission) becomes a one-line :class:`ModelFileError` naming the file.
    """
    path = Path(os.fspath(path))
    if path.is_dir():
        raise ConfigError(f"filepath: expected a file path, found the directory {str(path)!r}")
    if path.exists() and not path.is_file():
        raise ConfigError(f"filepath: expected a regular file path, found the special file {str(path)!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"filepath: the folder {str(folder)!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise ModelFileError(f"{what} {str(path)!r}: cannot write in {str(folder)!r} ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file 0600; give it the mode a plain open() would (0666 less the umask).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # disk full, permissions...: the old file, if any, is untouched
            raise ModelFileError(f"{what} {str(path)!r}: could not be written ({e.strerror or e})") from e
        raise


def save_tensors(path: Any, tensors: dict[str, torch.Tensor], metadata: dict[str, str], *, kind: str,
                 what: str = "model file") -> None:
    """Generic one-file save: ``tensors`` plus string ``metadata``, marked ``format="lstmkit"`` and ``kind``.

    Adds ``format``, ``format_version``, ``lstmkit_version``, ``kind`` and ``weights_sha256``; written atomically.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {str(k): str(v) for k, v in metadata.items()}
    meta.update({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lstmkit_version": __version__,
        "kind": kind,
        "weights_sha256": _digest(tensors),
    })
    write_bytes_atomic(path, save(tensors, metadata=meta), what=what)


def file_kind(meta: dict[str, Any]) -> str:
    """What an lstmkit file holds: its ``kind`` marker, or ``"sequential"`` for files written before it existed."""
    kind = meta.get("kind")
    return kind if isinstance(kind, str) and kind else KIND_SEQUENTIAL


def load_tensors(path: Any, *, what: str = "model file") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read any lstmkit safetensors file: (tensors, raw string metadata), checking marker and checksum.

    The caller checks :func:`file_kind`. Missing, truncated, foreign and corrupted files raise a
    one-line :class:`ModelFileError` naming the file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    path = Path(os.fspath(path))
    if not path.exists():
        raise ModelFileError(f"{what} {str(path)!r}: not found")
    if not path.is_file():
        raise ModelFileError(f"{what} {str(path)!r}: not a file")
    header = _read_header(path)
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise ModelFileError(
            f"{what} {str(path)!r}: not an lstmkit file (a safetensors file without the format=\"lstmkit\" marker)"
        )
    try:
        tensors = st_load(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{what} {str(path)!r}: corrupted ({exc})") from None
    if _digest(tensors) != meta.get("weights_sha256"):
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (the weights do not match their checksum)")
    return tensors, dict(meta)


def _read_header(path: Path) -> dict[str, Any]:
    """Parse and sanity-check the safetensors header ourselves, to name what is wrong."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFileError(f"model file {str(path)!r}: not an lstmkit model (only {size} bytes; truncated or empty)")
        (n,) = struct.unpack("<Q", head)
        if n <= 1 or n > min(size - 8, 100 * 1024 * 1024):
            raise ModelFileError(
                f"model file {str(path)!r}: not an lstmkit model (no safetensors header; truncated or another format)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"model file {str(path)!r}: corrupted (the safetensors header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"model file {str(path)!r}: corrupted (the safetensors header is not a JSON object)")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise ModelFileError(f"model file {str(path)!r}: corrupted (bad entry for tensor {name!r})") from None
    if 8 + n + end > size:
        raise ModelFileError(
            f"model file {str(path)!r}: truncated (expected at least {8 + n + end} bytes, found {size})"
        )
    return header


def load_model(filepath: Any, *, compile: bool = True) -> "Model":
    """Load a model written by :meth:`Model.save` (weights, config, compile config, preprocessing).

    Raises :class:`~lstmkit.errors.ModelFileError` naming the file when it is missing, not an lstmkit
    model, truncated or corrupted.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    path = Path(os.fspath(filepath))
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r}: not found")
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r}: not a file")
    header = _read_header(path)
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise ModelFileError(
            f"model file {str(path)!r}: not an lstmkit model (a safetensors file without the format=\"lstmkit\" marker)"
        )
    if file_kind(meta) != KIND_SEQUENTIAL:
        raise ModelFileError(
            f"model file {str(path)!r}: holds a {file_kind(meta)!r}, not a Keras-style Sequential model"
        )
    try:
        config = json.loads(meta["config"])
        compile_config = json.loads(meta.get("compile_config", "null"))
        preprocessing = json.loads(meta.get("preprocessing", "{}"))
        expected_digest = meta["weights_sha256"]
    except (KeyError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"model file {str(path)!r}: corrupted (metadata field {exc} missing or not JSON)") from None
    try:
        tensors = st_load(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"model file {str(path)!r}: corrupted ({exc})") from None
    if _digest(tensors) != expected_digest:
        raise ModelFileError(f"model file {str(path)!r}: corrupted (the weights do not match their checksum)")
    cls = _model_classes().get(config.get("class_name") if isinstance(config, dict) else None)
    if cls is None:
        raise ModelFileError(f"model file {str(path)!r}: unknown model class {config.get('class_name')!r}")
    try:
        model = cls.from_config(config.get("config", {}))
    except LstmkitError as exc:
        raise ModelFileError(f"model file {str(path)!r}: invalid model config ({exc})") from None
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
    model.preprocessing = preprocessing if isinstance(preprocessing, dict) else {}
    if compile and compile_config:
        try:
            model.compile_from_config(compile_config)
        except LstmkitError as exc:
            raise ModelFileError(f"model file {str(path)!r}: invalid compile config ({exc})") from None
    return model


def read_metadata(filepath: Any) -> dict[str, Any]:
    """The decoded metadata of a model file (config, compile config, preprocessing, versions) without loading weights."""
    path = Path(os.fspath(filepath))
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r}: not found")
    meta = dict(_read_header(path).get("__metadata__") or {})
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"model file {str(path)!r}: not an lstmkit model (no format=\"lstmkit\" marker)")
    for key in ("config", "compile_config", "preprocessing"):
        if key in meta:
            try:
                meta[key] = json.loads(meta[key])
            except json.JSONDecodeError:
                raise ModelFileError(f"model file {str(path)!r}: corrupted (metadata {key!r} is not JSON)") from None
    return meta
