"""``lstmkit text train-lm`` and ``lstmkit text generate``, end to end, and each bad input (one line, exit 2)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from lstmkit.cli import app

runner = CliRunner()
SMALL = ["--units", "16", "--layers", "1", "--bptt", "10", "--batch-size", "4", "--lr", "0.02", "--dropout", "0"]


@pytest.fixture
def text_file(tmp_path, shared_data):
    path = tmp_path / "tiny.txt"
    path.write_text((shared_data / "tinyshakespeare" / "input.txt").read_text()[:3000])
    return path


@pytest.fixture
def model_file(tmp_path, text_file):
    out = tmp_path / "lm.lstmkit"
    result = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(out), "--epochs", "2", *SMALL])
    assert result.exit_code == 0, result.output
    return out


def _one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_train_then_generate_end_to_end(tmp_path, text_file, model_file):
    result = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(model_file), "--epochs", "3", "--resume",
                                 "--log-every", "50"])
    assert result.exit_code == 0, result.output
    assert "resumed from" in result.stdout and "epoch 3:" in result.stdout and "bits/char" in result.stdout
    assert "  step 150 (epoch 3, 14/68): train " in result.stdout  # 68 windows an epoch; the mean since the last line
    args = ["text", "generate", str(model_file), "--prime", "ROMEO:", "--length", "60", "--temperature", "0.8",
            "--top-k", "10", "--seed", "1"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("ROMEO:") and len(first.stdout) == len("ROMEO:") + 60 + 1
    assert runner.invoke(app, args).stdout == first.stdout


def test_generate_warns_on_unseen_characters(model_file):
    result = runner.invoke(app, ["text", "generate", str(model_file), "--prime", "ROMEO€", "--length", "5", "--seed", "0"])
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "'€'" in warnings[0]


def test_interactive_reads_primes_until_empty_line(model_file):
    result = runner.invoke(app, ["text", "generate", str(model_file), "--interactive", "--length", "7", "--seed", "3"],
                           input="ROMEO:\nJULIET:\n\nnot read\n")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert any(line.startswith("ROMEO:") for line in out) and any(line.startswith("JULIET:") for line in out)
    assert "not read" not in result.stdout


def test_missing_file(tmp_path):
    _one_line_error(runner.invoke(app, ["text", "train-lm", str(tmp_path / "no.txt"), "-o", str(tmp_path / "m")]),
                    "no.txt", "not found")


def test_empty_file(tmp_path):
    (tmp_path / "e.txt").write_text("")
    _one_line_error(runner.invoke(app, ["text", "train-lm", str(tmp_path / "e.txt"), "-o", str(tmp_path / "m")]),
                    "e.txt", "empty")


def test_undecodable_bytes(tmp_path):
    (tmp_path / "b.txt").write_bytes(b"To be or not\xff to be")
    _one_line_error(runner.invoke(app, ["text", "train-lm", str(tmp_path / "b.txt"), "-o", str(tmp_path / "m")]),
                    "b.txt", "byte offset 12", "--encoding")


def test_generate_with_a_classifier_model(tmp_path):
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    clf = tmp_path / "clf.lstmkit"
    Sequential([Dense(2, input_shape=(3,))]).save(clf)
    _one_line_error(runner.invoke(app, ["text", "generate", str(clf)]), "clf.lstmkit", "Sequential", "not a language model")


def test_generate_with_a_missing_or_foreign_file(tmp_path):
    _one_line_error(runner.invoke(app, ["text", "generate", str(tmp_path / "none.lstmkit")]), "not found")
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 100)
    _one_line_error(runner.invoke(app, ["text", "generate", str(tmp_path / "junk.bin")]), "junk.bin")


def test_length_must_be_positive(model_file):
    _one_line_error(runner.invoke(app, ["text", "generate", str(model_file), "--length", "0"]), "--length", "found 0")
    _one_line_error(runner.invoke(app, ["text", "generate", str(model_file), "--length", "-3"]), "--length")


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--temperature", "0"], "--temperature"),
        (["--top-k", "0"], "--top-k"),
    ],
)
def test_bad_generate_options(model_file, extra, needle):
    _one_line_error(runner.invoke(app, ["text", "generate", str(model_file), *extra]), needle)


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--level", "bytes"], "level"),
        (["--epochs", "0"], "epochs"),
        (["--epochs", "2", "--minutes", "1"], "--minutes"),
        (["--minutes", "-1"], "minutes"),
        (["--dropout", "1.5"], "dropout"),
        (["--bptt", "0"], "bptt"),
        (["--lr", "-1"], "learning_rate: expected a positive number, found -1.0"),
        (["--clip-norm", "0"], "clip_norm: expected a positive number, found 0.0"),
        (["--batch-size", "100000"], "streams"),
        (["--optimizer", "rmsprop"], "optimizer"),
        (["--encoding", "nope"], "encoding"),
        (["--resume"], "no checkpoint"),
        (["--precision", "fp16"], "--precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"),
        (["--nproc", "0"], "--nproc: expected an integer from 1 to 64, found 0"),
        (["--nproc", "8", "--batch-size", "4"], "--nproc: 8 processes need at least 8 streams"),
        (["--threads", "0"], "--threads"),
    ],
)
def test_bad_train_options(tmp_path, text_file, extra, needle):
    _one_line_error(runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(tmp_path / "m.lstmkit"), *extra]),
                    needle)


def test_ctrl_c_saves_checkpoint_and_resume_finishes(tmp_path, text_file):
    out = tmp_path / "int.lstmkit"
    cmd = [sys.executable, "-c", "from lstmkit.cli import app; app()", "text", "train-lm", str(text_file), "-o", str(out),
           *SMALL]
    proc = subprocess.Popen([*cmd, "--epochs", "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the first epoch line: training is running
        assert line.startswith("epoch 1:"), line
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted: checkpoint saved to" in err
    assert (tmp_path / "int.lstmkit.ckpt").is_file() and not out.exists()
    done = subprocess.run([*cmd, "--epochs", "2", "--resume"], capture_output=True, text=True, timeout=120)
    # Ctrl-C came after epoch 1 at the earliest; resuming to 2 epochs either finishes or says it is done
    assert done.returncode == 0, done.stderr
    assert out.is_file()


def test_no_tie_trains_untied_and_resume_keeps_it(tmp_path, text_file):
    from lstmkit.tasks.text.language_model import load_language_model

    out = tmp_path / "untied.lstmkit"
    result = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(out), "--epochs", "1", "--no-tie",
                                 "--embedding-size", "24", *SMALL])
    assert result.exit_code == 0, result.output
    assert not load_language_model(out)[0].tied
    # --resume without --tie/--no-tie takes the checkpoint's choice; flipping it is one line, exit 2
    again = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(out), "--epochs", "2", "--resume"])
    assert again.exit_code == 0, again.output
    flipped = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(out), "--epochs", "3", "--resume", "--tie"])
    _one_line_error(flipped, "embedding_size")


def test_tied_embedding_larger_than_units_is_one_line(tmp_path, text_file):
    result = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(tmp_path / "m.lstmkit"), "--epochs", "1",
                                 *SMALL, "--embedding-size", "32"])
    _one_line_error(result, "a tied embedding needs embedding_size <= units", "untie")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_processes_train_a_loadable_model(tmp_path, text_file):
    from lstmkit.tasks.text.language_model import load_language_model

    tiny = tmp_path / "few.txt"
    tiny.write_text(text_file.read_text()[:600])
    out = tmp_path / "two.lstmkit"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID")}
    proc = subprocess.run(
        [sys.executable, "-m", "lstmkit", "text", "train-lm", str(tiny), "-o", str(out), "--nproc", "2", "--epochs", "1",
         "--units", "8", "--layers", "1", "--bptt", "8", "--batch-size", "4", "--dropout", "0",
         "--learning-rate", "0.01", "--clip-norm", "1"],  # the long names of --lr and --clip
        capture_output=True, text=True, timeout=180, env={**env, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("epoch 1:") == 1 and proc.stdout.count("model saved to") == 1  # rank 0 prints
    model, vocab, meta, _ = load_language_model(out)
    assert meta["kind"] == "language_model" and model.hidden_size == 8
    training = json.loads(meta["training"])
    assert training["config"]["learning_rate"] == 0.01 and training["config"]["clip_norm"] == 1 and training["epochs"] == 1
    # the checkpoint holds each process's carried state; it resumes only with the same number of processes
    before = _digest(tmp_path / "two.lstmkit.ckpt")
    again = runner.invoke(app, ["text", "train-lm", str(tiny), "-o", str(out), "--resume", "--epochs", "2"])
    _one_line_error(again, "resume: --nproc was 2", "found 1")
    assert _digest(tmp_path / "two.lstmkit.ckpt") == before


def _resume_is_one_line(text_file, out, *needles, extra=()):
    ckpt = out.with_name(out.name + ".ckpt")
    before = _digest(ckpt)
    result = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(out), "--epochs", "3", "--resume", *extra])
    _one_line_error(result, *needles)
    assert _digest(ckpt) == before


def test_resume_from_bad_checkpoints_is_one_line_and_leaves_them_alone(tmp_path, text_file, model_file):
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    ckpt = tmp_path / "lm.lstmkit.ckpt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    _resume_is_one_line(text_file, model_file, "lm.lstmkit.ckpt", "truncated")
    flipped = bytearray(data)
    flipped[-10] ^= 0xFF
    ckpt.write_bytes(bytes(flipped))
    _resume_is_one_line(text_file, model_file, "lm.lstmkit.ckpt", "corrupted")
    Sequential([Dense(2, input_shape=(3,))]).save(ckpt)
    _resume_is_one_line(text_file, model_file, "lm.lstmkit.ckpt", "Keras-style model, not a training checkpoint")
    ckpt.write_bytes(data)
    _resume_is_one_line(text_file, model_file, "resume: --units was 16", "leave --units out", extra=["--units", "32"])
    resumed = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(model_file), "--epochs", "3", "--resume"])
    assert resumed.exit_code == 0 and "resumed from" in resumed.stdout and "epoch 3:" in resumed.stdout, resumed.output


def test_resume_from_a_checkpoint_that_says_lr_and_clip(tmp_path, text_file, model_file):
    from lstmkit.util.container import load_tensors, save_tensors

    ckpt = tmp_path / "lm.lstmkit.ckpt"  # rewritten as lstmkit wrote it before issue 15: lr, clip
    tensors, meta = load_tensors(ckpt)
    extra = json.loads(meta["extra"])
    config = extra["language_model"]["config"]
    config["lr"], config["clip"] = config.pop("learning_rate"), config.pop("clip_norm")
    fields = {k: v for k, v in meta.items() if k not in ("format", "format_version", "lstmkit_version", "kind",
                                                         "weights_sha256", "sha256")}
    save_tensors(ckpt, tensors, {**fields, "extra": json.dumps(extra)}, kind="train_checkpoint")
    for option in ("--lr", "--learning-rate"):
        _resume_is_one_line(text_file, model_file, "resume: --lr was 0.02 in", "found 0.05", "leave --lr out",
                            extra=[option, "0.05"])
    _resume_is_one_line(text_file, model_file, "resume: --clip was 5.0 in", "found 1.0", extra=["--clip-norm", "1"])
    # left out, or given as saved (under either name), they take the checkpoint's values
    resumed = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(model_file), "--epochs", "3", "--resume",
                                  "--learning-rate", "0.02", "--clip", "5"])
    assert resumed.exit_code == 0 and "resumed from" in resumed.stdout and "epoch 3:" in resumed.stdout, resumed.output


def test_bf16_is_one_line_on_a_cpu_without_bf16_units(tmp_path, text_file, model_file):
    from lstmkit.train.precision import bf16_available

    if bf16_available("cpu"):
        pytest.skip("this CPU has bfloat16 units: bf16 is not refused here")
    _resume_is_one_line(text_file, model_file, "--precision 'bf16': this CPU has no bfloat16 matrix units",
                        extra=["--precision", "bf16"])
    fresh = runner.invoke(app, ["text", "train-lm", str(text_file), "-o", str(tmp_path / "b.lstmkit"), "--epochs", "1",
                                "--precision", "bf16", *SMALL])
    _one_line_error(fresh, "--precision 'bf16'", "use 'fp32' or 'auto'")
    assert not (tmp_path / "b.lstmkit.ckpt").exists()


def test_checkpoint_of_the_previous_format_generates_but_does_not_resume(tmp_path, text_file, model_file):
    from lstmkit.util.container import load_tensors, save_tensors

    tensors, meta = load_tensors(model_file)  # the previous checkpoints held the model file's fields and more
    ckpt = tmp_path / "lm.lstmkit.ckpt"
    training = {"config": json.loads(meta["training"])["config"], "position": {"epoch": 2, "window": 0}, "history": []}
    save_tensors(ckpt, tensors, {"config": meta["config"], "vocabulary": meta["vocabulary"],
                                 "training": json.dumps(training)}, kind="language_model_checkpoint")
    generated = runner.invoke(app, ["text", "generate", str(ckpt), "--prime", "ROMEO:", "--length", "20", "--seed", "1"])
    assert generated.exit_code == 0 and generated.stdout.startswith("ROMEO:"), generated.output
    _resume_is_one_line(text_file, model_file, "written by an older lstmkit", "cannot resume", "without --resume")
