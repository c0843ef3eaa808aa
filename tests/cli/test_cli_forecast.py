"""``lstmkit forecast train | predict | backtest`` end to end on a tiny CSV, and bad input as one line + exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmkit.cli import app
from cli_checks import fails as _fails

runner = CliRunner()
SMALL = ["--context", "48", "--horizon", "12", "--segment", "12", "--units", "16", "--epochs", "2", "--batch-size", "64"]


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
