"""The methods a Forecaster chooses among: ETS saved as JSON, bounds at 0, transforms, old files, the holdout report."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import ConfigError, DataError, LstmkitWarning
from lstmkit.tasks.timeseries.forecaster import Forecaster

from forecast_series import TINY, monthly  # noqa: E402  (tests/tasks/timeseries/forecast_series.py)


# ------------------------------------------------------------------------------ ETS, save/load, bounds, transforms
def test_ets_method_saves_as_json_and_forecasts_the_same_after_loading(tmp_path):
    df = monthly(96)
    fc = Forecaster(method="ets", intervals="gaussian", **TINY).fit(df)
    assert fc.network_ is None and fc.method_ == "ets" and fc.ets_[0].spec_ is not None
    path = fc.save(tmp_path / "ets.lstmkit")
    again = Forecaster.load(path)
    pd.testing.assert_frame_equal(again.predict(df), fc.predict(df))
    assert again.method_ == "ets" and again.horizon_ == 18 and again.ets_[0].params_ == fc.ets_[0].params_
    from lstmkit.models.serialization import read_metadata

    meta = read_metadata(path)
    text = json.dumps(meta)
    assert "pickle" not in text and json.loads(meta["method"])["ets"][0]["spec"]["seasonal"] == "add"
    assert any(c["name"] == "horizon" for c in json.loads(meta["advice"])["choices"])
    # new rows appended: the fitted model runs over them (no refit) and forecasts from the new end
    longer = monthly(108)
    out = again.predict(longer)
    assert out.index[0] == longer.index[-1] + pd.offsets.MonthBegin() and np.isfinite(out.to_numpy()).all()
    assert (out["y_lower"] < out["y"]).all() and (out["y"] < out["y_upper"]).all()
    with pytest.raises(ConfigError, match="no LSTM network"):
        again.stream(df)


def test_bounds_of_a_never_negative_series_stay_at_or_above_zero():
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.0, 96).astype(float)
    df = pd.DataFrame({"count": counts}, index=pd.date_range("2020-01-01", periods=96, freq="MS"))
    fc = Forecaster(method="seasonal_naive", intervals="gaussian", **TINY).fit(df)
    with pytest.warns(LstmkitWarning, match="never negative but interval bounds go down to .*clipped at 0"):
        out = fc.predict(df)
    assert (out["count_lower"] >= 0).all() and (out["count"] >= 0).all()
    assert fc.advice_.warnings and "--transform log" in fc.advice_.warnings[-1]


def test_log_and_boxcox_transforms_model_on_the_transformed_scale():
    t = np.arange(72)
    y = 50 * np.exp(0.02 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
    df = pd.DataFrame({"y": y}, index=pd.date_range("2000-01-01", periods=72, freq="MS"))
    fit_log = Forecaster(method="ets", transform="log", **TINY).fit(df)
    fit_none = Forecaster(method="ets", **TINY).fit(df)
    future = np.arange(72, 72 + fit_log.horizon_)
    truth = 50 * np.exp(0.02 * future) * (1 + 0.2 * np.sin(2 * np.pi * future / 12))
    err_log = np.mean(np.abs(fit_log.predict(df)["y"].to_numpy() - truth))
    err_none = np.mean(np.abs(fit_none.predict(df)["y"].to_numpy() - truth))
    assert err_log < err_none  # multiplicative season and growth are additive on the log scale
    bc = Forecaster(method="ets", transform="boxcox", **TINY).fit(df)
    assert bc.transform_.kind == "boxcox" and -1 <= bc.transform_.lambdas[0] <= 2
    assert np.isfinite(bc.predict(df).to_numpy()).all()
    with pytest.raises(DataError, match="column 'y' has values <= 0.*--transform none"):
        Forecaster(method="ets", transform="log", **TINY).fit(df - 100)
    with pytest.raises(ConfigError, match="transform must be one of"):
        Forecaster(transform="sqrt", **TINY).fit(df)
    with pytest.raises(ConfigError, match="method must be one of"):
        Forecaster(method="arima", **TINY).fit(df)


def test_old_files_without_a_method_load_as_the_lstm(tmp_path):
    from old_format import old_format

    df = monthly(120)
    fc = Forecaster(context=24, horizon=6, epochs=2, method="lstm", **TINY).fit(df)

    def before_issue_16(fields):
        del fields["method"], fields["advice"]
        for key in ("method", "transform"):
            del fields["params"][key]

    old = old_format(fc.save(tmp_path / "new.lstmkit"), before_issue_16, tmp_path / "old.lstmkit")
    again = Forecaster.load(old)
    assert again.method_ == "lstm" and again.method == "lstm" and again.context_ == 24
    pd.testing.assert_frame_equal(again.predict(df), fc.predict(df))


# ------------------------------------------------------------------------------ the holdout report
def test_evaluate_holdout_on_a_period_indexed_series():
    from lstmkit.tasks.timeseries.holdout import evaluate_holdout

    y = monthly(60)["y"]
    y.index = pd.period_range("2000-01", periods=60, freq="M")  # as sktime's loaders give it
    y.name = "sales"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LstmkitWarning)
        report = evaluate_holdout(y, method="ets", verbose=False)
    assert report.holdout == 12 and report.season == 12 and report.chosen == "ets"  # 18, cut to a fifth of 60
    models = list(report.metrics["model"])
    assert models == ["lstmkit (ets)", "seasonal naive", "naive", "ETS"]
    assert set(report.metrics.columns) == {"model", "mae", "rmse", "mape", "smape", "mase"}
    # lstmkit's ETS and the ETS baseline are the same model fitted on the same rows
    assert report.row("lstmkit") == pytest.approx(report.row("ETS"))
    assert report.forecasts.index[0] == pd.Timestamp("2004-01-01") and "sales:seasonal naive" in report.forecasts
    assert "lstmkit (ets)" in report.table() and "MASE" in report.table()
    from lstmkit.tasks.timeseries.metrics import accuracy_row

    actual = report.forecasts["sales"].to_numpy()
    snaive = report.forecasts["sales:seasonal naive"].to_numpy()
    expected = accuracy_row(actual, snaive, y.to_numpy()[:-12], 12)
    assert report.row("seasonal naive") == pytest.approx(expected)
    with pytest.raises(ConfigError, match="horizon=6 but holdout=12"):
        evaluate_holdout(y, holdout=12, horizon=6, verbose=False)
    with pytest.raises(DataError, match="holding out the last 40 leaves 20.*--holdout to at most 19"):
        evaluate_holdout(y, holdout=40, verbose=False)
