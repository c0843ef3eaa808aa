"""The one file format: a safetensors file whose string metadata carries JSON, a kind marker and checksums.

Layout (a standard safetensors file; any safetensors reader opens it):

* tensors: whatever the kind stores (a model's ``state_dict()``, optimizer moments, RNG states ...);
* metadata (all strings): ``format = "lstmkit"``, ``format_version``, ``lstmkit_version``, ``kind``
  (what the file holds; see :mod:`lstmkit.util.registry`), the kind's own JSON fields, and two
  checksums:

  - ``weights_sha256``: SHA-256 over every tensor's name, dtype, shape and bytes;
  - ``sha256`` (format version 2 on): SHA-256 over ``weights_sha256`` and every other metadata field
    (sorted ``key=value`` pairs), so an edited JSON header is detected as surely as a flipped weight.

Files of format version 1 (written before the metadata checksum existed) carry only
``weights_sha256``; they still load, and their metadata is then checked by each kind's schema.

Nothing is pickled and nothing is read with ``torch.load``. Writes go through a temporary file and a
rename (:func:`lstmkit.util.files.write_bytes_atomic`), so an existing file is never half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import torch

from lstmkit._version import __version__
from lstmkit.errors import ModelFileError
from lstmkit.util.files import write_bytes_atomic

FORMAT = "lstmkit"
FORMAT_VERSION = "2"
#: The kind assumed for files written before the ``kind`` marker existed (Keras-style models).
KIND_SEQUENTIAL = "sequential"
_MAX_HEADER = 100 * 1024 * 1024
#: older spellings of a kind -> the one spelling (see :mod:`lstmkit.util.registry`)
KIND_ALIASES: dict[str, str] = {"sequence-classifier": "sequence_classifier"}


def canonical_kind(kind: str) -> str:
    """The one spelling of a kind marker (``sequence-classifier`` -> ``sequence_classifier``)."""
    return KIND_ALIASES.get(kind, kind)


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over each tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def metadata_digest(meta: dict[str, str]) -> str:
    """SHA-256 over every metadata field but ``sha256`` itself (which includes ``weights_sha256``)."""
    h = hashlib.sha256()
    for key in sorted(meta):
        if key == "sha256":
            continue
        h.update(json.dumps([key, meta[key]]).encode())
        h.update(b"\n")
    return h.hexdigest()


def encode(tensors: dict[str, torch.Tensor], metadata: dict[str, Any], *, kind: str) -> bytes:
    """The bytes of an lstmkit file: ``tensors`` plus ``metadata`` (non-strings are JSON-encoded)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    meta.update({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lstmkit_version": __version__,
        "kind": kind,
        "weights_sha256": tensors_digest(tensors),
    })
    meta["sha256"] = metadata_digest(meta)
    return save(tensors, metadata=meta)


def save_tensors(path: Any, tensors: dict[str, torch.Tensor], metadata: dict[str, Any], *, kind: str,
                 what: str = "model file") -> None:
    """Write one lstmkit file atomically: ``tensors`` plus string ``metadata``, marked with ``kind``.

    Adds ``format``, ``format_version``, ``lstmkit_version``, ``kind``, ``weights_sha256`` and ``sha256``.
    """
    write_bytes_atomic(path, encode(tensors, metadata, kind=kind), what=what)


def file_kind(meta: dict[str, Any]) -> str:
    """What an lstmkit file holds: its ``kind`` marker in its one spelling (older spellings such as
    ``sequence-classifier`` are mapped by :data:`KIND_ALIASES`), or ``"sequential"`` for files
    written before the marker existed."""
    kind = meta.get("kind")
    return canonical_kind(kind) if isinstance(kind, str) and kind else KIND_SEQUENTIAL


