"""Forecaster: fit/predict/backtest/stream/save/load on small synthetic series (seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError
from lstmkit.tasks.timeseries.forecaster import Forecaster

SMALL = dict(units=16, epochs=3, batch_size=64, lr=3e-3, seed=0)


def _series(n=480, seed=0, start="2024-01-01"):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    cov = np.cos(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)
    a = 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.01 * t + 0.2 * rng.standard_normal(n)
    b = 5 + 2 * cov + 0.2 * rng.standard_normal(n)
    return pd.DataFrame({"a": a, "b": b, "c": cov}, index=pd.date_range(start, periods=n, freq="h", name="time"))


@pytest.fixture(scope="module")
def df():
    return _series()


@pytest.fixture(scope="module")
def fitted(df):
    fc = Forecaster(48, 12, ["a", "b"], ["c"], segment=12, intervals="quantile", **SMALL)
    return fc.fit(df, valid=0.2)


def test_predict_frame(fitted, df):
    out = fitted.predict(df)
    assert list(out.columns) == ["a", "a_lower", "a_upper", "b", "b_lower", "b_upper"]
    assert out.index[0] == df.index[-1] + pd.Timedelta(hours=1) and len(out) == 12 and out.index.name == "time"
    assert out.attrs["interval_level"] == 0.8
    for c in ("a", "b"):
        assert (out[f"{c}_lower"] <= out[c]).all() and (out[c] <= out[f"{c}_upper"]).all()
    assert fitted.valid_mse_ is not None and fitted.best_epoch_ >= 1 and len(fitted.history_["loss"]) >= 1


def test_save_load_identical_forecasts(fitted, df, tmp_path):
    path = fitted.save(tmp_path / "f.lstmkit")
    again = Forecaster.load(path)
    pd.testing.assert_frame_equal(again.predict(df), fitted.predict(df))
    assert again.targets_ == ["a", "b"] and again.covariates_ == ["c"] and again.freq_ == fitted.freq_
    assert again.scaler_.get_config() == fitted.scaler_.get_config()


def test_wrong_kind_file(tmp_path):
    import torch

    from lstmkit.models.serialization import save_tensors

    path = tmp_path / "seq.lstmkit"
    save_tensors(path, {"w": torch.zeros(1)}, {}, kind="sequence-classifier")
    with pytest.raises(ModelFileError, match="sequence classifier.*not a forecaster"):
        Forecaster.load(path)
    (tmp_path / "junk.lstmkit").write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError):
        Forecaster.load(tmp_path / "junk.lstmkit")


def test_backtest_equals_looping_predict(fitted, df):
    bt = fitted.backtest(df, start=400, stride=7, baselines=False)
    assert bt.windows == len(range(400, len(df) - 12 + 1, 7)) and bt.start == df.index[400]
    for k, origin in enumerate([400, 407, 463]):
        expected = fitted.predict(df.iloc[:origin])
        got = bt.forecasts[(bt.forecasts["origin"] == df.index[origin - 1]) & (bt.forecasts["column"] == "a")]
        np.testing.assert_allclose(got["forecast"].to_numpy(), expected["a"].to_numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got["upper"].to_numpy(), expected["a_upper"].to_numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got["actual"].to_numpy(), df["a"].to_numpy()[origin : origin + 12])
    row = bt.metrics.iloc[0]
    assert row["model"] == "LSTM" and 0 <= row["coverage"] <= 1 and row["mse"] > 0
    assert fitted.score(df, start=400, stride=7) == pytest.approx(row["mse"])


def test_backtest_default_start_and_baselines(fitted, df):
    bt = fitted.backtest(df, stride=12, baselines=False)  # default: after the fitted rows -> none left here
    assert bt.notes and "overlap" in bt.notes[0] and bt.start == df.index[48]
    bt = fitted.backtest(df, start=300, stride=12)  # the baselines are fitted on the 300 rows before
    models = list(bt.metrics["model"])
    assert models[:4] == ["LSTM", "naive", "seasonal naive", "DLinear"]
    assert set(bt.metrics.columns) >= {"mse", "mae", "smape", "mase", "coverage"}


@pytest.mark.parametrize("segment", [1, 12])
def test_stream_equals_full_window(df, segment):
    fc = Forecaster(24 if segment == 1 else 48, 6, ["a"], ["c"], segment=segment, intervals="gaussian",
                    units=8, epochs=1, batch_size=128, seed=0).fit(df.iloc[:300])
    L = fc.context
    history = df.iloc[:200]
    stream = fc.stream(history)
    pd.testing.assert_frame_equal(stream.forecast(), fc.predict(history), atol=1e-5, rtol=1e-5)
    for t in range(200, 217):
        stream.update(df.iloc[t])
        seen = df.iloc[200 - L : t + 1]
        pd.testing.assert_frame_equal(stream.forecast(), fc.predict(seen, window="all", stats_rows=L), atol=1e-5, rtol=1e-5)
    stream.update(df.iloc[217:220][["a", "c"]].reset_index(drop=True))  # unlabelled rows: the next steps
    assert stream.observations == L + 20 and stream.last_label == df.index[219]
    with pytest.raises(DataError, match="expected the next timestamp"):
        stream.update(df.iloc[[225]])
    with pytest.raises(InputValueError, match="finite"):
        stream.update({"a": float("nan"), "c": 0.0})


def test_autoregressive_head_and_sine_fit():
    t = np.arange(600)
    df = pd.DataFrame({"y": np.sin(2 * np.pi * t / 24)})
    fc = Forecaster(48, 24, segment=12, head="autoregressive", units=32, epochs=6, batch_size=32, lr=3e-3, dropout=0.0,
                    instance_norm="none").fit(df.iloc[:480], valid=0.2)
    bt = fc.backtest(df, start=480, stride=6, baselines=False)
    assert bt.metrics.loc[0, "mse"] < 0.05  # the series' variance is 0.5
    assert bt.forecasts["time"].iloc[0] == 480 and fc.predict(df).index[0] == 600


def test_bad_inputs(df):
    with pytest.raises(DataError, match="unknown column 'zz'"):
        Forecaster(48, 12, ["zz"], **SMALL).fit(df)
    with pytest.raises(DataError, match="too short.*needs at least 60"):
        Forecaster(48, 12, ["a"], **SMALL).fit(df.iloc[:50])
    with pytest.raises(ConfigError, match="segment must divide context=48"):
        Forecaster(48, 12, ["a"], segment=10, **SMALL).fit(df)
    with pytest.raises(ConfigError, match="both as a target and as a covariate"):
        Forecaster(48, 12, ["a"], ["a"], **SMALL).fit(df)
    holed = df.copy()
    holed.iloc[5, 0] = np.nan
    with pytest.raises(DataError, match="fill"):
        Forecaster(48, 12, ["a"], **SMALL).fit(holed)
    with pytest.raises(ConfigError, match="not fitted"):
        Forecaster().predict(df)
