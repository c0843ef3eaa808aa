"""Time-series data layer: reading and validating CSVs/DataFrames, splits, scaling, windows."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.timeseries import (
    StandardScaler,
    check_frame,
    future_index,
    gather_windows,
    infer_freq,
    make_windows,
    read_series,
    season_for_freq,
    split_borders,
    window_starts,
)
from lstmkit.errors import ConfigError, DataError, InputValueError, ShapeError

HEADER = "date,load,temp\n"


def hourly_csv(tmp_path, rows=None, name="s.csv", header=HEADER):
    """A small hourly CSV; ``rows`` replaces the default 6 good rows."""
    if rows is None:
        rows = [f"2024-01-01 {h:02d}:00:00,{h + 0.5},{10 - h}" for h in range(6)]
    p = tmp_path / name
    p.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return p


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(DataError) as e:
        fn(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# ---- reading good files -----------------------------------------------------------------------


def test_read_series_gives_float_frame_with_regular_index(tmp_path):
    df = read_series(hourly_csv(tmp_path), time_col="date")
    assert list(df.columns) == ["load", "temp"]
    assert df.dtypes.tolist() == [np.float64, np.float64]
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "date"
    assert df.index.freqstr.lower() == "h" and infer_freq(df.index).lower() == "h"
    assert df["load"].tolist() == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]


def test_read_series_selects_columns_in_order_and_skips_text_columns(tmp_path):
    rows = [f"2024-01-0{d},{d},{d * 2},site{d}" for d in range(1, 6)]
    p = hourly_csv(tmp_path, rows, header="date,a,b,site\n")
    assert list(read_series(p, time_col="date").columns) == ["a", "b"]
    df = read_series(p, time_col="date", columns=["b", "a"])
    assert list(df.columns) == ["b", "a"] and df.index.freqstr == "D"


def test_read_series_without_time_column_numbers_rows(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text("x\n1\n2\n3\n")
    df = read_series(p, time_col=None)
    assert isinstance(df.index, pd.RangeIndex) and df["x"].tolist() == [1.0, 2.0, 3.0]


def test_monthly_csv_with_bom_crlf_and_quotes(tmp_path):
    p = tmp_path / "m.csv"
    body = '"Month","Passengers"\r\n' + "\r\n".join(f'"1949-{m:02d}",{100 + m}' for m in range(1, 13))
    p.write_bytes(b"\xef\xbb\xbf" + body.encode())
    df = read_series(p, time_col="Month")
    assert df.index.freqstr == "MS" and len(df) == 12
    assert season_for_freq(infer_freq(df.index)) == 12
    assert list(future_index(df.index, 2)) == [pd.Timestamp("1950-01-01"), pd.Timestamp("1950-02-01")]


# ---- each bad input: one line naming the file, line and column ---------------------------------


def test_missing_and_empty_file(tmp_path):
    assert "CSV file not found" in error_of(read_series, tmp_path / "nope.csv", time_col="date")
    (tmp_path / "e.csv").write_text("")
    assert "empty" in error_of(read_series, tmp_path / "e.csv", time_col="date")
    (tmp_path / "h.csv").write_text(HEADER)
    assert "no data rows" in error_of(read_series, tmp_path / "h.csv", time_col="date")


def test_unknown_columns_list_the_ones_present(tmp_path):
    p = hourly_csv(tmp_path)
    msg = error_of(read_series, p, time_col="when")
    assert "unknown time column 'when'" in msg and "columns present: date, load, temp" in msg
    msg = error_of(read_series, p, time_col="date", columns=["load", "OT"])
    assert "unknown column 'OT'" in msg and "columns present: date, load, temp" in msg


def test_non_numeric_cell_names_line_column_and_value(tmp_path):
    rows = [f"2024-01-01 0{h}:00:00,{h},{h}" for h in range(5)]
    rows[3] = "2024-01-01 03:00:00,3,abc"
    msg = error_of(read_series, hourly_csv(tmp_path, rows), time_col="date")
    assert "s.csv:5: column 'temp': non-numeric value 'abc'" in msg


def test_unparseable_timestamp(tmp_path):
    rows = [f"2024-01-01 0{h}:00:00,{h},{h}" for h in range(5)]
    rows[2] = "yesterday,2,2"
    msg = error_of(read_series, hourly_csv(tmp_path, rows), time_col="date")
    assert "s.csv:4: column 'date': unparseable timestamp 'yesterday'" in msg


def test_duplicate_timestamp(tmp_path):
    rows = [f"2024-01-01 0{h}:00:00,{h},{h}" for h in (0, 1, 2, 2, 3)]
    msg = error_of(read_series, hourly_csv(tmp_path, rows), time_col="date")
    assert "s.csv:5: column 'date': duplicate timestamp 2024-01-01 02:00:00" in msg and "s.csv:4" in msg


def test_unsorted_timestamps(tmp_path):
    rows = [f"2024-01-01 0{h}:00:00,{h},{h}" for h in (0, 1, 3, 2, 4)]
    msg = error_of(read_series, hourly_csv(tmp_path, rows), time_col="date")
    assert "s.csv:5" in msg and "out of order" in msg and "sort the rows by date" in msg


def test_gap_says_expected_and_found_and_frequency(tmp_path):
    rows = [f"2024-01-01 {h:02d}:00:00,{h},{h}" for h in (0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12)]
    msg = error_of(read_series, hourly_csv(tmp_path, rows), time_col="date")
    assert "s.csv:6: column 'date': gap in the time index" in msg
    assert "expected 2024-01-01 04:00:00" in msg and "found 2024-01-01 05:00:00" in msg
    assert "inferred frequency h" in msg.lower()


def test_nan_is_an_error_that_mentions_fill(tmp_path):
    rows = [f"2024-01-01 0{h}:00:00,{h},{h}" for h in range(5)]
    rows[1] = "2024-01-01 01:00:00,,1"
    msg = error_of(read_series, hourly_csv(tmp_path, rows), time_col="date")
    assert "s.csv:3: column 'load': empty or NaN cell" in msg and "--fill" in msg


@pytest.mark.parametrize(
    "fill, expected",
    [("interpolate", [0.0, 1.0, 2.0, 3.0, 4.0, 4.0]), ("ffill", [0.0, 0.0, 0.0, 3.0, 4.0, 4.0]),
     ("zero", [0.0, 0.0, 0.0, 3.0, 4.0, 0.0])],
)
def test_fill_methods(tmp_path, fill, expected):
    loads = ["0", "", "NaN", "3", "4", ""]
    rows = [f"2024-01-01 0{h}:00:00,{v},1" for h, v in enumerate(loads)]
    df = read_series(hourly_csv(tmp_path, rows), time_col="date", fill=fill)
    assert df["load"].tolist() == expected


def test_leading_nan_interpolates_from_the_nearest_value(tmp_path):
    rows = [f"2024-01-01 0{h}:00:00,{v},1" for h, v in enumerate(["", "2", "4"])]
    assert read_series(hourly_csv(tmp_path, rows), time_col="date", fill="interpolate")["load"].tolist() == [2, 2, 4]


def test_unknown_fill_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="fill must be one of interpolate, ffill, zero"):
        read_series(hourly_csv(tmp_path), time_col="date", fill="mean")


def test_undecodable_bytes_name_the_byte_offset(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"date,x\n2024-01-01,1\n2024-01-02,caf\xe9\n")
    assert "latin.csv: not valid UTF-8 at byte offset 34" in error_of(read_series, p, time_col="date")


def test_ragged_row(tmp_path):
    msg = error_of(read_series, hourly_csv(tmp_path, ["2024-01-01 00:00:00,1", "2024-01-01 01:00:00,1,2"]), time_col="date")
    assert "s.csv:2: row has 2 cells but the header has 3" in msg


def test_infinite_value(tmp_path):
    rows = [f"2024-01-01 0{h}:00:00,{h},{'inf' if h == 2 else h}" for h in range(4)]
    assert "s.csv:4: column 'temp': infinite value 'inf'" in error_of(read_series, hourly_csv(tmp_path, rows), time_col="date")


# ---- DataFrames from the Python API -----------------------------------------------------------


def test_check_frame_uses_time_column_or_index():
    times = pd.date_range("2024-01-01", periods=5, freq="h")
    df = pd.DataFrame({"date": times, "x": np.arange(5), "note": list("abcde")})
    out = check_frame(df, time_col="date")
    assert list(out.columns) == ["x"] and out.index.freqstr.lower() == "h" and out["x"].dtype == np.float64
    indexed = check_frame(df.set_index("date"), time_col="date")
    assert indexed.equals(out)
    assert check_frame(df.set_index("date")).index.name == "date"


def test_check_frame_errors_name_row_and_index_label():
    times = pd.date_range("2024-01-01", periods=4, freq="D")
    df = pd.DataFrame({"x": ["1", "2", "oops", "4"]}, index=times)
    msg = error_of(check_frame, df, source="train")
    assert "train row 2 (index 2024-01-03 00:00:00): column 'x': non-numeric value 'oops'" in msg
    df = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
    assert "DataFrame row 1: column 'x': empty or NaN cell" in error_of(check_frame, df)
    assert check_frame(df, fill="interpolate")["x"].tolist() == [1.0, 2.0, 3.0]
    assert "unknown column 'y'; columns present: x" in error_of(check_frame, df, columns=["y"])
    gappy = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}, index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05"]))
    assert "gap in the time index: expected 2024-01-04" in error_of(check_frame, gappy)


def test_future_index_continues_dates_and_integers():
    idx = pd.date_range("2024-01-01", periods=3, freq="h", name="date")
    nxt = future_index(idx, 2)
    assert list(nxt) == [pd.Timestamp("2024-01-01 03:00"), pd.Timestamp("2024-01-01 04:00")] and nxt.name == "date"
    assert list(future_index(pd.RangeIndex(5), 3)) == [5, 6, 7]
    assert list(future_index(pd.Index([10, 20, 30]), 2)) == [40, 50]
    assert season_for_freq("h") == 24 and season_for_freq("D") == 7 and season_for_freq("15min") == 96


# ---- splits, scaler, windows ----------------------------------------------------------------


def test_ett_borders_are_the_informer_protocol():
    b = split_borders(17420, context=336, horizon=96)
    assert b == {"train": (0, 8640), "valid": (8640 - 336, 11520), "test": (11520 - 336, 14400)}
    n_test = len(window_starts(b["test"][1] - b["test"][0], 336, 96))
    assert n_test == 2785  # the test-set size every ETTh1 paper reports for horizon 96


def test_fraction_borders_and_too_short_series():
    b = split_borders(1000, context=48, horizon=24, scheme="fractions")
    assert b == {"train": (0, 700), "valid": (652, 800), "test": (752, 1000)}
    msg = error_of(split_borders, 100, context=48, horizon=24, scheme="fractions")
    assert "series too short: 100 rows, but context 48 + horizon 24" in msg
    needed = int(re.search(r"needs at least (\d+) rows", msg).group(1))
    split_borders(needed, context=48, horizon=24, scheme="fractions")  # the number it names is enough
    error_of(split_borders, needed - 1, context=48, horizon=24, scheme="fractions")  # and needed
    assert "needs at least 14400 rows" in error_of(split_borders, 9000, context=336, horizon=96)
    assert "do not fit the 'ett' split" in error_of(split_borders, 17420, context=336, horizon=3000)


def test_scaler_round_trips_exactly_through_json():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(200, 3))
    x[:, 2] = 7.0  # constant column: scale 1
    s = StandardScaler().fit(x[:150])
    z = s.transform(x)
    assert np.allclose(z[:150].mean(0), [0, 0, 0]) and np.allclose(z[:150, :2].std(0), 1)
    assert s.scale_[2] == 1.0
    again = StandardScaler.from_config(json.loads(json.dumps(s.get_config())))
    assert np.array_equal(again.mean_, s.mean_) and np.array_equal(again.scale_, s.scale_)
    assert np.array_equal(again.transform(x), z)
    assert np.allclose(again.inverse_transform(z), x, rtol=0, atol=1e-12)
    assert again.transform(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(ShapeError, match=r"expected \(\.\.\., 3\)"):
        s.transform(x[:, :2])


def test_windows_are_exact_slices():
    values = np.arange(20, dtype=float).reshape(10, 2)
    starts = window_starts(10, 3, 2, stride=2)
    assert starts.tolist() == [0, 2, 4]
    x, y = gather_windows(values, starts, 3, 2)
    assert x.shape == (3, 3, 2) and y.shape == (3, 2, 2)
    for i, s in enumerate(starts):
        assert np.array_equal(x[i], values[s : s + 3]) and np.array_equal(y[i], values[s + 3 : s + 5])
    assert make_windows(values, 3, 2)[0].shape == (6, 3, 2)
    assert window_starts(4, 3, 2).size == 0
    with pytest.raises(ShapeError, match="do not fit in 10 rows"):
        gather_windows(values, [6], 3, 2)


def test_windows_never_read_outside_their_split():
    n, context, horizon = 500, 24, 12
    rows = np.arange(n, dtype=float)[:, None]  # each value is its own row number
    borders = split_borders(n, context=context, horizon=horizon, scheme="fractions")
    for name, (a, b) in borders.items():
        x, y = make_windows(rows[a:b], context, horizon)
        assert x.min() >= a and y.max() < b
        if name != "train":  # targets start at the split's own first row, never earlier
            assert y.min() == a + context
    assert borders["valid"][0] + context == borders["train"][1]
    assert borders["test"][0] + context == borders["valid"][1]


def test_core_imports_stay_free_of_pandas():
    code = "import sys, lstmkit, lstmkit.data; sys.exit('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_check_frame_rejects_non_frames_and_index_problems():
    with pytest.raises(InputValueError, match="expected a pandas DataFrame, found list"):
        check_frame([1, 2, 3])
    dup = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"]))
    assert "row 2 (index 2024-01-02 00:00:00): the time index: duplicate timestamp" in error_of(check_frame, dup)
    assert "unknown time column 'ts'; columns present: x" in error_of(check_frame, dup, time_col="ts")
    numbered = pd.DataFrame({"x": [1.0, 2.0]}, index=[7, 9])
    assert list(check_frame(numbered).index) == [0, 1]
