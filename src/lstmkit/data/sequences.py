"""Labelled sequences from files: arrays (NPZ, long-format CSV, sktime/UEA ``.ts``) and folders of wav files.

Every reader returns a :class:`SequenceSet`: ``sequences`` (a list of ``(T_i, F)`` float32 arrays, lengths
may differ), ``labels`` (strings or ints, or ``None`` for unlabelled data), ``names`` (file name, id or row,
used in messages and by ``--test-pattern``), ``source`` and, for audio, the :class:`AudioFeatures` used.
:func:`read_sequences` picks the reader from the path:

* **folder of ``.wav`` files** (searched recursively; names are paths relative to the folder, ``/``
  separated): each file becomes its MFCC sequence (:mod:`lstmkit.data.audio`). Labels come from a regex
  on the name (``label_pattern``; the group named ``label``, else group 1; the default
  ``(?P<label>[^/_]+)_[^/]*$`` takes the first ``_``-separated field of the file name, as in FSDD's
  ``7_jackson_32.wav``), or from a CSV ``manifest`` with columns ``file`` and ``label`` (paths relative to
  the folder).
* **``.npz``**: ``x`` ``(N, T, F)`` (or ``(N, T)`` for one feature), ``y`` ``(N,)`` labels (numbers or
  strings), optional ``lengths`` ``(N,)``: sequence ``i`` is ``x[i, :lengths[i]]`` (the rest is padding).
  Pickled (object) arrays are refused.
* **``.csv``** (long format, one row per time step)::

      id,step,label,accel_x,accel_y
      walk01,0,walk,0.12,-0.40
      walk01,1,walk,0.10,-0.38

  ``id_column`` groups rows into sequences (in order of first appearance), ``label_column`` (must be the
  same on all rows of a sequence), an optional ``time_column`` orders the steps (default ``step`` when
  present); every other column is a feature and must be numeric.
* **``.ts``** (sktime / UEA): see :func:`read_ts`.

Every problem is a one-line :class:`~lstmkit.errors.LstmkitError` naming the file and the line, row or
sequence.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.data.audio import AudioFeatures, featurize_files
from lstmkit.data.readers import read_csv, read_text
from lstmkit.errors import ConfigError, DataError, InputValueError, ShapeError

#: First ``_``-separated field of the file name (FSDD: ``{digit}_{speaker}_{index}.wav``).
DEFAULT_LABEL_PATTERN = r"(?P<label>[^/_]+)_[^/]*$"
AUDIO_SUFFIXES = (".wav",)
ARRAY_SUFFIXES = (".npz", ".csv", ".ts")


@dataclass
class SequenceSet:
    """Sequences, their labels (or ``None``) and names; ``audio`` is the feature config of wav data."""

    sequences: list[np.ndarray]
    labels: list[Any] | None
    names: list[str]
    source: str
    audio: AudioFeatures | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def n_features(self) -> int:
        return int(self.sequences[0].shape[1]) if self.sequences else 0

    def subset(self, keep: Sequence[int]) -> SequenceSet:
        keep = list(keep)
        return SequenceSet(
            [self.sequences[i] for i in keep],
            None if self.labels is None else [self.labels[i] for i in keep],
            [self.names[i] for i in keep], self.source, self.audio, dict(self.info),
        )

    def split(self, pattern: str, option: str = "--test-pattern") -> tuple[SequenceSet, SequenceSet]:
        """``(matching, rest)``: the sequences whose name matches the regex ``pattern`` (``re.search``)."""
        rx = compile_pattern(pattern, option)
        hit = [bool(rx.search(n)) for n in self.names]
        return self.subset([i for i, h in enumerate(hit) if h]), self.subset([i for i, h in enumerate(hit) if not h])


def compile_pattern(pattern: str, option: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ConfigError(f"{option}: invalid regular expression {pattern!r}: {e}") from None


def check_sequences(sequences: Sequence[np.ndarray], names: Sequence[str], source: str) -> None:
    """Every sequence non-empty, finite, with the first one's feature count (one-line errors naming it)."""
    if not sequences:
        raise DataError(f"{source}: no sequences")
    n_features = sequences[0].shape[1]
    for seq, name in zip(sequences, names):
        if seq.shape[0] == 0:
            raise DataError(f"{source}: sequence {name} is empty (0 steps)")
        if seq.shape[1] != n_features:
            raise ShapeError(
                f"{source}: sequence {name} has {seq.shape[1]} features, the first sequence ({names[0]}) has {n_features}"
            )
        if not np.isfinite(seq).all():
            raise InputValueError(f"{source}: sequence {name} contains NaN or infinite values")


