"""Atomic writes, and output paths checked before any work starts (one line each)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lstmkit.errors import ConfigError, LstmkitError
from lstmkit.util.files import check_writable_folder, prepare_output, prepare_output_dir, write_bytes_atomic


# ------------------------------------------------------------------------------ write_bytes_atomic
def test_writes_and_replaces_without_leaving_a_temporary_file(tmp_path):
    path = tmp_path / "m.lstmkit"
    write_bytes_atomic(path, b"first")
    write_bytes_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["m.lstmkit"]


def test_a_written_file_gets_the_mode_a_plain_open_would(tmp_path):
    umask = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "m.lstmkit", b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.lstmkit").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("target, needle", [
    pytest.param(lambda d: d, "found the directory", id="a-directory"),
    pytest.param(lambda d: d / "missing" / "m.lstmkit", "does not exist", id="a-missing-folder"),
    pytest.param(lambda d: Path("/dev/null"), "special file", id="a-device"),
])
def test_a_path_that_cannot_hold_the_file_is_one_line(tmp_path, target, needle):
    path = target(tmp_path)
    if str(path) == "/dev/null" and not path.exists():
        pytest.skip("no /dev/null")
    with pytest.raises(ConfigError) as e:
        write_bytes_atomic(path, b"x")
    named = path if path.parent.exists() else path.parent  # a missing folder is named itself
    assert needle in str(e.value) and str(named) in str(e.value) and "\n" not in str(e.value)


def test_a_failed_write_leaves_the_previous_file_untouched(tmp_path):
    path = tmp_path / "m.lstmkit"
    path.write_bytes(b"previous")
    with pytest.raises(TypeError):  # the data is not bytes: the error comes part-way, after the temporary file
        write_bytes_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.lstmkit"]


# ------------------------------------------------------------------------------ prepare_output
def test_none_means_no_output():
    assert prepare_output(None) is None


def test_a_good_path_is_returned_and_its_folder_made(tmp_path):
    path = prepare_output(tmp_path / "runs" / "a" / "m.lstmkit")
    assert path == tmp_path / "runs" / "a" / "m.lstmkit" and path.parent.is_dir() and not path.exists()
    assert [p.name for p in path.parent.iterdir()] == []  # the write check leaves nothing behind


def test_an_existing_file_may_be_replaced(tmp_path):
    (tmp_path / "m.lstmkit").write_bytes(b"old")
    assert prepare_output(str(tmp_path / "m.lstmkit")) == tmp_path / "m.lstmkit"
    assert (tmp_path / "m.lstmkit").read_bytes() == b"old"


@pytest.mark.parametrize("bad", [True, 3, 1.5, ["m.lstmkit"], "", "   "])
def test_not_a_path_is_one_line(bad):
    with pytest.raises(ConfigError) as e:
        prepare_output(bad, name="--output")
    assert str(e.value).startswith("--output: expected a file path") and "\n" not in str(e.value)


def test_a_directory_is_one_line_suggesting_a_file_in_it(tmp_path):
    with pytest.raises(ConfigError) as e:
        prepare_output(tmp_path, "forecaster.lstmkit")
    assert str(e.value) == f"output: {tmp_path} is a directory; give a file path such as {tmp_path / 'forecaster.lstmkit'}"


@pytest.mark.parametrize("below", [("m.lstmkit",), ("sub", "m.lstmkit")])
def test_a_parent_that_is_a_file_is_one_line_naming_it(tmp_path, below):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    target = blocker.joinpath(*below)
    with pytest.raises(ConfigError) as e:
        prepare_output(target)
    msg = str(e.value)
    assert msg.startswith("output: cannot create directory ") and str(blocker) in msg and "\n" not in msg
    assert blocker.read_text() == "x"


def test_a_special_file_is_refused():
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null")
    with pytest.raises(ConfigError, match="special file '/dev/null'"):
        prepare_output("/dev/null")


def test_check_writable_folder_names_the_target(tmp_path):
    check_writable_folder(tmp_path, "-o", tmp_path / "m.lstmkit")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError) as e:
        check_writable_folder(tmp_path / "missing", "-o", tmp_path / "missing" / "m.lstmkit")
    assert str(e.value).startswith(f"-o: cannot write {str(tmp_path / 'missing' / 'm.lstmkit')!r}")


# ------------------------------------------------------------------------------ prepare_output_dir
def test_output_dir_is_made(tmp_path):
    assert prepare_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    assert prepare_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"  # an existing folder is fine


def test_output_dir_with_a_file_in_the_way_is_one_line(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=f"--out: expected a folder, found the file '{blocker}'"):
        prepare_output_dir(blocker)
    with pytest.raises(ConfigError, match="--out: cannot create the folder"):
        prepare_output_dir(blocker / "sub")
    with pytest.raises(ConfigError, match="--out: expected a folder path"):
        prepare_output_dir(False)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ lstmkit.load of a non-path
@pytest.mark.parametrize("bad", [None, 7, b"m.lstmkit"])
def test_load_of_something_that_is_not_a_path_is_one_line(bad):
    import lstmkit

    with pytest.raises(LstmkitError) as e:
        lstmkit.load(bad)
    assert "expected the path" in str(e.value) and "\n" not in str(e.value)
