"""Data-aware defaults, method selection, transforms, bounds and bad input of the Forecaster (small real fits)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import DataError, LstmkitWarning
from lstmkit.tasks.timeseries import sizing
from lstmkit.tasks.timeseries.forecaster import Forecaster
from lstmkit.tasks.timeseries.selection import select

from forecast_series import TINY, monthly  # noqa: E402  (tests/tasks/timeseries/forecast_series.py)


# ------------------------------------------------------------------------------ sizing rules
def test_season_from_the_frequency_or_the_autocorrelation():
    assert sizing.season_from_index("MS", np.zeros(10))[0] == 12
    assert sizing.season_from_index("QS-OCT", np.zeros(10))[0] == 4
    assert sizing.season_from_index("YS-JAN", np.zeros(10))[0] == 1
    assert sizing.season_from_index("h", np.zeros(10))[0] == 24
    assert sizing.season_from_index("W-SUN", np.zeros(10))[0] == 52
    assert sizing.season_from_index("D", np.zeros(10))[0] == 7
    t = np.arange(140)
    m, why = sizing.season_from_index(None, np.sin(2 * np.pi * t / 7) + 0.01 * t)
    assert m == 7 and "autocorrelation peaks at lag 7" in why
    noise = np.random.default_rng(0).standard_normal(200)
    assert sizing.season_from_index(None, noise)[0] == 1
    # a yearly series has no season, but its cycle (sunspots-like, 11 years) shapes the LSTM's context
    cycle, why = sizing.cycle_for(1, np.sin(2 * np.pi * np.arange(300) / 11))
    assert cycle == 11 and "lag 11" in why


def test_horizon_context_and_validation_rules():
    assert sizing.default_horizon(192, "MS", 12)[0] == 18  # M4 monthly
    assert sizing.default_horizon(187, "QS-OCT", 4)[0] == 8
    h, why = sizing.default_horizon(16, "YS-JAN", 1)
    assert h == 3 and "a fifth of the 16 rows" in why
    assert sizing.default_horizon(17420, "h", 24) == (96, sizing.default_horizon(17420, "h", 24)[1])
    assert sizing.default_horizon(17420, "h", 24)[0] == 96 and sizing.default_horizon(2000, "h", 24)[0] == 48
    L, why = sizing.default_context(156, 18, 12)
    assert L == 60 and (156 - 60 - 18 + 1) >= sizing.MIN_WINDOWS and "5 cycles of 12" in why
    L, why = sizing.default_context(60, 18, 12)  # 60 rows: shortened in steps of the season
    assert L == 24 and "shortened to 24" in why
    assert sizing.default_context(10, 3, 1)[0] is None
    assert sizing.validation_span(174, 18) == 18 + 8 - 1
    assert sizing.validation_span(14, 6) == 6  # one origin: 2 x 6 + 2 rows are all it has
    with pytest.raises(DataError) as info:
        sizing.require_rows(10, 10, "training data")
    msg = str(info.value)
    assert "10 rows; horizon 10 needs at least 22" in msg and "--horizon to at most 4" in msg and "\n" not in msg


def test_long_series_get_the_ett_protocol_sizes(capsys):
    n = sizing.LONG_ROWS
    t = np.arange(n)
    df = pd.DataFrame({"OT": np.sin(2 * np.pi * t / 24) + 0.01 * t},
                      index=pd.date_range("2016-07-01", periods=n, freq="h", name="date"))
    fc = Forecaster(units=4, epochs=1, method="lstm").fit(df)
    assert (fc.context_, fc.horizon_, fc.segment_, fc.batch_size_, fc.patience_) == (336, 96, 48, 256, 3)
    assert fc.season_() == 24 and fc.method_ == "lstm" and fc.refit_epochs_ is None  # epochs given: no validation
    err = capsys.readouterr().err
    assert "context=336: 4,320 rows: the long-horizon protocol" in err and "horizon=96" in err
    assert "epochs=" not in err  # given, so not echoed
    given = {c.name: c.given for c in fc.advice_.choices}
    assert given["epochs"] and not given["context"] and not given["batch_size"]


# ------------------------------------------------------------------------------ a short series, defaults only
@pytest.fixture(scope="module")
def short_fit():
    df = monthly(120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LstmkitWarning)
        fc = Forecaster(**TINY).fit(df)
    return df, fc


def test_short_series_defaults_and_selection(short_fit):
    df, fc = short_fit
    assert fc.season_() == 12 and fc.horizon_ == 18 and fc.context_ == 60 and fc.segment_ == 12
    assert fc.batch_size_ == 4 and 10 <= fc.epochs_ <= 200 and fc.patience_ >= 3
    sel = fc.selection_
    assert set(sel.scores) == {"lstm", "ets", "seasonal_naive", "ensemble"} and sel.windows == 6
    assert fc.method_ == sel.chosen and len(sel.members) == 2
    best_single = min(sel.scores[k] for k in ("lstm", "ets", "seasonal_naive"))
    if fc.method_ == "ensemble":
        assert sel.scores["ensemble"] <= 1.05 * best_single
    else:
        assert sel.scores[fc.method_] == best_single < sel.scores["ensemble"] / 1.05
    lines = [c.line() for c in fc.advice_.choices]
    assert any(line.startswith("method=") and "validation MASE" in line for line in lines)
    out = fc.predict(df)
    assert len(out) == 18 and out.index[0] == pd.Timestamp("2010-01-01") and out.attrs["method"] == fc.method_
    assert np.isfinite(out["y"]).all()


def test_explicit_options_win_and_are_recorded_as_given():
    df = monthly(120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LstmkitWarning)
        fc = Forecaster(context=24, horizon=6, batch_size=8, epochs=3, patience=2, season=6, **TINY).fit(df)
    assert (fc.context_, fc.horizon_, fc.batch_size_, fc.epochs_, fc.patience_, fc.season_()) == (24, 6, 8, 3, 2, 6)
    assert fc.segment_ == 6  # the season cuts 24 into 4 segments
    assert all(c.given for c in fc.advice_.choices if c.name in ("context", "horizon", "batch_size", "epochs", "season"))
    assert fc.get_params()["context"] == 24 and Forecaster().get_params()["context"] is None


def test_a_series_too_short_for_any_model_is_one_line():
    df = monthly(10)
    with pytest.raises(DataError) as info:
        Forecaster(horizon=10, **TINY).fit(df)
    msg = str(info.value)
    assert "series too short: 10 rows; horizon 10 needs at least 22" in msg and "--horizon" in msg and "\n" not in msg
    fc = Forecaster(**TINY).fit(df)  # the defaults resize to what 10 rows hold: no LSTM, horizon 2
    assert fc.horizon_ == 2 and fc.network_ is None and fc.method_ in ("ets", "seasonal_naive", "ensemble")
    assert any(c.name == "lstm" and c.value == "left out" for c in fc.advice_.choices)
    with pytest.raises(DataError, match="too short for the LSTM.*--method ets"):
        Forecaster(method="lstm", **TINY).fit(df)
    with pytest.raises(DataError, match=r"context 48 \+ horizon 6 needs at least 54 training rows.*--context"):
        Forecaster(context=48, horizon=6, **TINY).fit(df.iloc[:0].pipe(lambda _: monthly(60)))


def test_few_validation_windows_and_few_gradient_steps_warn():
    with pytest.warns(LstmkitWarning, match="chosen on 1 validation window"):
        Forecaster(**TINY).fit(monthly(20))
    with pytest.warns(LstmkitWarning, match="gradient steps, fewer than 300"):
        Forecaster(context=24, horizon=6, epochs=1, batch_size=32, method="lstm", **TINY).fit(monthly(120))


def test_verbose_echoes_each_choice_on_stderr_and_false_is_silent(capsys):
    df = monthly(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LstmkitWarning)
        Forecaster(units=4, method="ets", verbose=False).fit(df)
        assert capsys.readouterr().err == ""
        Forecaster(units=4, method="ets").fit(df)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("season=12: the index is monthly") and err[1].startswith("horizon=8: ")


# ------------------------------------------------------------------------------ selection rule
def test_select_ranks_by_mase_and_prefers_a_close_ensemble():
    y = np.ones((2, 3, 1))
    insample = np.arange(10.0)[:, None]  # naive in-sample MAE 1
    fc = {"seasonal_naive": y + 1.0, "ets": y + 0.5, "lstm": y - 0.52}
    sel = select(fc, y, insample, 1, 4)
    assert sel.members == ["ets", "lstm"] and sel.scores["ets"] == pytest.approx(0.5)
    assert sel.scores["ensemble"] == pytest.approx(0.01) and sel.chosen == "ensemble"
    sel = select({"seasonal_naive": y + 1.0, "ets": y + 0.1, "lstm": y + 0.5}, y, insample, 1, 4)
    assert sel.chosen == "ets"  # 0.1 against the ensemble's 0.3: clearly better alone
    sel = select({"seasonal_naive": y + 1.0, "ets": y + 0.30, "lstm": y + 0.31}, y, insample, 1, 4)
    assert sel.chosen == "ensemble"  # 0.305 is within 5% of 0.30
    assert select(fc, y, insample, 1, 4, force="lstm").chosen == "lstm"


def test_seasonal_naive_wins_on_a_series_that_repeats_itself():
    pattern = np.random.default_rng(1).uniform(5, 15, 12)
    df = pd.DataFrame({"y": np.tile(pattern, 10)}, index=pd.date_range("2000-01-01", periods=120, freq="MS"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LstmkitWarning)
        fc = Forecaster(**TINY).fit(df)
    assert fc.method_ == "seasonal_naive" and fc.selection_.scores["seasonal_naive"] == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(fc.predict(df)["y"].to_numpy(), np.tile(pattern, 2)[:18])


# ------------------------------------------------------------------------------ columns without a name
def test_an_unnamed_index_column_is_never_a_target(tmp_path):
    df = monthly(60).reset_index(names="")
    df[""] = df[""].dt.strftime("%Y-%m-%d")
    path = tmp_path / "s.csv"
    df.to_csv(path, index=False)
    from lstmkit.data.timeseries import read_series

    with pytest.warns(LstmkitWarning, match="column 1 has an empty name"):
        frame = read_series(path, time_col=None)
    assert list(frame.columns) == ["y"] and frame.index.freqstr == "MS"
    raw = pd.read_csv(path)  # pandas names it "Unnamed: 0"
    assert raw.columns[0] == "Unnamed: 0"
    with pytest.warns(LstmkitWarning, match="empty name"):
        fc = Forecaster(method="seasonal_naive", **TINY).fit(raw)
    assert fc.targets_ == ["y"] and fc.freq_ == "MS" and any("empty name" in w for w in fc.advice_.warnings)
    numbered = pd.DataFrame({"Unnamed: 0": np.arange(60), "y": monthly(60)["y"].to_numpy(), "z": 1.0})
    numbered.columns = ["Unnamed: 0", "y", "y"]
    with pytest.warns(LstmkitWarning, match="appears twice"):
        fc = Forecaster(method="seasonal_naive", **TINY).fit(numbered)
    assert fc.targets_ == ["y"]
