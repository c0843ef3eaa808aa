"""The command line at its edges: sizes that cannot fit, outputs that cannot be written, manifests that leave
the data folder. Each is one ``error:`` line and exit 2, found before any training, with nothing written."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from cli_checks import fails, runner
from lstmkit.cli import app

HUGE = "1000000000"


@pytest.fixture
def data(tmp_path):
    """A few lines of each input the training commands read (cut here; nothing is trained on them)."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "texts.csv").write_text("text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(4)))
    (d / "corpus.txt").write_text("to be or not to be, that is the question.\n" * 5)
    rows = ["id,label,a"] + [f"s{i},{'up' if i % 2 else 'down'},{t * 0.1:.1f}" for i in range(8) for t in range(3)]
    (d / "seqs.csv").write_text("\n".join(rows) + "\n")
    hours = np.arange(120)
    (d / "series.csv").write_text("date,OT\n" + "".join(
        f"2024-01-{1 + h // 24:02d} {h % 24:02d}:00:00,{np.sin(h / 4):.4f}\n" for h in hours))
    return d


def _commands(d, out):
    """Each training command on its tiny input, writing ``out``."""
    return {
        "text train-classifier": ["text", "train-classifier", str(d / "texts.csv"), "-o", str(out), "--epochs", "1"],
        "text train-lm": ["text", "train-lm", str(d / "corpus.txt"), "-o", str(out), "--epochs", "1"],
        "seq train-classifier": ["seq", "train-classifier", str(d / "seqs.csv"), "-o", str(out), "--epochs", "1"],
        "forecast train": ["forecast", "train", str(d / "series.csv"), "--time-col", "date", "--target", "OT",
                           "-o", str(out), "--context", "24", "--horizon", "6", "--segment", "6", "--epochs", "1"],
    }


def _nothing_trained(result) -> None:
    assert result.stdout.strip() == "", result.stdout  # no summary, no progress: it stopped before training


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ sizes that cannot fit
@pytest.mark.parametrize("command", ["text train-classifier", "seq train-classifier", "text train-lm", "forecast train"])
def test_units_that_cannot_fit_are_one_line_naming_the_option(data, tmp_path, command):
    out = tmp_path / "m.lstmkit"
    err = fails([*_commands(data, out)[command], "--units", HUGE], "units", HUGE, "GiB", "available")
    assert err.startswith("error: units: ") and "would need about" in err
    assert not out.exists() and not list(tmp_path.glob("m.lstmkit*"))


def test_bench_longrange_hidden_that_cannot_fit(tmp_path):
    out = tmp_path / "bench"
    fails(["bench", "longrange", "--hidden", HUGE, "--lengths", "3", "--models", "lstm", "--steps", "1",
           "--out", str(out)], "--hidden", HUGE, "GiB")
    assert not (out / "results.csv").exists()


def test_a_failed_run_leaves_an_existing_model_byte_identical(data, tmp_path):
    """Training over an existing model that then fails (a size that cannot fit) never touches it."""
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    model = tmp_path / "m.lstmkit"
    Sequential([Dense(2, input_shape=(3,))]).save(model)
    before = _digest(model)
    for command, args in _commands(data, model).items():
        fails([*args, "--units", HUGE], "GiB")
        assert _digest(model) == before, command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "m.lstmkit"]


# ------------------------------------------------------------------------------ outputs that cannot be written
# Tests run as root, where a read-only folder does not stop writes: a parent that is a regular file, or a
# path that is a folder, are what cannot be written for anyone.
@pytest.mark.parametrize("command", ["text train-classifier", "text train-lm", "forecast train", "seq train-classifier"])
@pytest.mark.parametrize("where", ["under-a-file", "deeper-under-a-file", "a-directory"])
def test_an_unwritable_output_is_one_line_before_training(data, tmp_path, command, where):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    out = {"under-a-file": blocker / "m.lstmkit", "deeper-under-a-file": blocker / "sub" / "m.lstmkit",
           "a-directory": tmp_path / "adir"}[where]
    (tmp_path / "adir").mkdir()
    result = runner.invoke(app, _commands(data, out)[command])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("error: output: ") and "\n" not in err and "Traceback" not in result.output, err
    named = out if where == "a-directory" else blocker  # the folder in the way
    assert str(named) in err, err
    _nothing_trained(result)
    assert blocker.read_text() == "x" and list((tmp_path / "adir").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile", "data"]


# ------------------------------------------------------------------------------ manifests that leave the folder
@pytest.fixture
def wavs(tmp_path):
    sf = pytest.importorskip("soundfile")
    rate = 8000
    t = np.arange(int(0.05 * rate)) / rate
    rec = tmp_path / "rec"
    rec.mkdir()
    for name, freq in (("lo_0", 300.0), ("lo_1", 320.0), ("hi_0", 1400.0), ("hi_1", 1450.0)):
        sf.write(str(rec / f"{name}.wav"), (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    shutil.copyfile(rec / "lo_0.wav", tmp_path / "outside.wav")  # a real wav file, next to the data folder
    return rec


def _manifest(tmp_path, *rows):
    m = tmp_path / "manifest.csv"
    m.write_text("file,label\nlo_0.wav,lo\nhi_0.wav,hi\n" + "".join(f"{f},{label}\n" for f, label in rows))
    return m


@pytest.mark.parametrize("entry", [
    pytest.param(lambda rec: "../outside.wav", id="dot-dot"),
    pytest.param(lambda rec: "lo_1.wav/../../outside.wav", id="dot-dot-inside"),
    pytest.param(lambda rec: str(rec.parent / "outside.wav"), id="absolute"),
    pytest.param(lambda rec: str(rec / "lo_1.wav"), id="absolute-even-inside"),
])
def test_a_manifest_entry_leaving_the_data_folder_is_one_line(wavs, tmp_path, entry):
    name = entry(wavs)
    m = _manifest(tmp_path, (name, "lo"))
    out = tmp_path / "m.lstmkit"
    result = runner.invoke(app, ["seq", "train-classifier", str(wavs), "--manifest", str(m), "-o", str(out),
                                 "--epochs", "1", "--units", "2", "--quiet"])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in result.output, err
    assert "row 3" in err and repr(name) in err and "outside the data folder" in err, err
    assert not out.exists()


def test_a_manifest_link_leaving_the_data_folder_is_one_line(wavs, tmp_path):
    (wavs / "link.wav").symlink_to(tmp_path / "outside.wav")
    m = _manifest(tmp_path, ("link.wav", "lo"))
    fails(["seq", "train-classifier", str(wavs), "--manifest", str(m), "-o", str(tmp_path / "m.lstmkit")],
          "row 3", "'link.wav'", "outside the data folder")
