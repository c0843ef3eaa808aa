"""Sequence readers: NPZ, long-format CSV, sktime/UEA .ts and wav folders; each bad input is one line naming where."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data.sequences import (
    DEFAULT_LABEL_PATTERN, check_sequences, list_audio, read_npz, read_sequence_csv, read_sequences, read_ts,
)
from lstmkit.errors import ConfigError, DataError, InputValueError, LstmkitError, ShapeError


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and isinstance(excinfo.value, LstmkitError)
    return msg


def fails(error, needles, read, *args, **kwargs) -> str:
    """``read(*args, **kwargs)`` raises ``error`` with one line holding every needle."""
    with pytest.raises(error) as e:
        read(*args, **kwargs)
    msg = one_line(e)
    for n in needles:
        assert n in msg, msg
    return msg


# -------------------------------------------------------------------------------------------- NPZ
def test_npz_with_lengths_gives_variable_length_sequences(tmp_path):
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    f = tmp_path / "d.npz"
    np.savez(f, x=x, y=np.array(["a", "b"]), lengths=np.array([2, 4]))
    d = read_sequences(f)
    assert [s.shape for s in d.sequences] == [(2, 3), (4, 3)] and d.labels == ["a", "b"] and d.names == ["0", "1"]
    assert np.array_equal(d.sequences[0], x[0, :2])
    np.savez(f, x=np.zeros((3, 5)), y=np.array([0, 1, 1]))
    d = read_sequences(f)
    assert d.n_features == 1 and d.labels == [0, 1, 1]


def test_npz_errors(tmp_path):
    f = tmp_path / "d.npz"
    np.savez(f, data=np.zeros((2, 3, 1)), y=np.array([0, 1]))
    with pytest.raises(DataError) as e:
        read_npz(f)
    assert "no array 'x'" in one_line(e) and "arrays present: data, y" in str(e.value)
    np.savez(f, x=np.zeros((2, 3, 1)), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError) as e:
        read_npz(f)
    assert "pickled" in one_line(e)
    x = np.zeros((2, 3, 1))
    x[1, 2, 0] = np.nan
    np.savez(f, x=x, y=np.array([0, 1]))
    with pytest.raises(InputValueError) as e:
        read_npz(f)
    assert "sequence 1" in one_line(e) and "step 2" in str(e.value) and "lengths" in str(e.value)
    np.savez(f, x=np.zeros((2, 3, 1)), y=np.array([0, 1, 1]))
    with pytest.raises(ShapeError, match=r"'y' must have shape \(2,\)"):
        read_npz(f)
    np.savez(f, x=np.zeros((2, 3, 1)), y=np.array([0, 1]), lengths=np.array([0, 3]))
    with pytest.raises(InputValueError, match=r"lengths\[0\] = 0"):
        read_npz(f)


# -------------------------------------------------------------------------------------------- CSV
def test_csv_long_format_groups_orders_and_labels(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("id,step,label,ax,ay\nw1,1,walk,1.5,2\nr1,0,run,9,9\nw1,0,walk,0.5,1\n\nr1,1,run,8,8\nr1,2,run,7,7\n")
    d = read_sequences(f)
    assert d.names == ["w1", "r1"] and d.labels == ["walk", "run"] and d.info["features"] == ["ax", "ay"]
    assert np.array_equal(d.sequences[0], [[0.5, 1], [1.5, 2]]) and d.sequences[1].shape == (3, 2)
    # unlabelled data is fine where labels are not needed (classify)
    f.write_text("id,ax\na,1\na,2\nb,3\n")
    d = read_sequence_csv(f, labels_required=False)
    assert d.labels is None and [len(s) for s in d.sequences] == [2, 1]


@pytest.mark.parametrize("text, kwargs, error, needles", [
    ("id,label,ax,ay\na,x,1,2\na,x,1,oops\n", {}, DataError, [":3: column 'ay' has a non-numeric value 'oops'"]),
    ("id,label,ax\na,x,1\na,x,\n", {}, DataError, [":3: column 'ax' has an empty cell"]),
    ("id,label,ax\na,x,1\na,x,inf\n", {}, InputValueError, [":3:", "expected a finite number"]),
    ("seq,label,ax\na,x,1\n", {}, DataError, [":1: no column 'id'", "columns present: seq, label, ax"]),
    ("seq,label,ax\na,x,1\n", dict(id_column="seq", time_column="t"), DataError, ["no column 't' (--time-column)"]),
    ("id,label,ax\na,x,1\na,y,2\n", {}, DataError, [":3:", "label 'y' here but 'x' on line 2"]),
    ("id,step,label,ax\na,0,x,1\na,0,x,2\n", {}, DataError, ["sequence 'a' has step 0 twice"]),
    ("id,label\na,x\n", {}, DataError, ["no feature columns"]),
    ("id,ax\na,1\n", {}, DataError, ["no column 'label' (--label-column)"]),
])
def test_csv_errors_name_the_line_and_column(tmp_path, text, kwargs, error, needles):
    f = tmp_path / "s.csv"
    f.write_text(text)
    assert str(f) in fails(error, needles, read_sequence_csv, f, **kwargs)


# --------------------------------------------------------------------------------------------- .ts
TS_UNI = """# a comment
@problemName Toy
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 3
@classLabel true up down
@data
1,2,3:up
3,2,1:down
"""

TS_MULTI = """@problemName Multi
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
1,2,3:4,5,6:a
7,8:9,10:b
"""


def test_ts_univariate_and_multivariate_unequal(tmp_path):
    f = tmp_path / "u.ts"
    f.write_text(TS_UNI)
    d = read_sequences(f)
    assert d.labels == ["up", "down"] and d.info == {"problem": "Toy"}
    assert np.array_equal(d.sequences[0], [[1], [2], [3]])
    f = tmp_path / "m.ts"
    f.write_text(TS_MULTI)
    d = read_ts(f)
    assert [s.shape for s in d.sequences] == [(3, 2), (2, 2)] and np.array_equal(d.sequences[1], [[7, 9], [8, 10]])


@pytest.mark.parametrize("text, error, needles", [
    (TS_MULTI.replace("7,8:9,10:b", "7,8:b"), ShapeError, [":9:", "1 dimensions, expected 2"]),
    (TS_MULTI.replace("7,8:9,10:b", "7,8:9,10,11:b"), ShapeError, [":9:", "different lengths"]),
    (TS_UNI.replace("3,2,1:down", "3,?,1:down"), DataError, [":11:", "missing value"]),
    (TS_UNI.replace("3,2,1:down", "3,x,1:down"), DataError, [":11:", "'x'"]),
    (TS_UNI.replace("3,2,1:down", "3,2,1:sideways"), DataError, [":11:", "'sideways' is not declared"]),
    (TS_UNI.replace("3,2,1:down", "3,2,1,0:down"), ShapeError, [":11:", "@seriesLength says 3"]),
    (TS_UNI.replace("@timeStamps false", "@timeStamps true"), DataError, [":3:", "not supported"]),
    (TS_UNI.replace("@missing false", "@colour blue"), DataError, [":4:", "unknown .ts header @colour"]),
    (TS_UNI.replace("@classLabel true up down", "@targetLabel true"), DataError, ["regression"]),
    (TS_UNI.split("@data")[0], DataError, ["no @data"]),
])
def test_ts_errors_name_the_line(tmp_path, text, error, needles):
    f = tmp_path / "bad.ts"
    f.write_text(text)
    assert str(f) in fails(error, needles, read_sequences, f)


def test_inconsistent_feature_counts_and_empty_sequences():
    seqs = [np.zeros((3, 2)), np.zeros((4, 2)), np.zeros((2, 5))]
    with pytest.raises(ShapeError) as e:
        check_sequences(seqs, ["a", "b", "c"], "data.npz")
    assert "sequence c has 5 features, the first sequence (a) has 2" in one_line(e)
    with pytest.raises(DataError, match="sequence b is empty"):
        check_sequences([np.zeros((3, 2)), np.zeros((0, 2))], ["a", "b"], "x")


# ------------------------------------------------------------------------------------------- audio
def _touch_wavs(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")   # listing only: never decoded here
    return folder


def test_wav_folder_labels_from_the_default_pattern_and_a_custom_one(tmp_path):
    root = _touch_wavs(tmp_path / "rec", ["7_jackson_32.wav", "0_theo_4.wav", "notes.txt"])
    _touch_wavs(root / "more", ["3_lucas_0.WAV"])
    paths, names, labels = list_audio(root)
    assert names == ["0_theo_4.wav", "7_jackson_32.wav", "more/3_lucas_0.WAV"] and labels == ["0", "7", "3"]
    _, _, labels = list_audio(root, label_pattern=r"_(?P<label>[a-z]+)_")
    assert labels == ["theo", "jackson", "lucas"]
    with pytest.raises(DataError) as e:
        list_audio(root, label_pattern=r"^(more)/")
    assert "'0_theo_4.wav' does not match --label-pattern" in one_line(e)
    assert list_audio(root, label_pattern=r"^(more)/", labels_required=False)[2] is None
    with pytest.raises(ConfigError, match="invalid regular expression"):
        list_audio(root, label_pattern="(")
    assert DEFAULT_LABEL_PATTERN


def test_empty_folder_and_manifest(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio here")
    with pytest.raises(DataError) as e:
        read_sequences(empty)
    assert f"folder {empty} has no .wav files" in one_line(e)
    root = _touch_wavs(tmp_path / "rec", ["a.wav", "b.wav"])
    m = tmp_path / "manifest.csv"
    m.write_text("file,label\na.wav,yes\nb.wav,no\n")
    paths, names, labels = list_audio(root, manifest=m)
    assert names == ["a.wav", "b.wav"] and labels == ["yes", "no"] and paths[0] == root / "a.wav"
    m.write_text("path,class\na.wav,yes\n")
    with pytest.raises(DataError) as e:
        list_audio(root, manifest=m)
    assert "missing field 'file', 'label'" in one_line(e) and "fields present: 'path', 'class'" in str(e.value)
    assert list_audio(root, manifest=m, file_column="path", label_column="class")[2] == ["yes"]
    m.write_text("file,label\na.wav,yes\nc.wav,no\n")
    with pytest.raises(DataError) as e:
        list_audio(root, manifest=m)
    assert "row 2: file 'c.wav' not found" in one_line(e)


def test_unknown_data_kinds(tmp_path):
    with pytest.raises(DataError, match="data not found"):
        read_sequences(tmp_path / "nothing.npz")
    f = tmp_path / "x.json"
    f.write_text("{}")
    with pytest.raises(DataError, match="unknown sequence data"):
        read_sequences(f)


def test_split_and_include(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("id,label,ax\nspk1_0,a,1\nspk1_1,b,2\nspk2_0,a,3\nspk2_1,b,4\n")
    test, train = read_sequences(f).split(r"^spk2_")
    assert test.names == ["spk2_0", "spk2_1"] and train.names == ["spk1_0", "spk1_1"] and train.labels == ["a", "b"]
    assert read_sequences(f, include="_1$").names == ["spk1_1", "spk2_1"]
    with pytest.raises(DataError, match="no sequence of .* matching"):
        read_sequences(f, include="zzz")