def read_header(path: Path, what: str = "model file") -> dict[str, Any]:
    """Parse and sanity-check the safetensors header ourselves, to name what is wrong."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{what} {str(path)!r}: not an lstmkit model (only {size} bytes; truncated or empty)")
        (n,) = struct.unpack("<Q", head)
        if n <= 1 or n > min(size - 8, _MAX_HEADER):
            raise ModelFileError(
                f"{what} {str(path)!r}: not an lstmkit model (no safetensors header; truncated or another format)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (the safetensors header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (the safetensors header is not a JSON object)")
    meta = header.get("__metadata__")
    if meta is not None and (not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())):
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (the metadata is not a map of strings)")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise ModelFileError(f"{what} {str(path)!r}: corrupted (bad entry for tensor {name!r})") from None
    if 8 + n + end > size:
        raise ModelFileError(f"{what} {str(path)!r}: truncated (expected at least {8 + n + end} bytes, found {size})")
    return header


def _check_path(path: Any, what: str) -> Path:
    if path is None or not isinstance(path, (str, os.PathLike)):
        raise ModelFileError(f"{what}: expected a file path, found {type(path).__name__} {path!r}"[:300])
    path = Path(os.fspath(path))
    if not path.exists():
        raise ModelFileError(f"{what} {str(path)!r}: not found")
    if not path.is_file():
        raise ModelFileError(f"{what} {str(path)!r}: not a file")
    return path


def read_raw_metadata(path: Any, *, what: str = "model file") -> dict[str, str]:
    """The raw string metadata of an lstmkit file (marker and metadata checksum checked; weights not read)."""
    path = _check_path(path, what)
    meta = dict(read_header(path, what).get("__metadata__") or {})
    if meta.get("format") != FORMAT:
        noun = "model" if what == "model file" else "file"
        raise ModelFileError(
            f"{what} {str(path)!r}: not an lstmkit {noun} (a safetensors file without the format=\"lstmkit\" marker)"
        )
    check_metadata_digest(path, meta, what)
    return meta


def check_metadata_digest(path: Path, meta: dict[str, str], what: str) -> None:
    """Files of format version 2 on must carry a ``sha256`` that matches their metadata."""
    version = meta.get("format_version", "1")
    if version == "1" and "sha256" not in meta:
        return  # written before the metadata checksum existed; each kind's schema still checks it
    if version not in ("1", FORMAT_VERSION):
        raise ModelFileError(
            f"{what} {str(path)!r}: format version {version!r} is newer than this lstmkit ({__version__}) reads "
            f"(expected 1 or {FORMAT_VERSION})"
        )
    if meta.get("sha256") != metadata_digest(meta):
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (the metadata does not match its checksum; "
                             "was the JSON header edited?)")


def load_tensors(path: Any, *, what: str = "model file") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read any lstmkit safetensors file: (tensors, raw string metadata), checking marker and both checksums.

    The caller checks :func:`file_kind` and its kind's schema. Missing, truncated, foreign and
    corrupted files raise a one-line :class:`ModelFileError` naming the file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    meta = read_raw_metadata(path, what=what)
    path = Path(os.fspath(path))
    try:
        tensors = st_load(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{what} {str(path)!r}: corrupted ({exc})") from None
    if tensors_digest(tensors) != meta.get("weights_sha256"):
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (the weights do not match their checksum)")
    return tensors, meta


def json_field(path: Any, meta: dict[str, str], key: str, expected: type | tuple[type, ...], *,
               what: str = "model file", default: Any = ...) -> Any:
    """Decode metadata field ``key`` as JSON and check its type; a one-line ModelFileError otherwise."""
    if key not in meta:
        if default is not ...:
            return default
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (metadata field {key!r} is missing)")
    try:
        value = json.loads(meta[key])
    except json.JSONDecodeError:
        raise ModelFileError(f"{what} {str(path)!r}: corrupted (metadata field {key!r} is not JSON)") from None
    if not isinstance(value, expected):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise ModelFileError(
            f"{what} {str(path)!r}: metadata field {key!r} should be a JSON {_json_name(names)}, found {type(value).__name__}"
        )
    return value


def _json_name(py: str) -> str:
    return py.replace("dict", "object").replace("list", "array").replace("str", "string")


__all__ = [
    "FORMAT", "FORMAT_VERSION", "KIND_SEQUENTIAL", "KIND_ALIASES", "canonical_kind", "tensors_digest", "metadata_digest", "encode", "save_tensors",
    "load_tensors", "read_raw_metadata", "read_header", "file_kind", "json_field", "check_metadata_digest",
]