# -------------------------------------------------------------------------------------------- audio
def list_audio(
    folder: str | PathLike[str], *, label_pattern: str | None = DEFAULT_LABEL_PATTERN,
    manifest: str | PathLike[str] | None = None, file_column: str = "file", label_column: str = "label",
    labels_required: bool = True, encoding: str = "utf-8",
) -> tuple[list[Path], list[str], list[Any] | None]:
    """``(paths, names, labels)`` of the wav files of ``folder`` (or those a manifest lists).

    ``label_pattern=None`` (or ``labels_required=False`` and a name that does not match) gives no labels.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"audio folder not found: {root}")
    if manifest is not None:
        return _manifest_files(root, Path(manifest), file_column, label_column, labels_required, encoding)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not paths:
        raise DataError(f"folder {root} has no .wav files")
    names = [p.relative_to(root).as_posix() for p in paths]
    if label_pattern is None:
        if labels_required:
            raise ConfigError("labelled audio needs a label pattern (--label-pattern) or a manifest (--manifest)")
        return paths, names, None
    rx = compile_pattern(label_pattern, "--label-pattern")
    labels: list[Any] = []
    for name in names:
        m = rx.search(name)
        label = None if m is None else (m.groupdict().get("label") or (m.group(1) if rx.groups else m.group(0)))
        if not label:
            if not labels_required:
                return paths, names, None
            raise DataError(
                f"{root}: file name {name!r} does not match --label-pattern {label_pattern!r} "
                "(a regex whose group 'label' or first group is the label)"
            )
        labels.append(label)
    return paths, names, labels


def _manifest_files(root: Path, manifest: Path, file_column: str, label_column: str,
                    labels_required: bool, encoding: str = "utf-8") -> tuple[list[Path], list[str], list[Any] | None]:
    records = read_csv(manifest, [file_column, label_column] if labels_required else [file_column], encoding=encoding)
    paths, names, labels = [], [], []
    top = root.resolve()
    for row, rec in enumerate(records, start=1):
        name = rec[file_column].strip()
        path = root / name
        # A manifest lists files of the data folder; one that leaves it (../x.wav, /etc/x.wav, a link out)
        # is refused, so a manifest cannot make lstmkit read files elsewhere.
        if name and (Path(name).is_absolute() or not path.resolve().is_relative_to(top)):
            raise DataError(f"{manifest}: row {row}: file {name!r} is outside the data folder {str(root)!r}; "
                            "a manifest may list only files inside it (paths relative to it)")
        if not name or not path.is_file():
            raise DataError(f"{manifest}: row {row}: file {name!r} not found in {root}")
        label = rec.get(label_column, "").strip()
        if labels_required and not label:
            raise DataError(f"{manifest}: row {row}: empty {label_column!r} for {name!r}")
        paths.append(path)
        names.append(Path(name).as_posix())
        labels.append(label)
    has_labels = label_column in records[0] and all(labels)
    return paths, names, labels if has_labels else None


def read_audio(
    folder: str | PathLike[str], config: AudioFeatures | None = None, *, include: str | None = None, **listing: Any,
) -> SequenceSet:
    """MFCC sequences of a folder's wav files (see :func:`list_audio` for ``listing``); ``include``: a
    regex, only files whose name matches are read. A sample rate left unset in ``config`` is the first file's."""
    paths, names, labels = list_audio(folder, **listing)
    if include is not None:
        rx = compile_pattern(include, "--test-pattern")
        keep = [i for i, n in enumerate(names) if rx.search(n)]
        if not keep:
            raise DataError(f"no file in {folder} matches {include!r}")
        paths, names = [paths[i] for i in keep], [names[i] for i in keep]
        labels = None if labels is None else [labels[i] for i in keep]
    config = (config or AudioFeatures()).resolved(paths[0])
    sequences = featurize_files(paths, config)
    return SequenceSet(sequences, labels, names, str(folder), config)


