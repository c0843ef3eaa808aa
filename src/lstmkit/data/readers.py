"""Read records (dicts) from JSON Lines and CSV files, with errors that say exactly what is wrong.

Every problem is a :class:`~lstmkit.errors.DataError` whose one-line message names the file and, where it
applies, the line number, the byte offset or the fields that are present.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from lstmkit.errors import DataError

_BOM = b"\xef\xbb\xbf"


def _read_text(path: str | PathLike[str], kind: str) -> tuple[Path, str]:
    """Read ``path`` as UTF-8 (a leading BOM is allowed); DataError if missing, a directory, empty, or undecodable."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{kind} file not found: {p}")
    if p.is_dir():
        raise DataError(f"{kind} path is a directory, expected a file: {p}")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {kind} file {p}: {e.strerror or e}") from None
    skip = len(_BOM) if raw.startswith(_BOM) else 0
    try:
        text = raw[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = e.start + skip
        line = raw.count(b"\n", 0, offset) + 1
        bad = raw[offset : offset + 1].hex()
        raise DataError(
            f"{p}: not valid UTF-8 at byte offset {offset} (line {line}, byte 0x{bad}): {e.reason}"
        ) from None
    if not text.strip():
        raise DataError(f"{kind} file is empty: {p}")
    return p, text


def _check_fields(p: Path, where: str, record: dict[str, Any], fields: Sequence[str] | None) -> None:
    if not fields:
        return
    missing = [f for f in fields if f not in record]
    if missing:
        present = ", ".join(repr(k) for k in record) or "none"
        names = ", ".join(repr(f) for f in missing)
        raise DataError(f"{p}:{where}: missing field {names}; fields present: {present}")


def read_jsonl(path: str | PathLike[str], fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Records of a JSON Lines file: one JSON object per line; blank lines are skipped.

    ``fields``: names every record must have (DataError naming the line and the fields present if not).
    """
    p, text = _read_text(path, "JSONL")
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{p}:{lineno}: bad JSON at column {e.colno}: {e.msg}") from None
        if not isinstance(rec, dict):
            raise DataError(f"{p}:{lineno}: expected a JSON object, found {type(rec).__name__}")
        _check_fields(p, str(lineno), rec, fields)
        records.append(rec)
    if not records:
        raise DataError(f"JSONL file has no records: {p}")
    return records


def read_csv(
    path: str | PathLike[str], fields: Sequence[str] | None = None, *, delimiter: str = ","
) -> list[dict[str, str]]:
    """Records of a CSV file with a header row (values are strings).

    ``fields``: column names every record must have (DataError listing the header's columns if not).
    A row with more or fewer cells than the header is an error naming its line.
    """
    p, text = _read_text(path, "CSV")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = next(reader)
        header = [h.strip() for h in header]
        if fields:
            _check_fields(p, "1 (header)", dict.fromkeys(header), fields)
        records: list[dict[str, str]] = []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{p}:{reader.line_num}: row has {len(row)} cells but the header has {len(header)} "
                    f"({', '.join(header)})"
                )
            records.append(dict(zip(header, row)))
    except csv.Error as e:
        raise DataError(f"{p}: bad CSV: {e}") from None
    if not records:
        raise DataError(f"CSV file has a header but no records: {p}")
    return records


def read_records(path: str | PathLike[str], fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Dispatch on the suffix: ``.jsonl``/``.ndjson`` → :func:`read_jsonl`, ``.csv``/``.tsv`` → :func:`read_csv`."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path, fields)
    if suffix == ".csv":
        return read_csv(path, fields)
    if suffix == ".tsv":
        return read_csv(path, fields, delimiter="\t")
    raise DataError(f"unknown record file type {suffix or '(no suffix)'!r} for {path}; expected .jsonl, .csv or .tsv")


__all__ = ["read_jsonl", "read_csv", "read_records"]
