"""Feed a file of events through a :class:`~lstmkit.stream.engine.StreamEngine` (``lstmkit stream replay``).

The events file is a CSV with a header: ``stream_id``, ``seq`` (empty: the next number), then one
column per input value (``x0, x1, ...``, any names; one column of token ids for a model that starts
with an Embedding; for a text classifier or a language model, the rest of the row is a token id or a
text chunk). Rows are applied in file order, ``batch`` rows per :meth:`StreamEngine.step_many`
call (each call one atomic save). The outputs are written as ``stream_id, seq, y0, y1, ...``, or
``stream_id, seq, output`` with the JSON of a task model's output (class probabilities, forecast rows, next tokens).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lstmkit.errors import DataError, LstmkitError


@dataclass
class ReplayResult:
    events: int
    streams: int
    output: Path | None
    store: str


def _row(cells: list[str], line: int, path: Path, token_input: bool, text_input: bool = False) -> tuple[str, Any, int | None]:
    if len(cells) < 3:
        raise DataError(f"{path}, line {line}: expected stream_id, seq and at least one value, found {len(cells)} field(s)")
    sid, seq_text, values = cells[0].strip(), cells[1].strip(), cells[2:]
    try:
        seq = None if seq_text == "" else int(seq_text)
    except ValueError:
        raise DataError(f"{path}, line {line}: seq: expected an integer or nothing, found {seq_text!r}") from None
    if text_input:  # a text model: the rest of the row is one token id or a text chunk
        text = ",".join(values)
        stripped = text.strip()
        return sid, (int(stripped) if stripped.isdigit() else text), seq
    try:
        nums = [float(v) for v in values]
    except ValueError:
        raise DataError(f"{path}, line {line}: values: expected numbers, found {values!r}"[:300]) from None
    if token_input:
        if len(nums) != 1 or not float(nums[0]).is_integer():
            raise DataError(f"{path}, line {line}: expected one token id, found {values!r}"[:300])
        return sid, int(nums[0]), seq
    if not all(math.isfinite(v) for v in nums):
        raise DataError(f"{path}, line {line}: NaN or infinite value in {values!r}"[:300])
    return sid, np.asarray(nums, dtype=np.float32), seq


def replay(engine: Any, events_path: str | Path, output: str | Path | None = None, batch: int = 1024,
           progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Apply every event of ``events_path`` through ``engine``; write the outputs to ``output``."""
    path = Path(events_path)
    if not path.is_file():
        raise DataError(f"events file {str(path)!r} does not exist")
    kind = engine.info().get("input", {}).get("kind")
    token_input = kind == "token"
    text_input = kind == "tokens"
    out_file = None
    writer = None
    n = 0
    streams: set[str] = set()
    try:
        if output is not None:
            out_file = open(Path(output), "w", newline="", encoding="utf-8")
            writer = csv.writer(out_file)
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header or [h.strip() for h in header[:2]] != ["stream_id", "seq"]:
                raise DataError(f"{path}, line 1: expected a header starting with stream_id,seq, found {header!r}"[:300])
            chunk: list[tuple[str, Any, int | None]] = []
            first_line = 2

            def flush(last_line: int) -> None:
                nonlocal n
                if not chunk:
                    return
                try:
                    ys = engine.step_many(chunk)
                except LstmkitError as e:
                    raise type(e)(f"{path}, lines {first_line}-{last_line}: {e}") from None
                if writer is not None:
                    as_json = isinstance(ys[0], dict)  # a task model's output: one JSON column
                    if n == 0:
                        writer.writerow(["stream_id", "seq", *(["output"] if as_json else
                                                               [f"y{i}" for i in range(np.size(ys[0]))])])
                    for (sid, _, _), seq, y in zip(chunk, engine.last_seqs, ys):
                        writer.writerow([sid, seq, json.dumps(y)] if as_json else [sid, seq, *np.ravel(y).tolist()])
                for sid, _, _ in chunk:
                    streams.add(sid)
                n += len(chunk)
                if progress is not None:
                    progress(len(chunk))
                chunk.clear()

            line = 1
            for line, cells in enumerate(reader, start=2):
                if not cells:
                    continue
                chunk.append(_row(cells, line, path, token_input, text_input))
                if len(chunk) >= batch:
                    flush(line)
                    first_line = line + 1
            flush(line)
    finally:
        if out_file is not None:
            out_file.close()
    return ReplayResult(n, len(streams), Path(output) if output is not None else None, engine.store.url)


__all__ = ["replay", "ReplayResult"]