# ------------------------------------------------------------------------------------------- arrays
def read_npz(path: str | PathLike[str], *, labels_required: bool = True) -> SequenceSet:
    """Sequences of an ``.npz`` file with ``x``, ``y`` and optional ``lengths`` (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"array file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DataError(f"{p}: holds pickled (object) arrays, which lstmkit does not load; save numeric or string arrays") from None
        raise DataError(f"cannot read {p}: {e}") from None
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {p} as an .npz file: {e}") from None
    present = ", ".join(sorted(arrays)) or "none"
    if "x" not in arrays:
        raise DataError(f"{p}: no array 'x' (the (N, T, F) sequences); arrays present: {present}")
    x = arrays["x"]
    if x.dtype.kind not in "fiu" or x.ndim not in (2, 3):
        raise ShapeError(f"{p}: 'x' must be a numeric (N, T, F) or (N, T) array, found dtype {x.dtype} shape {x.shape}")
    if x.ndim == 2:
        x = x[:, :, None]
    n, steps = x.shape[:2]
    lengths = np.full(n, steps)
    if "lengths" in arrays:
        lengths = arrays["lengths"]
        if lengths.shape != (n,) or lengths.dtype.kind not in "iu":
            raise ShapeError(f"{p}: 'lengths' must be ({n},) integers, found dtype {lengths.dtype} shape {lengths.shape}")
        bad = np.flatnonzero((lengths < 1) | (lengths > steps))
        if bad.size:
            raise InputValueError(f"{p}: lengths[{bad[0]}] = {lengths[bad[0]]}, expected 1..{steps}")
    labels = None
    if "y" in arrays:
        y = arrays["y"]
        if y.shape != (n,):
            raise ShapeError(f"{p}: 'y' must have shape ({n},) (one label per sequence), found {y.shape}")
        if y.dtype.kind not in "iuU" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
            raise InputValueError(f"{p}: 'y' must hold integer or string labels, found dtype {y.dtype}")
        labels = [str(v) for v in y] if y.dtype.kind == "U" else [int(v) for v in y]
    elif labels_required:
        raise DataError(f"{p}: no array 'y' (the labels); arrays present: {present}")
    names = [str(i) for i in range(n)]
    sequences = [np.ascontiguousarray(x[i, : int(lengths[i])], dtype=np.float32) for i in range(n)]
    for i, seq in enumerate(sequences):
        if not np.isfinite(seq).all():
            step = int(np.flatnonzero(~np.isfinite(seq).all(axis=1))[0])
            raise InputValueError(
                f"{p}: sequence {i} has NaN or infinite values at step {step}; mark padding with a 'lengths' array instead"
            )
    return SequenceSet(sequences, labels, names, str(p))


def _number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        what = "an empty cell" if not text.strip() else f"a non-numeric value {text.strip()!r}"
        raise DataError(f"{where}: column {column!r} has {what}") from None
    if not np.isfinite(value):
        raise InputValueError(f"{where}: column {column!r} has {text.strip()!r}; expected a finite number")
    return value


def read_sequence_csv(
    path: str | PathLike[str], *, id_column: str = "id", label_column: str = "label", time_column: str | None = None,
    labels_required: bool = True, encoding: str = "utf-8",
) -> SequenceSet:
    """Sequences of a long-format CSV (one row per step; see the module docstring).

    ``time_column=None`` uses ``step`` when the file has it; a named one must exist.
    """
    p = Path(path)
    text = read_text(p, kind="CSV", encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as e:
        raise DataError(f"{p}: bad CSV header: {e}") from None
    present = ", ".join(header)
    for option, name in (("--id-column", id_column), ("--time-column", time_column)):
        if name is not None and name not in header:
            raise DataError(f"{p}:1: no column {name!r} ({option}); columns present: {present}")
    if labels_required and label_column not in header:
        raise DataError(f"{p}:1: no column {label_column!r} (--label-column); columns present: {present}")
    if time_column is None and "step" in header:
        time_column = "step"
    special = {id_column, label_column, time_column}
    features = [h for h in header if h not in special]
    if not features:
        raise DataError(f"{p}:1: no feature columns besides {', '.join(repr(c) for c in header)}")
    col = {h: i for i, h in enumerate(header)}
    has_label = label_column in col
    rows: dict[str, list[tuple[float, list[float]]]] = {}
    labels: dict[str, str] = {}
    first_line: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{p}:{line}: row has {len(row)} cells but the header has {len(header)} ({present})")
            where = f"{p}:{line}"
            sid = row[col[id_column]].strip()
            if not sid:
                raise DataError(f"{where}: empty {id_column!r}")
            values = [_number(row[col[c]], where, c) for c in features]
            step = _number(row[col[time_column]], where, time_column) if time_column else float(len(rows.get(sid, ())))
            if has_label:
                label = row[col[label_column]].strip()
                if not label and labels_required:
                    raise DataError(f"{where}: empty {label_column!r} for sequence {sid!r}")
                if labels.setdefault(sid, label) != label:
                    raise DataError(
                        f"{where}: sequence {sid!r} has label {label!r} here but {labels[sid]!r} on line {first_line[sid]}"
                    )
            first_line.setdefault(sid, line)
            rows.setdefault(sid, []).append((step, values))
    except csv.Error as e:
        raise DataError(f"{p}: bad CSV: {e}") from None
    if not rows:
        raise DataError(f"CSV file has a header but no rows: {p}")
    sequences, names = [], []
    for sid, steps in rows.items():
        order = sorted(steps, key=lambda s: s[0])
        times = [s[0] for s in order]
        dup = next((t for t, u in zip(times, times[1:]) if t == u), None)
        if dup is not None:
            raise DataError(f"{p}: sequence {sid!r} has step {dup:g} twice in column {time_column!r}")
        sequences.append(np.asarray([s[1] for s in order], dtype=np.float32))
        names.append(sid)
    out_labels = [labels[s] for s in names] if has_label and all(labels.values()) else None
    return SequenceSet(sequences, out_labels, names, str(p), info={"features": features})


# ----------------------------------------------------------------------------------------------- .ts
_TS_FLAGS = ("timestamps", "missing", "univariate", "equallength", "classlabel")
_TS_TAGS = {"problemname", "serieslength", "dimensions", "data", "targetlabel", *_TS_FLAGS}


def _ts_bool(value: str, where: str, tag: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise DataError(f"{where}: @{tag} must be true or false, found {value.strip()!r}")
    return v == "true"


def read_ts(path: str | PathLike[str], *, labels_required: bool = True, encoding: str = "utf-8") -> SequenceSet:
    """Sequences of an sktime / UEA ``.ts`` file (a strict reader of the documented format).

    Header lines (``#`` comments allowed): ``@problemName``, ``@timeStamps`` (only ``false`` is
    supported), ``@missing``, ``@univariate``, ``@dimensions N``, ``@equalLength``, ``@seriesLength N``,
    ``@classLabel true L1 L2 ...`` / ``false``, then ``@data``. Each data line is one case: its
    dimensions separated by ``:``, each a comma-separated list of values, and the class label last when
    ``@classLabel true``. Missing values (``?``) and regression targets are refused with a one-line error.
    """
    p = Path(path)
    text = read_text(p, kind=".ts", encoding=encoding)
    header: dict[str, Any] = {}
    sequences, labels, names = [], [], []
    in_data = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{p}:{lineno}"
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataError(f"{where}: expected a header line (@...) or @data before the values, found {line[:40]!r}")
            tag, _, value = line[1:].partition(" ")
            tag = tag.lower()
            if tag not in _TS_TAGS:
                raise DataError(f"{where}: unknown .ts header @{tag}; known: {', '.join('@' + t for t in sorted(_TS_TAGS))}")
            if tag == "data":
                in_data = True
                if "classlabel" not in header:
                    raise DataError(f"{where}: @data before @classLabel (the header must say whether cases have labels)")
            elif tag == "targetlabel":
                raise DataError(f"{where}: @targetLabel marks a regression problem; lstmkit seq classifies (needs @classLabel)")
            elif tag == "classlabel":
                flag, *classes = value.split()
                header["classlabel"] = _ts_bool(flag or "", where, "classLabel")
                header["classes"] = classes
            elif tag in _TS_FLAGS:
                header[tag] = _ts_bool(value, where, tag)
                if tag == "timestamps" and header[tag]:
                    raise DataError(f"{where}: @timeStamps true is not supported; write the values without timestamps")
            elif tag in ("serieslength", "dimensions"):
                if not value.strip().isdigit() or int(value) < 1:
                    raise DataError(f"{where}: @{tag} must be a positive integer, found {value.strip()!r}")
                header[tag] = int(value)
            else:
                header[tag] = value.strip()
            continue
        parts = line.split(":")
        label = None
        if header["classlabel"]:
            if len(parts) < 2:
                raise DataError(f"{where}: expected dimensions then ':' and the class label, found no ':'")
            label = parts.pop().strip()
            if header["classes"] and label not in header["classes"]:
                raise DataError(f"{where}: class label {label!r} is not declared in @classLabel ({' '.join(header['classes'])})")
        dims = []
        for d, part in enumerate(parts):
            cells = part.split(",")
            if any(c.strip() == "?" for c in cells):
                raise DataError(f"{where}: dimension {d} has a missing value '?'; lstmkit needs complete series")
            dims.append([_number(c, where, f"dimension {d}") for c in cells])
        expected_dims = header.get("dimensions") or (1 if header.get("univariate") else None) or (
            sequences[0].shape[1] if sequences else len(dims))
        if len(dims) != expected_dims:
            raise ShapeError(f"{where}: case has {len(dims)} dimensions, expected {expected_dims}")
        lengths = {len(d) for d in dims}
        if len(lengths) > 1:
            raise ShapeError(f"{where}: the dimensions of one case have different lengths ({', '.join(str(len(d)) for d in dims)})")
        n_steps = lengths.pop()
        if header.get("equallength") and header.get("serieslength") and n_steps != header["serieslength"]:
            raise ShapeError(f"{where}: case has {n_steps} steps, @seriesLength says {header['serieslength']}")
        sequences.append(np.asarray(dims, dtype=np.float32).T.copy())
        labels.append(label)
        names.append(f"case {len(names) + 1} (line {lineno})")
    if not in_data:
        raise DataError(f"{p}: no @data line (is it a .ts file?)")
    if not sequences:
        raise DataError(f"{p}: @data has no cases")
    has_labels = bool(header["classlabel"])
    if labels_required and not has_labels:
        raise DataError(f"{p}: @classLabel false: the cases have no labels")
    info = {"problem": header.get("problemname")} if header.get("problemname") else {}
    return SequenceSet(sequences, labels if has_labels else None, names, str(p), info=info)


# ------------------------------------------------------------------------------------------ dispatch
def read_sequences(
    path: str | PathLike[str], *, audio: AudioFeatures | None = None, label_pattern: str | None = DEFAULT_LABEL_PATTERN,
    manifest: str | PathLike[str] | None = None, id_column: str = "id", label_column: str = "label",
    time_column: str | None = None, include: str | None = None, labels_required: bool = True, encoding: str = "utf-8",
) -> SequenceSet:
    """Read a folder of wav files, an ``.npz``, a long-format ``.csv`` or a ``.ts`` file (by path).

    ``include``: a regex; only sequences whose name matches are kept (for audio, before featurising).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"data not found: {p}")
    if p.is_dir():
        return read_audio(
            p, audio, include=include, label_pattern=label_pattern, manifest=manifest,
            label_column=label_column, labels_required=labels_required, encoding=encoding,
        )
    suffix = p.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        if labels_required:
            raise DataError(f"{p} is a single .wav file without a label; give a folder of labelled .wav files")
        config = (audio or AudioFeatures()).resolved(p)
        return SequenceSet(featurize_files([p], config), None, [p.name], str(p), config)
    if suffix == ".npz":
        data = read_npz(p, labels_required=labels_required)
    elif suffix == ".csv":
        data = read_sequence_csv(p, id_column=id_column, label_column=label_column, time_column=time_column,
                                 labels_required=labels_required, encoding=encoding)
    elif suffix == ".ts":
        data = read_ts(p, labels_required=labels_required, encoding=encoding)
    else:
        raise DataError(
            f"unknown sequence data {p}: expected a folder of .wav files, a .wav, or an array file ({', '.join(ARRAY_SUFFIXES)})"
        )
    check_sequences(data.sequences, data.names, str(p))
    if labels_required and data.labels is None:
        raise DataError(f"{p}: the sequences have no labels (--label-column {label_column!r})")
    if include is not None:
        data, _ = data.split(include)
        if not len(data):
            raise DataError(f"no sequence of {p} has a name matching {include!r}")
    return data


__all__ = [
    "SequenceSet", "DEFAULT_LABEL_PATTERN", "read_sequences", "read_audio", "list_audio", "read_npz",
    "read_sequence_csv", "read_ts", "check_sequences", "compile_pattern",
]
