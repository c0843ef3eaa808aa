"""Read records (dicts) from JSON Lines and CSV files, with errors that say exactly what is wrong.

Every problem is a :class:`~lstmkit.errors.DataError` whose one-line message names the file and, where it
applies, the line number, the byte offset or the fields that are present.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from lstmkit.errors import DataError

_BOM = b"\xef\xbb\xbf"


def _read_text(path: str | PathLike[str], kind: str, encoding: str = "utf-8") -> tuple[Path, str]:
    """Read ``path`` as ``encoding`` (UTF-8 by default; a leading UTF-8 BOM is allowed); DataError if
    missing, a directory, empty, or undecodable (naming the file and the byte offset)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{kind} file not found: {p}")
    if p.is_dir():
        raise DataError(f"{kind} path is a directory, expected a file: {p}")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {kind} file {p}: {e.strerror or e}") from None
    return p, _decode(p, raw, kind, encoding)


def read_text(path: str | PathLike[str], *, kind: str = "text", encoding: str = "utf-8") -> str:
    """The whole text of a file, for any reader of plain text (a corpus, a file of texts to classify).

    One-line :class:`DataError` when it is missing, a directory, empty (or only whitespace), or not
    valid ``encoding`` (naming the byte offset and suggesting ``--encoding``); ``kind`` names the file
    in messages (``"training"`` gives ``training file not found: ...``).
    """
    return _read_text(path, kind, encoding)[1]


def _decode(p: Path, raw: bytes, kind: str, encoding: str = "utf-8") -> str:
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise DataError(f"unknown encoding {encoding!r} for {p}; try utf-8, latin-1 or cp1252") from None
    utf8 = codecs.lookup(encoding).name == "utf-8"
    skip = len(_BOM) if utf8 and raw.startswith(_BOM) else 0
    try:
        text = raw[skip:].decode(encoding)
    except UnicodeDecodeError as e:
        offset = e.start + skip
        line = raw.count(b"\n", 0, offset) + 1
        bad = raw[offset : offset + 1].hex()
        name = "UTF-8" if utf8 else encoding
        raise DataError(
            f"{p}: not valid {name} at byte offset {offset} (line {line}, byte 0x{bad}): {e.reason}; "
            f"pass the file's encoding, e.g. --encoding latin-1"
        ) from None
    if not text.strip():
        raise DataError(f"{kind} file is empty: {p}")
    return text


def _check_fields(p: Path, where: str, record: dict[str, Any], fields: Sequence[str] | None) -> None:
    if not fields:
        return
    missing = [f for f in fields if f not in record]
    if missing:
        present = ", ".join(repr(k) for k in record) or "none"
        names = ", ".join(repr(f) for f in missing)
        raise DataError(f"{p}:{where}: missing field {names}; fields present: {present}")


def read_jsonl(
    path: str | PathLike[str], fields: Sequence[str] | None = None, *, encoding: str = "utf-8"
) -> list[dict[str, Any]]:
    """Records of a JSON Lines file: one JSON object per line; blank lines are skipped.

    ``fields``: names every record must have (DataError naming the line and the fields present if not).
    """
    p, text = _read_text(path, "JSONL", encoding)
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
    path: str | PathLike[str], fields: Sequence[str] | None = None, *, delimiter: str = ",", encoding: str = "utf-8"
) -> list[dict[str, str]]:
    """Records of a CSV file with a header row (values are strings).

    ``fields``: column names every record must have (DataError listing the header's columns if not).
    A row with more or fewer cells than the header is an error naming its line.
    """
    p, text = _read_text(path, "CSV", encoding)
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


def read_records(
    path: str | PathLike[str], fields: Sequence[str] | None = None, *, encoding: str = "utf-8"
) -> list[dict[str, Any]]:
    """Dispatch on the suffix: ``.jsonl``/``.ndjson`` → :func:`read_jsonl`, ``.csv``/``.tsv`` → :func:`read_csv`."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path, fields, encoding=encoding)
    if suffix == ".csv":
        return read_csv(path, fields, encoding=encoding)
    if suffix == ".tsv":
        return read_csv(path, fields, delimiter="\t", encoding=encoding)
    raise DataError(f"unknown record file type {suffix or '(no suffix)'!r} for {path}; expected .jsonl, .csv or .tsv")


def read_text_folder(path: str | PathLike[str], *, encoding: str = "utf-8") -> tuple[list[str], list[str]]:
    """Texts and labels of a folder of class-named subfolders of ``.txt`` files (label = subfolder name).

    Subfolders without ``.txt`` files are skipped; DataError if none has any. Files are read in sorted
    order, so the result does not depend on the file system.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"text folder not found: {root}")
    texts: list[str] = []
    labels: list[str] = []
    for sub in sorted(d for d in root.iterdir() if d.is_dir()):
        for f in sorted(sub.glob("*.txt")):
            try:
                raw = f.read_bytes()
            except OSError as e:
                raise DataError(f"cannot read text file {f}: {e.strerror or e}") from None
            texts.append(_decode(f, raw, "text", encoding))
            labels.append(sub.name)
    if not texts:
        raise DataError(
            f"text folder {root} has no class subfolders with .txt files "
            f"(expected e.g. {root / 'positive' / '001.txt'})"
        )
    return texts, labels


def read_labeled_texts(
    path: str | PathLike[str],
    text_field: str = "text",
    label_field: str = "label",
    *,
    encoding: str = "utf-8",
) -> tuple[list[str], list[Any]]:
    """``(texts, labels)`` of a CSV / TSV / JSONL file or a folder of class subfolders of ``.txt`` files.

    Labels are strings or integers (CSV cells are strings). A text that is not a string, a label that is
    not a string or an integer, or a missing / empty label is a DataError naming the file and record.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file not found: {p}")
    if p.is_dir():
        return read_text_folder(p, encoding=encoding)
    records = read_records(p, (text_field, label_field), encoding=encoding)
    texts: list[str] = []
    labels: list[Any] = []
    for i, r in enumerate(records, start=1):
        text, label = r[text_field], r[label_field]
        if not isinstance(text, str):
            raise DataError(f"{p}: record {i}: field {text_field!r} must be a string, found {type(text).__name__}")
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise DataError(
                f"{p}: record {i}: field {label_field!r} must be a string or an integer, found {label!r}"
            )
        if isinstance(label, str):
            label = label.strip()
            if not label:
                raise DataError(f"{p}: record {i}: field {label_field!r} is empty")
        texts.append(text)
        labels.append(label)
    return texts, labels


__all__ = ["read_jsonl", "read_csv", "read_records", "read_text_folder", "read_labeled_texts"]
