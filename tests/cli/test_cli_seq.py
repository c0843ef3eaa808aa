"""``lstmkit seq train-classifier | classify | evaluate`` end to end; every bad input is one line and exit 2."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from lstmkit.cli import app
from cli_checks import fails as _fails

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

runner = CliRunner()
SMALL = ["--units", "8", "--epochs", "12", "--learning-rate", "0.02", "--batch-size", "8", "--n-mfcc", "8",
         "--deltas", "1", "--quiet"]
PITCH = {"lo": 300.0, "hi": 1400.0}


def write_tone(path, freq, seconds, rate=8000):
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return path


def predicted(stdout):
    """{sequence name: predicted label} from the rich table that classify prints."""
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in stdout.splitlines() if line.count("│") >= 3]
    return {r[0]: r[1] for r in rows if r and r[0] != "sequence"}




@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """``{label}_{speaker}_{index}.wav`` tones, FSDD-style; index 0-1 is the test split."""
    d = tmp_path_factory.mktemp("seqcli")
    rec = d / "rec"
    rec.mkdir()
    for label, freq in PITCH.items():
        for spk in ("ann", "bob"):
            for i in range(6):
                write_tone(rec / f"{label}_{spk}_{i}.wav", freq * (1 + 0.02 * i), 0.12 + 0.02 * i)
    model = d / "tones.lstmkit"
    result = runner.invoke(app, ["seq", "train-classifier", str(rec), "-o", str(model), "--test-pattern", r"_[01]\.wav$",
                                 "--valid-pattern", r"_2\.wav$", *SMALL])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "12 training sequences" in out and "test: 8 sequences" in out and "validation: 4 sequences" in out
    assert "test accuracy: 1.0000" in out and model.is_file()
    return d, rec, model


def test_classify_a_wav_and_a_folder(audio):
    d, rec, model = audio
    result = runner.invoke(app, ["seq", "classify", str(model), str(rec / "hi_ann_0.wav")])
    assert result.exit_code == 0, result.output
    assert "hi_ann_0.wav" in result.stdout and "P(hi)" in result.stdout and "P(lo)" in result.stdout
    assert predicted(result.stdout) == {"hi_ann_0.wav": "hi"}
    new = d / "new"
    new.mkdir()
    write_tone(new / "unknown.wav", 310.0, 0.2)
    result = runner.invoke(app, ["seq", "classify", str(model), str(new)])
    assert result.exit_code == 0, result.output
    assert predicted(result.stdout) == {"unknown.wav": "lo"}


def test_evaluate_the_test_split(audio):
    _, rec, model = audio
    result = runner.invoke(app, ["seq", "evaluate", str(model), str(rec), "--test-pattern", r"_[01]\.wav$"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "8 sequences matching" in out and "1.0000" in out and "confusion matrix" in out


def test_wrong_sample_rate_fails_or_resamples(audio):
    d, _, model = audio
    f = write_tone(d / "fast_rate.wav", 1400.0, 0.2, rate=16000)
    _fails(["seq", "classify", str(model), str(f)], "fast_rate.wav", "16000 Hz", "expected 8000 Hz", "--resample")
    result = runner.invoke(app, ["seq", "classify", str(model), str(f), "--resample"])
    assert result.exit_code == 0, result.output
    assert predicted(result.stdout) == {"fast_rate.wav": "hi"}
    mixed = d / "mixed"
    mixed.mkdir()
    write_tone(mixed / "hi_x_0.wav", 1400.0, 0.2)
    write_tone(mixed / "lo_x_0.wav", 300.0, 0.2, rate=11025)
    _fails(["seq", "train-classifier", str(mixed), "-o", str(d / "m.lstmkit"), *SMALL], "lo_x_0.wav", "11025 Hz", "expected 8000 Hz")


def test_corrupt_wav_and_empty_folder(audio, tmp_path):
    _, _, model = audio
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    _fails(["seq", "classify", str(model), str(bad)], "bad.wav", "cannot read audio file")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(["seq", "train-classifier", str(empty), "-o", str(tmp_path / "m.lstmkit")], "has no .wav files")
    _fails(["seq", "evaluate", str(model), str(empty)], "has no .wav files")


def test_manifest_with_unknown_columns(audio, tmp_path):
    _, rec, _ = audio
    m = tmp_path / "m.csv"
    m.write_text("path,digit\nlo_ann_0.wav,lo\n")
    _fails(["seq", "train-classifier", str(rec), "--manifest", str(m), "-o", str(tmp_path / "x.lstmkit")],
           "missing field 'file', 'label'", "fields present: 'path', 'digit'")


def test_single_class_and_wrong_kind_model(audio, tmp_path):
    d, rec, _ = audio
    _fails(["seq", "train-classifier", str(rec), "-o", str(tmp_path / "x.lstmkit"), "--label-pattern", r"(_)", *SMALL],
           "single class")
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    other = tmp_path / "dense.lstmkit"
    Sequential([Dense(2, input_shape=(3,))]).save(other)
    _fails(["seq", "classify", str(other), str(rec / "lo_ann_0.wav")], "holds a Keras-style model",
           "not a sequence classifier")


def test_arrays_end_to_end_and_their_errors(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["id,step,label,a,b"]
    for i in range(40):
        label = "up" if i % 2 else "down"
        for t in range(int(rng.integers(4, 9))):
            v = (t if label == "up" else -t) * 0.3 + rng.normal(0, 0.1)
            rows.append(f"s{i},{t},{label},{v:.4f},{rng.normal():.4f}")
    train = tmp_path / "train.csv"
    train.write_text("\n".join(rows) + "\n")
    model = tmp_path / "arr.lstmkit"
    result = runner.invoke(app, ["seq", "train-classifier", str(train), "-o", str(model), "--cell", "gru",
                                 "--pooling", "mean", "--test-pattern", r"^s[0-9]$", *SMALL])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps long lines at the terminal width (long tmp paths)
    assert "30 training sequences" in out and "test: 10 sequences" in out
    result = runner.invoke(app, ["seq", "evaluate", str(model), str(train)])
    assert result.exit_code == 0, result.output
    acc = float(next(x for x in result.stdout.splitlines() if "gru" in x).split("│")[2])
    assert acc >= 0.9
    x = np.zeros((2, 5, 2), dtype=np.float32)
    x[1] = np.arange(5)[:, None] * 0.3
    npz = tmp_path / "new.npz"
    np.savez(npz, x=x, lengths=np.array([3, 5]))
    result = runner.invoke(app, ["seq", "classify", str(model), str(npz)])
    assert result.exit_code == 0, result.output
    assert predicted(result.stdout)["1"] == "up" and "P(down)" in result.stdout
    # errors
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label,a,b\ns0,up,1,2\ns0,up,1,x2\n")
    _fails(["seq", "train-classifier", str(bad), "-o", str(tmp_path / "b.lstmkit")], f"{bad}:3", "'b'", "'x2'")
    np.savez(npz, x=np.zeros((2, 5, 3)))
    _fails(["seq", "classify", str(model), str(npz)], "3 features, the model expects 2")
    _fails(["seq", "classify", str(model), str(tmp_path)], "is audio but the model was trained on arrays")
    ts = tmp_path / "bad.ts"
    ts.write_text("@problemName x\n@univariate false\n@classLabel true a b\n@data\n1,2:3,4:a\n1,2:b\n")
    _fails(["seq", "train-classifier", str(ts), "-o", str(tmp_path / "t.lstmkit")], f"{ts}:6", "1 dimensions, expected 2")
    _fails(["seq", "train-classifier", str(train), "-o", str(tmp_path / "c.lstmkit"), "--cell", "lstm2"], "cell must be one of")


def test_classify_with_many_labels_shows_runners_up_or_all(tmp_path):
    rng = np.random.default_rng(1)
    y = np.arange(30) % 5
    x = (rng.normal(0, 0.1, (30, 4, 2)) + y[:, None, None]).astype(np.float32)
    data = tmp_path / "five.npz"
    np.savez(data, x=x, y=y)
    model = tmp_path / "five.lstmkit"
    result = runner.invoke(app, ["seq", "train-classifier", str(data), "-o", str(model), "--units", "4", "--epochs", "1",
                                 "--valid-fraction", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["seq", "classify", str(model), str(data)])
    assert result.exit_code == 0, result.output
    assert "runners-up" in result.stdout and "P(4)" not in result.stdout and len(predicted(result.stdout)) == 30
    result = runner.invoke(app, ["seq", "classify", str(model), str(data), "--all"])
    assert result.exit_code == 0, result.output
    assert "P(0)" in result.stdout and "P(4)" in result.stdout and "runners-up" not in result.stdout


def _cli_options(*names):
    import typer

    command = typer.main.get_command(app)
    for name in names:
        command = command.commands[name]
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}


def test_reader_hints_name_options_the_commands_have():
    import importlib
    import inspect
    import re

    from lstmkit.tasks.sequences.classifier import read_training_data

    def hints(*sources):
        return {h for s in sources for h in re.findall(r"--[a-z][a-z-]*", s)}

    data = hints(*(inspect.getsource(importlib.import_module(f"lstmkit.data.{m}")) for m in ("sequences", "audio", "readers")))
    assert {"--encoding", "--label-pattern", "--manifest", "--test-pattern", "--label-column", "--resample"} <= data
    assert data | hints(inspect.getsource(read_training_data)) <= _cli_options("seq", "train-classifier")
    assert data <= _cli_options("seq", "evaluate")
    # classify reads unlabelled data: no label pattern, manifest or test pattern is ever asked for
    assert {"--encoding", "--resample", "--id-column", "--label-column", "--time-column"} <= _cli_options("seq", "classify")
    assert {"--nproc", "--precision", "--learning-rate", "--clip-norm"} <= _cli_options("seq", "train-classifier")


def test_nproc_precision_and_encoding(tmp_path):
    rows = ["id,step,étiquette,a"]
    for i in range(16):
        label = "haut" if i % 2 else "bas"
        rows += [f"s{i},{t},{label},{(t if i % 2 else -t) * 0.5:.2f}" for t in range(4)]
    data = tmp_path / "latin.csv"
    data.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    model = tmp_path / "m.lstmkit"
    args = ["seq", "train-classifier", str(data), "-o", str(model), "--label-column", "étiquette", "--units", "4",
            "--epochs", "2", "--valid-fraction", "0", "--quiet"]
    _fails([*args, "--nproc", "0"], "--nproc: expected an integer from 1 to 64, found 0")
    _fails([*args, "--precision", "half"], "precision", "'half'")
    from lstmkit.train.precision import bf16_available

    if not bf16_available("cpu"):
        _fails([*args, "--precision", "bf16", "--nproc", "2"], "--precision 'bf16'", "no bfloat16 matrix units")
    _fails([*args, "--valid", str(data), "--valid-pattern", "s1", "--nproc", "2"], "at most one of --valid and --valid-pattern")
    _fails(args, "latin.csv", "not valid UTF-8", "--encoding latin-1")
    assert not model.exists()
    result = runner.invoke(app, [*args, "--encoding", "latin-1", "--precision", "fp32", "--nproc", "1"])
    assert result.exit_code == 0, result.output
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    clf = SequenceClassifier.load(model)
    assert clf.train_result_ is None and clf.precision == "fp32" and len(clf.history_["loss"]) == 2
    result = runner.invoke(app, ["seq", "evaluate", str(model), str(data), "--label-column", "étiquette", "--encoding", "latin-1"])
    assert result.exit_code == 0 and "16 sequences" in result.stdout, result.output
    result = runner.invoke(app, ["seq", "classify", str(model), str(data), "--encoding", "latin-1", "--label-column", "étiquette"])
    assert result.exit_code == 0 and len(predicted(result.stdout)) == 16, result.output
    _fails(["seq", "classify", str(model), str(data), "--label-column", "étiquette"], "--encoding latin-1")


def _write_long_csv(path, n, seed, shift=0.0):
    """Long-format CSV: class 'up' rises, 'down' falls (6-11 steps, two features)."""
    rng = np.random.default_rng(seed)
    rows = ["id,step,label,a,b"]
    for i in range(n):
        label = "up" if i % 2 else "down"
        for t in range(int(rng.integers(6, 12))):
            v = (t if label == "up" else -t) * 0.3 + shift + rng.normal(0, 0.1)
            rows.append(f"s{i},{t},{label},{v:.4f},{rng.normal():.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_separate_test_file_is_reported_beside_the_one_nn_baseline(tmp_path):
    train = _write_long_csv(tmp_path / "train.csv", 24, 0)
    test = _write_long_csv(tmp_path / "test.csv", 16, 1)
    model = tmp_path / "m.lstmkit"
    result = runner.invoke(app, ["seq", "train-classifier", str(train), "-o", str(model), "--test", str(test),
                                 "--filters", "8,8,8", "--epochs", "20", "--learning-rate", "0.01", "--quiet"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "test: 16 sequences from" in out and "test accuracy: " in out
    assert "lstm_fcn (this model)" in out and "1-NN Euclidean (baseline)" in out and "macro-F1" in out
    acc = float(out.split("test accuracy: ")[1].split()[0])
    assert acc >= 0.9
    # the settings chosen from the data, one line each, on stderr; the explicit ones are not printed
    err = result.stderr.splitlines()
    assert any(line.startswith("batch_size=8: 24 training samples") for line in err)
    assert any(line.startswith("selection=train_loss:") for line in err) and not any(l.startswith("epochs=") for l in err)
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    clf = SequenceClassifier.load(model)
    assert clf.settings_["filters"] == [8, 8, 8] and clf.data_info_["test_file"] == str(test)
    _fails(["seq", "train-classifier", str(train), "-o", str(model), "--test", str(tmp_path / "nope.csv")],
           "--test file not found", "nope.csv")
    _fails(["seq", "train-classifier", str(train), "-o", str(model), "--test", str(test), "--test-pattern", "s1"],
           "at most one of --test and --test-pattern")
    other = tmp_path / "other.csv"
    other.write_text("id,label,a,b\ns0,sideways,1,2\ns0,sideways,1,2\n")
    _fails(["seq", "train-classifier", str(train), "-o", str(tmp_path / "o.lstmkit"), "--test", str(other),
            "--filters", "8,8,8", "--epochs", "1", "--quiet"], "test label(s) sideways", "not among the training labels")


def test_a_set_too_small_to_train_is_one_line(tmp_path):
    rows = ["id,label,a"] + [f"s{i},{lab},{t}" for i, lab in enumerate(["a", "b", "b", "c", "c"]) for t in range(4)]
    data = tmp_path / "tiny.csv"
    data.write_text("\n".join(rows) + "\n")
    _fails(["seq", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit")],
           "class 'a' has 1 sample(s)", "need at least 2 per class")
    _fails(["seq", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit"), "--filters", "8,x"],
           "--filters: expected positive integers")
    _fails(["seq", "train-classifier", str(data), "-o", str(tmp_path / "m.lstmkit"), "--model", "fcn"],
           "model must be one of")


def test_every_estimator_parameter_is_an_option():
    from lstmkit.tasks.sequences.classifier import SequenceClassifier

    options = _cli_options("seq", "train-classifier")
    spelled = {"validation_split": "--valid-fraction", "verbose": "--quiet", "audio": "--n-mfcc",
               "standardize": "--no-standardize"}
    for name in SequenceClassifier._PARAMS:
        assert spelled.get(name, "--" + name.replace("_", "-")) in options, name
    assert {"--test", "--test-pattern", "--valid", "--valid-pattern", "--sample-rate", "--deltas"} <= options
