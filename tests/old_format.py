"""Test helper: re-encode an lstmkit file as format version 1 (no metadata ``sha256``) and edit its JSON.

Files written before the container's metadata checksum existed still load, so what protects them
from an edited header is each loader's schema check. ``old_format(path, edit)`` writes such a file:
the same tensors and ``weights_sha256``, ``format_version = "1"``, no ``sha256``, and the metadata
after ``edit(fields)``, where ``fields`` holds every JSON-valued field decoded (edit it in place).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

_MARKERS = {"format", "format_version", "lstmkit_version", "kind", "weights_sha256", "sha256"}


def read_meta(path: str | Path) -> dict[str, str]:
    from lstmkit.util.container import read_raw_metadata

    return read_raw_metadata(path)


def old_format(src: str | Path, edit: Callable[[dict[str, Any]], None] | None = None,
               dst: str | Path | None = None) -> Path:
    """Write ``src`` (or to ``dst``) as a format-version-1 file whose JSON fields went through ``edit``."""
    from safetensors.torch import load, save

    src = Path(src)
    dst = Path(dst) if dst is not None else src
    tensors = load(src.read_bytes())
    meta = dict(read_meta(src))
    meta.pop("sha256", None)
    meta["format_version"] = "1"
    fields: dict[str, Any] = {}
    for key, value in meta.items():
        if key in _MARKERS:
            continue
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    if edit is not None:
        edit(fields)
    out = {k: v for k, v in meta.items() if k in _MARKERS}
    out.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()})
    dst.write_bytes(save(tensors, metadata=out))
    return dst
