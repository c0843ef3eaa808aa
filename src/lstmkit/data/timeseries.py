"""Time series from CSV files and DataFrames: validation, splits, scaling and windows.

The pieces a forecaster needs, in the order it uses them::

    df = read_series("ETTh1.csv", time_col="date")            # validated, float64, regular DatetimeIndex
    borders = split_borders(len(df), context=336, horizon=96)  # {"train": (0, 8640), "valid": ..., "test": ...}
    scaler = StandardScaler().fit(df.values[slice(*borders["train"])])  # training rows only
    z = scaler.transform(df.values)
    a, b = borders["test"]
    starts = window_starts(b - a, 336, 96)                     # window s: inputs [s, s+336), targets [s+336, s+432)
    x, y = gather_windows(z[a:b], starts, 336, 96)             # (N, 336, C), (N, 96, C)

Every mistake in the data is one :class:`~lstmkit.errors.DataError` line naming the file and CSV line
(header = line 1; for a DataFrame, the row position and index label) and the column: a non-numeric
cell, an unparseable, duplicate or out-of-order timestamp, a gap in the time index (with the expected
next timestamp and the inferred frequency), an empty/NaN cell (unless ``fill`` says how to fill it),
an unknown column (listing the ones present), undecodable bytes (with the byte offset).

A column with an empty name (``""``, or pandas' ``Unnamed: 0``) or a name used twice draws a
:class:`~lstmkit.errors.LstmkitWarning` (:func:`lstmkit.util.advice.check_column_names`) and is never
read as a series unless asked for by name: an unnamed *first* column that holds timestamps becomes
the time index (when no ``time_col`` is given), one that holds integers (a saved row number) is
dropped; any other unnamed column is left out, and of a repeated name only the first column is kept.
A PeriodIndex (sktime, statsmodels) becomes the DatetimeIndex of its periods' starts.

This module imports pandas; ``import lstmkit`` and ``import lstmkit.data`` do not import it.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from lstmkit.data.readers import read_text
from lstmkit.errors import ConfigError, DataError, InputValueError, ShapeError
from lstmkit.util.checks import check_int

#: How missing values may be filled (``fill=`` / ``--fill``).
FILLS = ("interpolate", "ffill", "zero")
#: Cell texts read as missing (compared after stripping spaces, case-insensitive).
MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none"})
#: ETTh borders in hours: 12 / 4 / 4 months of 30 days (the Informer protocol).
ETT_BORDERS_HOURS = (12 * 30 * 24, 16 * 30 * 24, 20 * 30 * 24)


# ----------------------------------------------------------------------------------------------
# Reading and validating


def _check_fill(fill: str | None) -> None:
    if fill is not None and fill not in FILLS:
        raise ConfigError(f"fill must be one of {', '.join(FILLS)} or None; found {fill!r}")


def _column_list(columns: str | Sequence[Any] | None) -> list[Any] | None:
    if columns is None:
        return None
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise ConfigError("columns: give at least one column name, or None for all numeric columns")
    dup = [c for c, k in Counter(cols).items() if k > 1]
    if dup:
        raise ConfigError(f"columns: {dup[0]!r} is listed twice")
    return cols


def _present(names: Sequence[Any]) -> str:
    return ", ".join(str(n) for n in names) or "none"


def _is_missing_text(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in MISSING_TOKENS
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _parse_numbers(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values float64, missing mask, bad mask)`` of one column's cells (strings, numbers or both)."""
    if raw.dtype.kind in "biuf":
        values = raw.astype(np.float64)
        return values, np.isnan(values), np.zeros(len(values), bool)
    if raw.dtype.kind not in "OSU":
        # datetimes, timedeltas, categoricals...: not numbers
        return np.full(len(raw), np.nan), np.zeros(len(raw), bool), np.ones(len(raw), bool)
    try:  # fast path: every cell is a number (or "nan")
        values = raw.astype(np.float64)
        return values, np.isnan(values), np.zeros(len(values), bool)
    except (ValueError, TypeError):
        pass
    cells = np.asarray(raw, dtype=object)
    missing = np.fromiter((_is_missing_text(v) for v in cells), bool, len(cells))
    kept = np.where(missing, None, cells)
    kept = np.array([v.strip() if isinstance(v, str) else v for v in kept], dtype=object)
    values = pd.to_numeric(pd.Series(kept, dtype=object), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values, missing, ~missing & np.isnan(values)


def _parse_times(raw: Any, name: Any, where: Callable[[int], str]) -> pd.DatetimeIndex:
    if isinstance(raw, pd.DatetimeIndex):
        times = raw
    elif np.asarray(raw).dtype.kind == "M" or isinstance(getattr(raw, "dtype", None), pd.DatetimeTZDtype):
        times = pd.DatetimeIndex(raw)
    else:
        cells = np.asarray(raw, dtype=object)
        if len(cells) and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in cells[:5]):
            raise DataError(
                f"{where(0)}: time column {name!r} holds numbers ({cells[0]!r}), not timestamps; "
                "give no time column for a plain integer index"
            )
        missing = np.fromiter((_is_missing_text(v) for v in cells), bool, len(cells))
        if missing.any():
            i = int(np.argmax(missing))
            raise DataError(f"{where(i)}: column {name!r}: empty timestamp")
        text = pd.Series([v.strip() if isinstance(v, str) else v for v in cells], dtype=object)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(text, errors="coerce")
        except (ValueError, TypeError, OverflowError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(f"{where(0)}: column {name!r}: cannot parse the timestamps: {first}") from None
        if not isinstance(parsed.dtype, pd.DatetimeTZDtype) and parsed.dtype.kind != "M":
            raise DataError(f"{where(0)}: column {name!r}: timestamps mix time zones or kinds; use one format")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            example = f" (the first one reads {str(cells[0]).strip()!r})" if i > 0 else ""
            raise DataError(f"{where(i)}: column {name!r}: unparseable timestamp {str(cells[i]).strip()!r}{example}")
        times = pd.DatetimeIndex(parsed)
    return pd.DatetimeIndex(times, name=name)


def _infer_step(times: pd.DatetimeIndex) -> str | None:
    """The frequency of ``times`` as a pandas alias, also when the index has gaps.

    Tries pandas' ``infer_freq`` on the whole index, then on short runs spread over it (gaps only
    break some of them; the most common answer wins), then the most common step as a fixed duration.
    """
    n = len(times)
    if n < 2:
        return None
    if n >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                whole = pd.infer_freq(times)
            except (TypeError, ValueError):
                whole = None
            if whole:
                return whole
            k = min(n, 8)
            votes: Counter[str] = Counter()
            for s in np.unique(np.linspace(0, n - k, num=min(24, n - k + 1)).astype(int)):
                try:
                    f = pd.infer_freq(times[s : s + k])
                except (TypeError, ValueError):
                    f = None
                if f:
                    votes[f] += 1
            if votes:
                return votes.most_common(1)[0][0]
    steps = np.diff(times.as_unit("ns").asi8)
    steps = steps[steps > 0]
    if not steps.size:
        return None
    vals, counts = np.unique(steps, return_counts=True)
    return pd.tseries.frequencies.to_offset(pd.Timedelta(int(vals[np.argmax(counts)]), unit="ns")).freqstr


def _check_time_order(times: pd.DatetimeIndex, where: Callable[[int], str], name: Any) -> pd.DatetimeIndex:
    """Raise on duplicate, out-of-order or gapped timestamps; return the index with its frequency set."""
    what = f"column {name!r}" if name is not None else "the time index"
    stamps = times.as_unit("ns").asi8
    steps = np.diff(stamps)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        if steps[i - 1] == 0:
            raise DataError(f"{where(i)}: {what}: duplicate timestamp {times[i]} (same as {where(i - 1)})")
        raise DataError(
            f"{where(i)}: {what}: timestamps out of order: {times[i]} comes after {times[i - 1]}; "
            f"sort the rows by {name or 'time'}"
        )
    freq = _infer_step(times)
    if freq is None:
        return times
    offset = pd.tseries.frequencies.to_offset(freq)
    expected = pd.date_range(times[0], periods=len(times), freq=offset)
    expected_ns = expected.as_unit("ns").asi8
    off_grid = np.flatnonzero(expected_ns != stamps)
    if off_grid.size:
        i = int(off_grid[0])
        if i == 0 or stamps[i] < expected_ns[i]:
            raise DataError(
                f"{where(i)}: {what}: timestamp {times[i]} is off the inferred frequency {freq} "
                f"(expected {expected[i]})"
            )
        raise DataError(
            f"{where(i)}: {what}: gap in the time index: expected {expected[i]} after {times[i - 1]}, "
            f"found {times[i]} (inferred frequency {freq}); add the missing rows (empty cells can be filled with --fill)"
        )
    try:
        return pd.DatetimeIndex(times, name=name, freq=offset)
    except ValueError:  # two timestamps a calendar month apart read as a fixed duration: no frequency to pin
        return pd.DatetimeIndex(times, name=name)


def _fill_missing(
    values: np.ndarray, missing: np.ndarray, names: Sequence[Any], fill: str | None, where: Callable[[int], str]
) -> np.ndarray:
    """Fill the NaNs of ``values`` (T, C) by ``fill``; without ``fill`` a NaN is an error naming its row."""
    if not missing.any():
        return values
    rows, cols = np.nonzero(missing)  # row-major: the first is the earliest cell
    i, j = int(rows[0]), int(cols[0])
    if fill is None:
        raise DataError(
            f"{where(i)}: column {names[j]!r}: empty or NaN cell ({int(missing.sum())} in all); "
            f"pass --fill interpolate, ffill or zero (fill= in Python) to fill them"
        )
    empty = np.flatnonzero(missing.all(axis=0))
    if empty.size and fill != "zero":
        raise DataError(f"{where(0)}: column {names[int(empty[0])]!r} has no values to {fill} from")
    frame = pd.DataFrame(np.where(missing, np.nan, values))
    if fill == "interpolate":
        frame = frame.interpolate(method="linear", limit_area="inside").ffill().bfill()
    elif fill == "ffill":
        frame = frame.ffill().bfill()
    else:
        frame = frame.fillna(0.0)
    return frame.to_numpy(dtype=np.float64)


def _assemble(
    cells: dict[Any, np.ndarray],
    times_raw: Any,
    *,
    time_name: Any,
    columns: list[Any] | None,
    fill: str | None,
    where: Callable[[int], str],
    source: str,
    index_if_no_time: pd.Index,
) -> pd.DataFrame:
    """The checks that :func:`read_series` and :func:`check_frame` share, on cells already split by column."""
    names = list(cells) if columns is None else columns
    picked: list[Any] = []
    values: list[np.ndarray] = []
    missing: list[np.ndarray] = []
    for name in names:
        v, miss, bad = _parse_numbers(np.asarray(cells[name]))
        if columns is None and (bad | miss).all():
            continue  # a text (or empty) column: not a series
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{where(i)}: column {name!r}: non-numeric value {str(cells[name][i]).strip()!r}")
        inf = np.isinf(v)
        if inf.any():
            i = int(np.argmax(inf))
            raise DataError(f"{where(i)}: column {name!r}: infinite value {str(cells[name][i]).strip()!r}")
        picked.append(name)
        values.append(v)
        missing.append(miss)
    if not picked:
        raise DataError(f"{source}: no numeric columns (columns present: {_present(list(cells))})")
    table = _fill_missing(np.stack(values, axis=1), np.stack(missing, axis=1), picked, fill, where)
    if times_raw is None:
        index = index_if_no_time
    else:
        index = _check_time_order(_parse_times(times_raw, time_name, where), where, time_name)
    return pd.DataFrame(table, index=index, columns=pd.Index(picked))


def _unnamed(name: Any) -> bool:
    """An empty column name, or pandas' ``Unnamed: N`` for one."""
    text = "" if name is None else str(name).strip()
    return text == "" or text.lower().startswith("unnamed:")


def _index_kind(cells: np.ndarray) -> str | None:
    """``"integers"`` when every cell is an integer, ``"dates"`` when every cell is a timestamp, else None."""
    values = np.asarray(cells, dtype=object)
    if not len(values):
        return None
    if values.dtype.kind in "iu" or all(
            (isinstance(v, (int, np.integer)) and not isinstance(v, bool))
            or (isinstance(v, str) and v.strip().lstrip("-").isdigit()) for v in values):
        return "integers"
    if np.asarray(cells).dtype.kind == "M":
        return "dates"
    if not all(isinstance(v, str) for v in values):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(pd.Series([v.strip() for v in values]), errors="coerce")
        except (ValueError, TypeError, OverflowError):
            return None
    return "dates" if not parsed.isna().any() else None


def _check_requested_names(names: Sequence[str], requested: Sequence[Any], where: str) -> None:
    """A column asked for by a name that the table uses twice is ambiguous: one line naming both."""
    for name in requested:
        if name is None:
            continue
        found = [i + 1 for i, n in enumerate(names) if n == name]
        if len(found) > 1:
            raise DataError(f"{where}: column {name!r} appears twice (columns {found[0]} and {found[1]}); "
                            f"rename one of them")


def _usable_positions(names: Sequence[str], time_col: Any, cols: Sequence[Any] | None, source: str,
                      advice: Any) -> list[int]:
    """Warn about empty and repeated names; the positions of the columns that may be read as series
    (every column asked for by name; otherwise not an unnamed one, and only the first of a repeated name)."""
    from lstmkit.util.advice import Advice, check_column_names

    check_column_names(advice if advice is not None else Advice(echo=None), names, source)
    seen: set[str] = set()
    keep = []
    for i, name in enumerate(names):
        asked = name == time_col or (cols is not None and name in cols)
        if asked or (not _unnamed(name) and name not in seen):
            keep.append(i)
        seen.add(name)
    return keep


def _named_columns(header: list[str], cells: list[np.ndarray], time_col: str | None, cols: list[Any] | None,
                   source: str, advice: Any, default_index: pd.Index) -> tuple[dict[Any, np.ndarray], Any, Any, pd.Index]:
    """``(value columns by name, time cells or None, time column name, index without times)`` of a CSV table."""
    index = default_index
    times, time_name = None, time_col
    keep = list(range(len(header)))
    if len(set(header)) != len(header) or any(_unnamed(h) for h in header):
        keep = _usable_positions(header, time_col, cols, source, advice)
        if time_col is None and _unnamed(header[0]) and 0 not in keep and len(header) > 1:
            kind = _index_kind(cells[0])
            if kind == "dates":
                times, time_name = cells[0], None
            elif kind == "integers":
                ints = np.asarray([int(str(v).strip()) for v in cells[0]], dtype=np.int64)
                steps = np.unique(np.diff(ints))
                if len(ints) > 1 and steps.size == 1 and steps[0] > 0:
                    index = pd.RangeIndex(int(ints[0]), int(ints[-1]) + int(steps[0]), int(steps[0]))
    table = {header[i]: cells[i] for i in keep}
    if time_col is not None:
        times = table.pop(time_col)
    return table, times, time_name, index


def read_series(
    path: str | PathLike[str],
    *,
    time_col: str | None,
    columns: str | Sequence[str] | None = None,
    fill: str | None = None,
    encoding: str = "utf-8",
    advice: Any = None,
) -> pd.DataFrame:
    """A CSV file (with a header row) as a validated DataFrame of float64 series.

    ``time_col``: the timestamp column; it becomes a regular :class:`pandas.DatetimeIndex` named
    ``time_col`` whose ``freq`` is the inferred frequency. ``None``: rows are numbered (RangeIndex).
    ``columns``: the value columns to keep, in this order; ``None`` keeps every numeric column (a
    column none of whose cells is a number is left out). ``fill``: ``None`` (an empty/NaN cell is
    an error), ``"interpolate"`` (linear, then the nearest value at the ends), ``"ffill"`` (then
    back-fill at the start) or ``"zero"``.

    Blank lines are skipped; line numbers in messages are the file's (header = line 1). Columns with
    an empty or repeated name: see the module docstring (``advice``: the
    :class:`lstmkit.util.advice.Advice` that records the warnings; None: a fresh one).
    """
    _check_fill(fill)
    cols = _column_list(columns)
    text = read_text(path, kind="CSV", encoding=encoding)
    source = str(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        header = [h.strip() for h in next(reader)]
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{source}:{reader.line_num}: row has {len(row)} cells but the header has {len(header)} "
                    f"({_present(header)})"
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"{source}:{reader.line_num}: bad CSV: {e}") from None
    if not rows:
        raise DataError(f"{source}: the CSV file has a header but no data rows")
    for name, what in [(time_col, "time column")] + [(c, "column") for c in cols or []]:
        if name is not None and name not in header:
            raise DataError(f"{source}: unknown {what} {name!r}; columns present: {_present(header)}")
    if cols is not None and time_col in cols:
        raise ConfigError(f"columns: {time_col!r} is the time column; list only value columns")
    _check_requested_names(header, [time_col, *(cols or [])], f"{source}:1")
    columns_cells = [np.array(c, dtype=object) for c in zip(*rows)]

    def where(i: int) -> str:
        return f"{source}:{lines[i]}"

    table, times, time_name, index = _named_columns(
        header, columns_cells, time_col, cols, source, advice, pd.RangeIndex(len(rows)))
    return _assemble(
        table, times, time_name=time_name, columns=cols, fill=fill, where=where, source=source,
        index_if_no_time=index,
    )


def check_frame(
    df: pd.DataFrame,
    *,
    time_col: str | None = None,
    columns: Any = None,
    fill: str | None = None,
    source: str = "DataFrame",
    advice: Any = None,
) -> pd.DataFrame:
    """The checks of :func:`read_series` for an in-memory DataFrame; returns a new, validated one.

    The time axis is the column ``time_col``, or the index when it is named ``time_col``; with
    ``time_col=None``, a DatetimeIndex is checked and kept, any other index becomes a RangeIndex (a
    RangeIndex is kept as it is; a PeriodIndex becomes the DatetimeIndex of its periods' starts).
    Messages name ``source``, the row position and its index label. Columns with an empty or
    repeated name: see the module docstring.
    """
    _check_fill(fill)
    cols = _column_list(columns)
    if isinstance(df, pd.Series):
        df = df.to_frame(name=df.name if df.name is not None else "value")
    if not isinstance(df, pd.DataFrame):
        raise InputValueError(f"{source}: expected a pandas DataFrame, found {type(df).__name__}")
    if len(df) == 0:
        raise DataError(f"{source}: the DataFrame has no rows")
    if isinstance(df.index, pd.PeriodIndex):
        df = df.set_axis(df.index.to_timestamp(how="start").rename(df.index.name), axis=0)
    present = list(df.columns)
    if len(set(map(str, present))) != len(present) or any(_unnamed(c) for c in present):
        _check_requested_names([str(c) for c in present], [time_col, *(cols or [])], source)
        keep = _usable_positions([str(c) for c in present], time_col, cols, source, advice)
        first = present[0]
        if (time_col is None and not isinstance(df.index, pd.DatetimeIndex) and _unnamed(first)
                and 0 not in keep and len(present) > 1):
            kind = _index_kind(df.iloc[:, 0].to_numpy())
            if kind == "dates":
                df = df.set_axis(pd.DatetimeIndex(pd.to_datetime(df.iloc[:, 0].to_numpy()), name=None), axis=0)
        df = df.iloc[:, keep]
        present = list(df.columns)
    time_name: Any = None
    times: Any = None
    if time_col is not None:
        if time_col in present:
            times, time_name = df[time_col].to_numpy(), time_col
        elif df.index.name == time_col:
            times, time_name = df.index, time_col
        else:
            raise DataError(f"{source}: unknown time column {time_col!r}; columns present: {_present(present)}")
    elif isinstance(df.index, pd.DatetimeIndex):
        times, time_name = df.index, df.index.name
    for c in cols or []:
        if c not in present:
            raise DataError(f"{source}: unknown column {c!r}; columns present: {_present(present)}")
    if cols is not None and time_col in cols:
        raise ConfigError(f"columns: {time_col!r} is the time column; list only value columns")
    table = {c: df[c].to_numpy() for c in present if c != time_col}
    labels = df.index
    plain = isinstance(labels, pd.RangeIndex) and labels.start == 0 and labels.step == 1

    def where(i: int) -> str:
        return f"{source} row {i}" if plain else f"{source} row {i} (index {labels[i]})"

    keep = labels if isinstance(labels, pd.RangeIndex) else pd.RangeIndex(len(df))
    return _assemble(
        table, times, time_name=time_name, columns=cols, fill=fill, where=where, source=source, index_if_no_time=keep
    )


# ----------------------------------------------------------------------------------------------
# The time axis


def infer_freq(index: pd.Index) -> str | None:
    """The pandas frequency alias of a DatetimeIndex (``"h"``, ``"MS"``...), or None (no dates, too short)."""
    if not isinstance(index, pd.DatetimeIndex):
        return None
    if index.freq is not None:
        return index.freqstr
    return _infer_step(index)


def season_for_freq(freq: str | None) -> int:
    """The usual seasonal period for a frequency: one day of sub-daily steps (24 hourly, 96 for 15 min),
    7 daily, 5 business-daily, 52 weekly, 12 monthly, 4 quarterly; 1 (no season) otherwise."""
    if not freq:
        return 1
    off = pd.tseries.frequencies.to_offset(freq)
    if off.n != 1 and not isinstance(off, pd.offsets.Tick):
        return 1
    offsets = pd.offsets
    by_kind = [
        ((offsets.MonthBegin, offsets.MonthEnd, offsets.BusinessMonthBegin, offsets.BusinessMonthEnd), 12),
        ((offsets.QuarterBegin, offsets.QuarterEnd, offsets.BQuarterBegin, offsets.BQuarterEnd), 4),
        ((offsets.Week,), 52),
        ((offsets.BusinessDay,), 5),
        ((offsets.Day,), 7),
    ]
    for kinds, season in by_kind:
        if isinstance(off, kinds):
            return season
    if isinstance(off, pd.offsets.Tick):
        step = pd.Timedelta(off)
        day = pd.Timedelta(days=1)
        if step < day and day % step == pd.Timedelta(0):
            return int(day // step)
    return 1


def future_index(index: pd.Index, horizon: int) -> pd.Index:
    """The ``horizon`` index labels after ``index``: the next timestamps at its frequency, or the
    integers that continue an integer index (same step)."""
    horizon = check_int("horizon", horizon, 1)
    if len(index) == 0:
        raise DataError("cannot continue an empty index")
    if isinstance(index, pd.DatetimeIndex):
        freq = infer_freq(index)
        if freq is None:
            raise DataError(
                f"cannot continue the time index after {index[-1]}: its frequency is unknown "
                "(it needs at least 2 regular timestamps)"
            )
        off = pd.tseries.frequencies.to_offset(freq)
        return pd.date_range(index[-1] + off, periods=horizon, freq=off, name=index.name)
    if isinstance(index, pd.RangeIndex):
        step = index.step
        return pd.RangeIndex(index[-1] + step, index[-1] + step * (horizon + 1), step, name=index.name)
    if index.dtype.kind in "iu":
        steps = np.unique(np.diff(index.to_numpy()))
        step = int(steps[0]) if steps.size == 1 and steps[0] > 0 else 1 if len(index) == 1 else None
        if step is None:
            raise DataError("cannot continue an integer index whose steps are not all equal and positive")
        last = int(index[-1])
        return pd.RangeIndex(last + step, last + step * (horizon + 1), step, name=index.name)
    raise DataError(f"cannot continue an index of type {type(index).__name__}; use a DatetimeIndex or integers")


# ----------------------------------------------------------------------------------------------
# Splits, scaling, windows


def split_borders(
    n: int,
    *,
    context: int,
    horizon: int = 1,
    scheme: str = "ett",
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    per_hour: int = 1,
) -> dict[str, tuple[int, int]]:
    """Row ranges ``[start, end)`` of the train, validation and test splits of a series of ``n`` rows.

    The validation and test ranges start ``context`` rows before the split itself, so that the first
    window's first *target* is the split's first row (inputs may look back into the previous split;
    targets never do). ``scheme``:

    * ``"ett"``: the long-horizon protocol of the ETT data (Informer, Autoformer, DLinear code):
      12 / 4 / 4 months of 30 days of hourly rows, i.e. train ``[0, 8640)``, valid
      ``[8640 - context, 11520)``, test ``[11520 - context, 14400)``; rows after 14400 are unused.
      ``per_hour=4`` scales the borders for 15-minute data (ETTm).
    * ``"fractions"``: train the first ``fractions[0]`` of the rows, test the last ``fractions[2]``,
      valid what lies between (the Autoformer "custom" split when the fractions sum to 1).

    DataError when a split is too short to hold one window of ``context + horizon`` rows, saying how
    many rows the series would need.
    """
    n = check_int("n", n, 0)
    context = check_int("context", context, 1)
    horizon = check_int("horizon", horizon, 1)
    per_hour = check_int("per_hour", per_hour, 1)
    if scheme == "ett":
        b1, b2, b3 = (b * per_hour for b in ETT_BORDERS_HOURS)

        def borders(m: int) -> tuple[int, int, int]:
            return b1, b2, b3

        need = b3
    elif scheme == "fractions":
        fr = [float(f) for f in fractions]
        if len(fr) != 3 or min(fr) <= 0 or sum(fr) > 1 + 1e-9:
            raise ConfigError(f"fractions must be 3 positive numbers (train, valid, test) summing to <= 1; found {fractions!r}")

        def borders(m: int) -> tuple[int, int, int]:
            if abs(sum(fr) - 1) <= 1e-9:
                n_train, n_test = int(m * fr[0]), int(m * fr[2])
                return n_train, m - n_test, m
            return int(m * fr[0]), int(m * (fr[0] + fr[1])), int(m * sum(fr))

        need = 0
        # no series shorter than this can fit (floors lose at most a row or two per split)
        lowest = int(max((context + horizon) / fr[0], (horizon - 2) / fr[1], (horizon - 1) / fr[2])) - 3
    else:
        raise ConfigError(f"scheme must be 'ett' or 'fractions'; found {scheme!r}")

    def ranges(m: int) -> dict[str, tuple[int, int]]:
        t, v, e = borders(m)
        return {"train": (0, t), "valid": (t - context, v), "test": (v - context, e)}

    def fits(m: int) -> bool:
        r = ranges(m)
        return m >= need and r["valid"][0] >= 0 and all(b - a >= context + horizon for a, b in r.values())

    if fits(n):
        return ranges(n)
    if scheme == "ett" and not fits(need):
        raise DataError(
            f"context {context} + horizon {horizon} do not fit the 'ett' split: train has {b1} rows and "
            f"valid/test {b2 - b1} target rows each (needs context + horizon <= {b1} and horizon <= {b2 - b1})"
        )
    high = max(n + 1, need if scheme == "ett" else lowest)
    while not fits(high):  # a few steps: the search starts at a lower bound
        high += 1
    name = "'ett' split (12/4/4 months of hourly rows)" if scheme == "ett" else f"fractions {tuple(fr)}"
    raise DataError(
        f"series too short: {n} rows, but context {context} + horizon {horizon} with the {name} "
        f"needs at least {high} rows"
    )


class StandardScaler:
    """Per-column z-scoring, fitted on training rows only: ``z = (x - mean_) / scale_``.

    ``mean_`` and ``scale_`` (the population standard deviation; a constant column gets 1) are
    float64 arrays of shape ``(C,)``. ``transform`` / ``inverse_transform`` take any ``(..., C)``
    array and keep a float32/float64 input's dtype. ``get_config()`` is a JSON-able dict from which
    ``from_config`` rebuilds the exact same scaler (floats survive JSON exactly).
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, values: Any) -> "StandardScaler":
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ShapeError(f"StandardScaler.fit: expected values (T, C) with T >= 1, found shape {x.shape}")
        if not np.isfinite(x).all():
            raise InputValueError("StandardScaler.fit: values contain NaN or inf")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def _check(self, values: Any, what: str) -> tuple[np.ndarray, np.dtype]:
        if self.mean_ is None or self.scale_ is None:
            raise ConfigError(f"StandardScaler.{what}: call fit (or from_config) first")
        arr = np.asarray(values)
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        if arr.ndim < 1 or arr.shape[-1] != self.mean_.shape[0]:
            raise ShapeError(
                f"StandardScaler.{what}: expected (..., {self.mean_.shape[0]}) values, found shape {arr.shape}"
            )
        return arr.astype(np.float64, copy=False), dtype

    def transform(self, values: Any) -> np.ndarray:
        x, dtype = self._check(values, "transform")
        return ((x - self.mean_) / self.scale_).astype(dtype, copy=False)

    def inverse_transform(self, values: Any) -> np.ndarray:
        z, dtype = self._check(values, "inverse_transform")
        return (z * self.scale_ + self.mean_).astype(dtype, copy=False)

    def get_config(self) -> dict[str, list[float]]:
        if self.mean_ is None or self.scale_ is None:
            raise ConfigError("StandardScaler.get_config: call fit first")
        return {"mean": [float(v) for v in self.mean_], "scale": [float(v) for v in self.scale_]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "StandardScaler":
        try:
            mean = np.asarray(config["mean"], dtype=np.float64)
            scale = np.asarray(config["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise ConfigError("StandardScaler config must be {'mean': [...], 'scale': [...]} of numbers") from None
        if mean.ndim != 1 or mean.shape != scale.shape or not (scale > 0).all():
            raise ConfigError("StandardScaler config: 'mean' and 'scale' must be equal-length lists, scale > 0")
        out = cls()
        out.mean_, out.scale_ = mean, scale
        return out


def window_starts(n_rows: int, context: int, horizon: int, *, stride: int = 1) -> np.ndarray:
    """Start rows ``s`` of every window that fits in ``n_rows``: inputs ``[s, s + context)``, targets
    ``[s + context, s + context + horizon)``; ``s = 0, stride, 2 * stride, ...`` (int64; empty when none fits)."""
    n_rows = check_int("n_rows", n_rows, 0)
    context = check_int("context", context, 1)
    horizon = check_int("horizon", horizon, 0)
    stride = check_int("stride", stride, 1)
    return np.arange(0, max(n_rows - context - horizon + 1, 0), stride, dtype=np.int64)


def gather_windows(values: Any, starts: Any, context: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``x (N, context, C)`` and targets ``y (N, horizon, C)`` of the windows starting at ``starts``.

    ``values`` is ``(T, C)``; ``x[i] = values[s_i : s_i + context]`` and ``y[i] = values[s_i + context :
    s_i + context + horizon]``. Built from one :func:`numpy.lib.stride_tricks.sliding_window_view` and
    one fancy index (no loop over windows); the results are fresh contiguous arrays of ``values``' dtype.
    """
    arr = np.asarray(values)
    context = check_int("context", context, 1)
    horizon = check_int("horizon", horizon, 0)
    if arr.ndim != 2:
        raise ShapeError(f"gather_windows: expected values (T, C), found shape {arr.shape}")
    idx = np.asarray(starts, dtype=np.int64).reshape(-1)
    width = context + horizon
    if idx.size == 0:
        empty = np.empty((0, width, arr.shape[1]), arr.dtype)
        return empty[:, :context].copy(), empty[:, context:].copy()
    if idx.min() < 0 or idx.max() + width > arr.shape[0]:
        raise ShapeError(
            f"gather_windows: windows of {width} rows starting at {idx.min()}..{idx.max()} "
            f"do not fit in {arr.shape[0]} rows"
        )
    windows = sliding_window_view(arr, width, axis=0)[idx]  # (N, C, width)
    windows = windows.transpose(0, 2, 1)
    return np.ascontiguousarray(windows[:, :context]), np.ascontiguousarray(windows[:, context:])


def make_windows(values: Any, context: int, horizon: int, *, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``values`` (T, C): :func:`window_starts` then :func:`gather_windows`."""
    arr = np.asarray(values)
    return gather_windows(arr, window_starts(arr.shape[0] if arr.ndim else 0, context, horizon, stride=stride), context, horizon)


__all__ = [
    "FILLS",
    "read_series",
    "check_frame",
    "infer_freq",
    "season_for_freq",
    "future_index",
    "split_borders",
    "StandardScaler",
    "window_starts",
    "gather_windows",
    "make_windows",
]
