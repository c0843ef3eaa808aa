"""``lstmkit bench longrange | gradients`` at tiny settings, and every bad input as one line + exit 2."""

from __future__ import annotations

import csv
import json

import pytest
import typer
from typer.testing import CliRunner

from lstmkit.cli import app
from lstmkit.train.distributed import worker_argv
from lstmkit.train import bf16_available
from cli_checks import fails as _fails

runner = CliRunner()

TINY = ["--steps", "2", "--hidden", "4", "--batch-size", "8", "--test-size", "8", "--eval-every", "1"]
GRADIENTS_TINY = ["--models", "rnn,lstm", "--length", "5", "--probe-size", "3", "--steps", "2", "--hidden", "4",
                  "--batch-size", "4"]


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
    assert "--precision fp32 --nproc 1 --out" in md and "bf16" not in md and "processes" not in md
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


@pytest.mark.parametrize("command, args", [("longrange", ["--lengths", "3", "--models", "lstm", *TINY]),
                                           ("gradients", GRADIENTS_TINY)])
def test_learning_rate_and_clip_norm_options_with_lr_and_clip_as_old_names(tmp_path, command, args):
    commands = {}
    for spelling in (["--learning-rate", "0.003", "--clip-norm", "0.5"], ["--lr", "0.003", "--clip", "0.5"]):
        out = tmp_path / spelling[0].strip("-")
        result = runner.invoke(app, ["bench", command, *args, *spelling, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "Adam lr 0.003, clip 0.5," in result.output
        md = (out / ("results.md" if command == "longrange" else "gradients.md")).read_text()
        # the Command: line and config.json keep the names results written before issue 15 have
        line = next(x for x in md.splitlines() if x.startswith("Command: `lstmkit bench "))
        assert " --lr 0.003 --clip 0.5 " in line and "--learning-rate" not in md and "--clip-norm" not in md
        settings = json.loads((out / "config.json").read_text())["settings"]
        assert (settings["lr"], settings["clip"]) == (0.003, 0.5) and not {"learning_rate", "clip_norm"} & set(settings)
        commands[spelling[0]] = line.replace(str(out), "OUT")
    assert commands["--learning-rate"] == commands["--lr"]
    params = typer.main.get_command(app).commands["bench"].commands[command].params
    names = {p.name: p.opts for p in params}
    assert names["lr"] == ["--learning-rate", "--lr"] and names["clip"] == ["--clip-norm", "--clip"]


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
        (["--learning-rate", "0"], ["--lr: expected a number > 0, found 0.0"]),
        (["--clip", "0"], ["--clip: expected a number > 0, found 0.0"]),
        (["--clip-norm", "-1"], ["--clip: expected a number > 0, found -1.0"]),
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


@pytest.mark.parametrize("command, args", [("longrange", ["--lengths", "3", "--models", "lstm", *TINY]),
                                           ("gradients", GRADIENTS_TINY)])
def test_precision_auto_trains_and_is_recorded(tmp_path, command, args):
    out = tmp_path / "o"
    result = runner.invoke(app, ["bench", command, *args, "--precision", "auto", "--out", str(out)])
    assert result.exit_code == 0, result.output
    md = (out / ("results.md" if command == "longrange" else "gradients.md")).read_text()
    assert "--precision auto --nproc 1" in md
    assert json.loads((out / "config.json").read_text())["settings"]["precision"] == "auto"


@pytest.mark.skipif(bf16_available("cpu"), reason="this CPU has bfloat16 units")
@pytest.mark.parametrize("command, args", [("longrange", TINY), ("gradients", GRADIENTS_TINY)])
def test_bf16_on_a_cpu_without_bf16_units_is_one_line_and_exit_2(tmp_path, command, args):
    out = tmp_path / "o"
    _fails(["bench", command, *args, "--precision", "bf16", "--out", str(out)],
           "--precision 'bf16': this CPU has no bfloat16 matrix units", "use 'fp32' or 'auto'")
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize("command", ["longrange", "gradients"])
@pytest.mark.parametrize("bad, needles", [
    (["--nproc", "0"], ["--nproc: expected an integer from 1 to 64, found 0"]),
    (["--nproc", "65"], ["--nproc: expected an integer from 1 to 64, found 65"]),
    (["--precision", "fp16"], ["--precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"]),
])  # fmt: skip
def test_bad_nproc_or_precision_is_one_line_and_exit_2(tmp_path, command, bad, needles):
    out = tmp_path / "o"
    _fails(["bench", command, "--out", str(out), *bad], *needles)
    assert not out.exists()


def test_workers_get_the_command_without_nproc():
    assert worker_argv(["bench", "longrange", "--nproc", "2", "--out", "o", "--steps", "5"]) == \
        ["bench", "longrange", "--out", "o", "--steps", "5"]
    assert worker_argv(["bench", "gradients", "--nproc=3", "--out", "o"]) == ["bench", "gradients", "--out", "o"]
    assert worker_argv(["bench", "gradients", "--out", "o"]) == ["bench", "gradients", "--out", "o"]


def test_bench_commands_are_registered_on_one_sub_app():
    result = runner.invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("longrange", "gradients", "scaling"))
    for command in ("longrange", "gradients"):
        text = runner.invoke(app, ["bench", command, "--help"]).output
        assert "--nproc" in text and "--precision" in text
    assert "--precision" in runner.invoke(app, ["bench", "scaling", "--help"]).output
