"""``lstmkit export MODEL -o model.onnx``: success, --int8, and every bad input as one line with exit 2."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from typer.testing import CliRunner  # noqa: E402

from cli_checks import fails  # noqa: E402

from lstmkit.cli import app  # noqa: E402
from lstmkit.layers import LSTM, Dense, Embedding, Input  # noqa: E402
from lstmkit.models import Sequential  # noqa: E402

runner = CliRunner()


@pytest.fixture
def article(tmp_path):
    torch.manual_seed(0)
    model = Sequential([Embedding(100, 8, input_length=20), LSTM(8), Dense(2, activation="softmax")])
    path = tmp_path / "article.lstmkit"
    model.save(path)
    return path


def test_export_writes_the_checked_files(tmp_path, article):
    out = tmp_path / "article.onnx"
    result = runner.invoke(app, ["export", str(article), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"exported sequential to {out} (opset 17" in result.stdout
    assert "inputs: input, h0_0, c0_0; outputs: output, hn_0, cn_0" in result.stdout
    assert "checked against lstmkit on 3 sample inputs" in result.stdout and "(tolerance 1e-05)" in result.stdout
    side = json.loads((tmp_path / "article.onnx.json").read_text())
    assert side["kind"] == "sequential" and side["file"] == "article.onnx"
    from lstmkit.export.runtime import load_onnx

    assert load_onnx(out).state_names == ["h0_0", "c0_0"]


def test_export_int8_reports_the_difference(tmp_path, article):
    out = tmp_path / "q.onnx"
    result = runner.invoke(app, ["export", str(article), "-o", str(out), "--int8", "--opset", "13"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("int8: max |difference| from lstmkit "))
    assert float(line.split()[5]) < 0.05 and "(tolerance 0.05" in line
    assert "(opset 13, int8" in result.stdout


def test_bad_inputs_are_one_line(tmp_path, article):
    out = tmp_path / "keep.onnx"
    out.write_bytes(b"the previous file")
    dense = tmp_path / "dense.lstmkit"
    Sequential([Input((4,)), Dense(2)]).save(dense)
    fails(["export", str(dense), "-o", str(out)], "has no recurrent layer", "no state to export")
    truncated = tmp_path / "truncated.lstmkit"
    truncated.write_bytes(article.read_bytes()[:200])
    fails(["export", str(truncated), "-o", str(out)], "truncated.lstmkit")
    fails(["export", str(tmp_path / "missing.lstmkit"), "-o", str(out)], "missing.lstmkit")
    fails(["export", str(article), "-o", str(out), "--opset", "12"], "opset: 12 is too old", "opset 13 or newer")
    fails(["export", str(article), "-o", str(tmp_path / "no" / "dir.onnx")], "does not exist")
    fails(["export", str(article), "-o", str(tmp_path)], "is a directory")
    # an ONNX file given as the model
    fails(["export", str(out), "-o", str(tmp_path / "x.onnx")], "keep.onnx")
    assert out.read_bytes() == b"the previous file"


def test_a_failed_check_writes_nothing(tmp_path, article, monkeypatch):
    from lstmkit.export import onnx_graph

    out = tmp_path / "keep.onnx"
    out.write_bytes(b"the previous file")
    monkeypatch.setattr(onnx_graph, "LSTM_ORDER", (0, 1, 2, 3))
    fails(["export", str(article), "-o", str(out)], "export check failed", "output 'output' differs from lstmkit at index",
          "nothing was written")
    assert out.read_bytes() == b"the previous file" and not (tmp_path / "keep.onnx.json").exists()
