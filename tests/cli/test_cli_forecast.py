"""``lstmkit forecast train | predict | backtest`` end to end on a tiny CSV, and bad input as one line + exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmkit.cli import app
from cli_checks import fails as _fails

runner = CliRunner()
SMALL = ["--context", "48", "--horizon", "12", "--segment", "12", "--units", "16", "--epochs", "2", "--batch-size", "64",
         "--method", "lstm", "--split", "fractions"]


def _write_csv(path, n=400):
    rng = np.random.default_rng(0)
    t = np.arange(n)
    df = pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
        "load": np.cos(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n),
        "OT": 20 + 3 * np.sin(2 * np.pi * t / 24) + 0.3 * rng.standard_normal(n),
    })
    df.to_csv(path, index=False)
    return path




@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("forecast")
    data = _write_csv(d / "series.csv")
    model = d / "ot.lstmkit"
    result = runner.invoke(app, ["forecast", "train", str(data), "--time-col", "date", "--target", "OT",
                                 "--all-columns", "--stride", "24", "-o", str(model), *SMALL])
    assert result.exit_code == 0, result.output
    assert model.is_file() and "model saved to" in result.stdout
    for name in ("LSTM", "naive", "seasonal naive", "DLinear", "ETS", "coverage"):
        assert name in result.stdout, result.stdout
    return d, data, model


def test_predict_table_and_csv(trained):
    d, data, model = trained
    result = runner.invoke(app, ["forecast", "predict", str(model), str(data)])
    assert result.exit_code == 0, result.output
    assert "OT_lower" in result.stdout and "2024-01-17 16:00:00" in result.stdout
    out = d / "fc.csv"
    result = runner.invoke(app, ["forecast", "predict", str(model), str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    fc = pd.read_csv(out)
    assert list(fc.columns) == ["date", "OT", "OT_lower", "OT_upper"] and len(fc) == 12
    assert fc["date"].iloc[0] == "2024-01-17 16:00:00"
    assert (fc["OT_lower"] <= fc["OT"]).all() and (fc["OT"] <= fc["OT_upper"]).all()


def test_backtest_table_and_forecasts(trained):
    d, data, model = trained
    out = d / "bt.csv"
    result = runner.invoke(app, ["forecast", "backtest", str(model), str(data), "--start", "2024-01-15",
                                 "--stride", "24", "--no-baselines", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "LSTM" in result.stdout and "MASE" in result.stdout and "naive" not in result.stdout
    rows = pd.read_csv(out)
    assert set(rows.columns) >= {"origin", "time", "step", "actual", "forecast", "lower", "upper"}
    assert rows["time"].iloc[0] == "2024-01-15 00:00:00"


def test_bad_inputs_exit_2(trained, tmp_path):
    d, data, model = trained
    _fails(["forecast", "train", str(data), "--time-col", "date", "--target", "nope", "-o", str(tmp_path / "m"), *SMALL],
           "unknown column 'nope'", "OT")
    _fails(["forecast", "train", str(data), "--time-col", "date", "--context", "500", "-o", str(tmp_path / "m")],
           "too short")
    holed = tmp_path / "holed.csv"
    text = data.read_text().splitlines()
    text[5] = text[5].rsplit(",", 1)[0] + ","
    holed.write_text("\n".join(text) + "\n")
    _fails(["forecast", "predict", str(model), str(holed)], "holed.csv:6", "--fill")
    _fails(["forecast", "predict", str(tmp_path / "missing.lstmkit"), str(data)], "not found")
    _fails(["forecast", "backtest", str(model), str(data), "--start", "1999-01-01"], "backtest start")
    seq_model = tmp_path / "seq.lstmkit"
    import torch

    from lstmkit.models.serialization import save_tensors

    save_tensors(seq_model, {"w": torch.zeros(1)}, {}, kind="language_model")
    _fails(["forecast", "predict", str(seq_model), str(data)], "language model", "not a forecaster")


def _cli_options(*names):
    import typer

    command = typer.main.get_command(app)
    for name in names:
        command = command.commands[name]
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}


def test_reader_hints_name_options_every_forecast_command_has():
    import importlib
    import inspect
    import re

    hints = {h for m in ("lstmkit.data.timeseries", "lstmkit.data.readers")
             for h in re.findall(r"--[a-z][a-z-]*", inspect.getsource(importlib.import_module(m)))}
    assert hints == {"--fill", "--encoding"}
    for command in ("train", "predict", "backtest"):
        assert hints <= _cli_options("forecast", command), command
    assert {"--nproc", "--precision", "--learning-rate", "--lr", "--clip-norm"} <= _cli_options("forecast", "train")


def test_nproc_precision_and_data_mistakes_are_one_line_before_any_worker(trained, tmp_path):
    _, data, _ = trained
    base = ["forecast", "train", str(data), "--time-col", "date", "-o", str(tmp_path / "m.lstmkit"), *SMALL]
    _fails([*base, "--nproc", "0"], "--nproc: expected an integer from 1 to 64, found 0")
    _fails([*base, "--precision", "fp16"], "precision", "'fp16'")
    _fails([*base, "--target", "nope", "--nproc", "2"], "unknown column 'nope'")  # read before the workers start
    from lstmkit.train.precision import bf16_available

    if not bf16_available("cpu"):
        _fails([*base, "--precision", "bf16", "--nproc", "2"], "--precision 'bf16'", "no bfloat16 matrix units")
    assert not (tmp_path / "m.lstmkit").exists()


def test_encoding_option_reads_a_latin1_csv(tmp_path):
    csv = tmp_path / "latin.csv"
    n = 120
    t = np.arange(n)
    rows = ["date,Température"] + [f"2024-01-{1 + i // 24:02d} {i % 24:02d}:00:00,{20 + 3 * np.sin(2 * np.pi * i / 24):.3f}"
                                   for i in t]
    csv.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    model = tmp_path / "t.lstmkit"
    args = ["forecast", "train", str(csv), "--time-col", "date", "-o", str(model), "--split", "none", "--context", "24",
            "--horizon", "6", "--segment", "6", "--units", "4", "--epochs", "1", "--batch-size", "64"]
    _fails(args, "latin.csv", "not valid UTF-8", "--encoding latin-1")
    result = runner.invoke(app, [*args, "--encoding", "latin-1", "--learning-rate", "0.01", "--clip-norm", "1"])
    assert result.exit_code == 0, result.output
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    fc = Forecaster.load(model)
    assert fc.targets_ == ["Température"] and fc.learning_rate == 0.01 and fc.clip_norm == 1.0
    _fails(["forecast", "predict", str(model), str(csv)], "--encoding latin-1")
    result = runner.invoke(app, ["forecast", "predict", str(model), str(csv), "--encoding", "latin-1"])
    assert result.exit_code == 0 and "Température" in result.stdout, result.output


def test_two_processes_train_one_model_like_one_process(tmp_path):
    """A real ``--nproc 2`` run (torchrun, gloo): exit 0, rank 0 alone prints and saves, the model loads and
    forecasts what the one-process model does (same global batches; no dropout, so float rounding apart)."""
    import os
    import subprocess
    import sys

    from lstmkit.tasks.timeseries.forecaster import Forecaster

    data = _write_csv(tmp_path / "series.csv", n=300)
    # two targets: the baselines are naive, seasonal naive and DLinear (no ETS, which is univariate and slow)
    args = ["forecast", "train", str(data), "--time-col", "date", "--target", "OT,load", "--stride", "24",
            "--dropout", "0", *SMALL]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
                                                            "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")}
    two = tmp_path / "two.lstmkit"
    proc = subprocess.run([sys.executable, "-m", "lstmkit", *args, "-o", str(two), "--nproc", "2"],
                          capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "2 processes" in out and out.count("model saved to") == 1 and out.count("epoch 1/2") == 1, out
    assert "DLinear" in out and "LSTM" in out  # the baselines (DLinear trains in both processes) ran too
    one = tmp_path / "one.lstmkit"
    result = runner.invoke(app, [*args, "-o", str(one)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(data, index_col="date", parse_dates=True)
    a, b = Forecaster.load(two), Forecaster.load(one)
    assert a.train_windows_ == b.train_windows_ and a.best_epoch_ == b.best_epoch_
    np.testing.assert_allclose(a.predict(frame).to_numpy(), b.predict(frame).to_numpy(), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------ issue 16: defaults, holdout, parity
def _monthly_csv(path, n=72, header="month", seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    df = pd.DataFrame({
        header: pd.date_range("2015-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
        "sales": 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + 2 * rng.standard_normal(n),
    })
    df.to_csv(path, index=False)
    return path


def test_every_forecaster_parameter_is_a_train_option():
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    renamed = {"targets": "--target", "stride": "--train-stride", "verbose": "--verbose", "learning_rate": "--learning-rate"}
    options = _cli_options("forecast", "train")
    for name in Forecaster._PARAMS:
        option = renamed.get(name, "--" + name.replace("_", "-"))
        assert option in options, name
    assert {"--holdout", "--method", "--transform", "--quiet", "--split"} <= options


def test_holdout_prints_every_metric_beside_the_baselines(tmp_path):
    data = _monthly_csv(tmp_path / "m.csv")
    model = tmp_path / "m.lstmkit"
    result = runner.invoke(app, ["forecast", "train", str(data), "--time-col", "month", "--holdout", "12",
                                 "--units", "8", "-o", str(model)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "holdout: the last 12 rows" in out and "lstmkit (" in out and "model saved to" in out
    for name in ("MAE", "RMSE", "MAPE", "sMAPE", "MASE", "seasonal naive", "naive", "ETS"):
        assert name in out, out
    err = result.stderr
    assert "season=12: the index is monthly" in err and "method=" in err  # the choices, one line each
    from lstmkit.tasks.timeseries.forecaster import Forecaster

    fc = Forecaster.load(model)
    assert fc.horizon_ == 12 and fc.method_ in ("lstm", "ets", "seasonal_naive", "ensemble")
    result = runner.invoke(app, ["forecast", "predict", str(model), str(data)])
    assert result.exit_code == 0 and "sales_lower" in result.stdout, result.output
    _fails(["forecast", "train", str(data), "--time-col", "month", "--holdout", "12", "--split", "ett", "-o", str(model)],
           "--holdout", "--split ett")
    _fails(["forecast", "train", str(data), "--time-col", "month", "--holdout", "70", "-o", str(model)],
           "series too short", "lower --holdout")


def test_short_csv_defaults_method_and_an_unnamed_index_column(tmp_path):
    data = _monthly_csv(tmp_path / "u.csv", n=48, header="")
    model = tmp_path / "u.lstmkit"
    result = runner.invoke(app, ["forecast", "train", str(data), "--method", "ets", "--quiet", "-o", str(model)])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "column 1 has an empty name" in result.stderr
    assert "season=" not in result.stderr  # --quiet
    assert "targets: sales;" in result.stdout and "method: ets" in result.stdout
    result = runner.invoke(app, ["forecast", "backtest", str(model), str(data), "--start", "36", "--stride", "6"])
    assert result.exit_code == 0, result.output
    assert "lstmkit: ets" in result.stdout and "seasonal naive" in result.stdout


def test_too_short_for_any_model_is_one_line_naming_the_option(tmp_path):
    data = _monthly_csv(tmp_path / "s.csv", n=10)
    _fails(["forecast", "train", str(data), "--time-col", "month", "--horizon", "10", "-o", str(tmp_path / "s.lstmkit")],
           "10 rows; horizon 10 needs at least 22", "--horizon")
    _fails(["forecast", "train", str(data), "--time-col", "month", "--method", "arima", "-o", str(tmp_path / "s.lstmkit")],
           "method must be one of")
