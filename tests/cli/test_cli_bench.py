"""``lstmkit bench longrange | gradients`` at tiny settings, and every bad input as one line + exit 2."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from lstmkit.cli import app
from cli_checks import fails as _fails

runner = CliRunner()

TINY = ["--steps", "2", "--hidden", "4", "--batch-size", "8", "--test-size", "8", "--eval-every", "1"]




@pytest.mark.parametrize("task, metric", [("adding", "mse"), ("copy", "symbol_accuracy")])
def test_longrange_smoke(tmp_path, task, metric):
    out = tmp_path / "out"
    result = runner.invoke(app, ["bench", "longrange", "--task", task, "--lengths", "3,6", "--models", "rnn,gru,lstm,transformer",
                                 "--out", str(out), "--curriculum", "--curriculum-start", "2", "--schedule", "cosine",
                                 "--forget-bias", "chrono", *TINY])
    assert result.exit_code == 0, result.output
    assert "parameters" in result.output and "chance baseline" in result.output
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {r["model"] for r in rows} == {"rnn", "gru", "lstm", "transformer"}
    assert all(r["steps"] == "2" and r[metric] for r in rows)
    md = (out / "results.md").read_text()
    assert "lstmkit bench longrange --task " + task in md and "--curriculum" in md and "2 steps" in md
    assert "--forget-bias chrono" in md and "LSTM chrono initialisation" in md
    assert all((out / name).stat().st_size > 1000 for name in ("results.png", "curves.png"))


def test_gradients_smoke(tmp_path):
    out = tmp_path / "g"
    result = runner.invoke(app, ["bench", "gradients", "--models", "rnn,lstm", "--length", "5", "--probe-size", "3",
                                 "--steps", "2", "--hidden", "4", "--batch-size", "4", "--forget-bias", "chrono", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "||dL/dx||" in result.output and "LSTM chrono initialisation" in (out / "gradients.md").read_text()
    with open(out / "gradients.csv") as f:
        assert len(list(csv.DictReader(f))) == 2 * 2 * 5
    assert (out / "gradients.png").stat().st_size > 1000 and "| rnn |" in (out / "gradients.md").read_text()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--task", "sort"], ["task: expected one of adding, copy", "'sort'"]),
        (["--models", "lstm,cnn"], ["--models", "'cnn'"]),
        (["--models", "lstm,lstm"], ["each model at most once"]),
        (["--lengths", "0"], ["--lengths", "found 0"]),
        (["--lengths", "-5"], ["--lengths", "found -5"]),
        (["--lengths", "1"], [">= 2 for the adding task"]),
        (["--lengths", "10,x"], ["--lengths: expected comma-separated integers, found 'x'"]),
        (["--lengths", "10,,20"], ["--lengths"]),
        (["--steps", "0"], ["--steps: expected an integer >= 1"]),
        (["--minutes", "0"], ["--minutes: expected a number > 0"]),
        (["--steps", "5", "--minutes", "1"], ["exactly one of --steps and --minutes"]),
        (["--schedule", "step"], ["--schedule"]),
        (["--batch-size", "0"], ["--batch-size"]),
        (["--lr", "-1"], ["--lr"]),
        (["--hidden", "0"], ["--hidden"]),
        (["--threads", "0"], ["--threads"]),
        (["--forget-bias", "high"], ["--forget-bias: expected a number or 'chrono', found 'high'"]),
    ],
)
def test_longrange_bad_input(tmp_path, args, needles):
    _fails(["bench", "longrange", "--out", str(tmp_path / "o"), *args], *needles)


def test_longrange_out_must_be_a_folder(tmp_path):
    blocked = tmp_path / "file.txt"
    blocked.write_text("keep me")
    _fails(["bench", "longrange", "--out", str(blocked), "--lengths", "3", "--models", "rnn", *TINY], "--out", "file.txt")
    assert blocked.read_text() == "keep me"


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--models", "transformers"], ["--models", "'transformers'"]),
        (["--length", "0"], ["--length", "found 0"]),
        (["--probe-size", "0"], ["--probe-size"]),
        (["--steps", "-1"], ["--steps"]),
        (["--forget-bias", "1e999"], ["--forget-bias"]),
    ],
)
def test_gradients_bad_input(tmp_path, args, needles):
    _fails(["bench", "gradients", "--out", str(tmp_path / "o"), *args], *needles)
