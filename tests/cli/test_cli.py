"""The lstmkit command, run in-process with typer's CliRunner."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from lstmkit import __version__
from lstmkit.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"lstmkit {__version__}"


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.stdout and "info" in result.stdout


def test_info_prints_versions_and_kernels():
    import numpy as np
    import torch

    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for needle in (__version__, torch.__version__, np.__version__, "torch threads", "oneDNN", "cuDNN", "CUDA"):
        assert needle in out


def test_demo_with_missing_data_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nonexistent"
    result = runner.invoke(app, ["demo", "--data", str(missing)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and str(missing) in lines[0] and "--data" in lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_demo_with_bad_option_value_is_exit_2(tmp_path):
    result = runner.invoke(app, ["demo", "--data", str(tmp_path), "--epochs", "0"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: epochs must be an integer >= 1; found 0"
    assert "Traceback" not in result.output


def test_demo_with_directory_lacking_files_names_the_file(tmp_path):
    result = runner.invoke(app, ["demo", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: JSONL file not found: {tmp_path / 'train.jsonl'}"]


def test_import_of_cli_does_not_import_torch():
    code = "import sys, lstmkit.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tiny_demo_run(tmp_path):
    import json

    words = {1: "good great wonderful", 0: "bad awful boring"}
    data = tmp_path / "mini"
    data.mkdir()
    for name, n in (("train", 16), ("valid", 4), ("test", 4)):
        lines = [json.dumps({"text": f"the film is {words[i % 2]} .", "label": i % 2}) for i in range(n)]
        (data / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "runs" / "m.lstmkit"
    result = runner.invoke(
        app, ["demo", "--data", str(data), "--epochs", "1", "--max-length", "8", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    for needle in ("Embedding", "LSTM", "Dense", "1,329,538", "Epoch 1/1", "test accuracy:", "P(positive)",
                   f"model saved to {out}"):
        assert needle in text, needle
    assert out.is_file()


def test_demo_nproc_and_precision_are_checked_first(tmp_path):
    from lstmkit.train.precision import bf16_available

    for bad in ("abc", "0"):
        result = runner.invoke(app, ["demo", "--data", str(tmp_path), "--nproc", bad])
        assert result.exit_code == 2
        shown = "0" if bad == "0" else f"'{bad}'"  # a number reads as a number
        assert result.stderr.strip() == f"error: --nproc: expected an integer from 1 to 64, found {shown}"
    result = runner.invoke(app, ["demo", "--data", str(tmp_path / "missing"), "--precision", "fp16"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"
    if not bf16_available("cpu"):
        result = runner.invoke(app, ["demo", "--data", str(tmp_path), "--precision", "bf16"])
        assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("error: precision 'bf16'")


def test_tiny_demo_run_with_precision_auto(tmp_path):
    import json

    data = tmp_path / "mini"
    data.mkdir()
    for name, n in (("train", 8), ("valid", 4), ("test", 4)):
        lines = [json.dumps({"text": f"the film is {'good' if i % 2 else 'bad'} .", "label": i % 2}) for i in range(n)]
        (data / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "m.lstmkit"
    result = runner.invoke(app, ["demo", "--data", str(data), "--epochs", "1", "--max-length", "4", "--output", str(out),
                                 "--precision", "auto", "--nproc", "1"])
    assert result.exit_code == 0, result.output
    assert "Epoch 1/1" in result.stdout and f"model saved to {out}" in result.stdout and out.is_file()
