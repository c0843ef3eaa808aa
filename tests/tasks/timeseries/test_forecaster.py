"""Forecaster: fit/predict/backtest/stream/save/load on small synthetic series (seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import ConfigError, DataError, InputValueError, ModelFileError
from lstmkit.tasks.timeseries.forecaster import Forecaster

SMALL = dict(units=16, epochs=3, batch_size=64, lr=3e-3, seed=0, method="lstm", verbose=False)


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
                    units=8, epochs=1, batch_size=128, seed=0, method="lstm").fit(df.iloc[:300])
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
                    instance_norm="none", method="lstm").fit(df.iloc[:480], valid=0.2)
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


def test_fit_trains_through_the_engine_with_cosine_and_best_weights(df):
    import math

    from lstmkit.train import TrainResult

    fc = Forecaster(48, 12, ["a"], ["c"], segment=12, units=8, epochs=10, batch_size=64, learning_rate=0.1,
                    patience=1, clip_norm=1.0, seed=0, method="lstm").fit(df, valid=0.2)
    r = fc.train_result_
    assert isinstance(r, TrainResult) and r.precision == "fp32" and r.stop_reason == "early_stopping"
    h = fc.history_
    assert [e["loss"] for e in r.history] == h["loss"] and [e["val_mse"] for e in r.history] == h["val_mse"]
    # stopped `patience` epochs after the best one, whose weights it kept
    assert r.best_epoch == fc.best_epoch_ == len(h["loss"]) - 1 and h["val_mse"][-1] > min(h["val_mse"])
    assert fc.valid_mse_ == min(h["val_mse"]) == h["val_mse"][fc.best_epoch_ - 1]
    cut = len(df) - int(len(df) * 0.2)  # the validation windows' first forecast row
    bt = fc.backtest(df, start=cut, baselines=False, scale="standardized")
    assert bt.metrics.loc[0, "mse"] == pytest.approx(fc.valid_mse_, rel=1e-5)
    # the engine's cosine schedule over every step of the 10 epochs: the rate of each epoch's last step
    per_epoch = math.ceil(fc.train_windows_ / 64)
    total = per_epoch * 10
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * (k * per_epoch - 1) / total)) for k in range(1, len(h["loss"]) + 1)]
    assert [e["lr"] for e in r.history] == pytest.approx(expected, rel=1e-12)
    constant = Forecaster(48, 12, ["a"], segment=12, units=4, epochs=2, batch_size=128, lr_schedule="constant",
                          method="lstm").fit(df)
    assert [e["lr"] for e in constant.train_result_.history] == [1e-3, 1e-3] and constant.valid_mse_ is None


def test_learning_rate_alias_precision_param_and_older_files(fitted, df, tmp_path):
    from old_format import old_format

    fc = Forecaster(lr=0.01)
    assert fc.learning_rate == fc.lr == 0.01 and fc.get_params()["learning_rate"] == 0.01 and "lr" not in fc.get_params()
    assert fc.set_params(lr=0.02).learning_rate == 0.02 and fc.get_params()["precision"] == "fp32"
    with pytest.raises(ConfigError, match="learning_rate"):
        Forecaster(lr=0.01, learning_rate=0.02)
    with pytest.raises(ConfigError, match="precision: expected 'fp32', 'bf16' or 'auto', found 'fp16'"):
        Forecaster(48, 12, ["a"], precision="fp16", **SMALL).fit(df)
    with pytest.raises(ConfigError, match="clip_norm"):
        Forecaster(48, 12, ["a"], clip_norm=0, **SMALL).fit(df)

    def before_issue_15(fields):  # "lr", and no clip_norm / precision
        params = fields["params"]
        params["lr"] = params.pop("learning_rate")
        del params["clip_norm"], params["precision"]

    old = old_format(fitted.save(tmp_path / "new.lstmkit"), before_issue_15, tmp_path / "old.lstmkit")
    again = Forecaster.load(old)
    assert again.learning_rate == fitted.learning_rate == 3e-3 and again.precision == "fp32" and again.clip_norm is None
    pd.testing.assert_frame_equal(again.predict(df), fitted.predict(df))


def test_precision(df):
    from lstmkit.errors import LstmkitError
    from lstmkit.train.precision import bf16_available, resolve_precision

    fc = Forecaster(48, 12, ["a"], segment=12, units=4, epochs=1, batch_size=128, precision="auto", method="lstm").fit(df)
    assert fc.train_result_.precision == resolve_precision("auto", "cpu") and fc.get_params()["precision"] == "auto"
    if bf16_available("cpu"):
        fc = Forecaster(48, 12, ["a"], segment=12, units=4, epochs=1, batch_size=128, precision="bf16", method="lstm").fit(df)
        assert fc.train_result_.precision == "bf16" and np.isfinite(fc.predict(df).to_numpy()).all()
        return
    with pytest.raises(LstmkitError) as info:  # this CPU has no bfloat16 matrix units: one line, before any work
        Forecaster(48, 12, ["a"], precision="bf16", **SMALL).fit(df)
    msg = str(info.value)
    assert msg.startswith("precision 'bf16': this CPU has no bfloat16 matrix units") and "\n" not in msg
