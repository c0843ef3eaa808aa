"""Forecast baselines: exact on the signals they model, batched, deterministic, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data.timeseries import make_windows
from lstmkit.errors import ConfigError, ShapeError
from lstmkit.tasks.timeseries.baselines import ETS, DLinear, Naive, SeasonalNaive, baseline_table


def seasonal_series(n: int, season: int = 12, channels: int = 2, trend: float = 0.05) -> np.ndarray:
    t = np.arange(n, dtype=float)[:, None]
    phase = np.arange(channels)[None, :]
    return 10 + trend * t + np.sin(2 * np.pi * t / season + phase) + 0.5 * np.cos(4 * np.pi * t / season)


def test_naive_repeats_the_last_value():
    x = np.arange(24, dtype=float).reshape(2, 4, 3)
    pred = Naive().fit(None).predict(x, 5)
    assert pred.shape == (2, 5, 3) and np.array_equal(pred, np.repeat(x[:, -1:], 5, axis=1))


def test_seasonal_naive_is_exact_on_a_periodic_series():
    values = seasonal_series(200, season=12, trend=0.0)
    x, y = make_windows(values, 36, 30)
    pred = SeasonalNaive(12).predict(x, 30)
    assert pred.shape == y.shape and np.allclose(pred, y, atol=1e-12)
    with pytest.raises(ConfigError, match="fewer than season=12"):
        SeasonalNaive(12).predict(x[:, :6], 3)


def test_dlinear_learns_a_linear_seasonal_signal_almost_exactly():
    values = seasonal_series(600, season=12)
    context, horizon = 48, 12
    model = DLinear(context, horizon, kernel=5, learning_rate=1e-2, lr_decay=1.0, epochs=30, patience=30, seed=1)
    model.fit(values[:400], values[400 - context : 500])
    x, y = make_windows(values[500 - context :], context, horizon)
    pred = model.predict(x, horizon)
    assert pred.shape == y.shape
    assert np.mean((pred - y) ** 2) < 1e-3 * np.var(y)
    assert model.history_[-1]["valid_mse"] < model.history_[0]["valid_mse"]
    again = DLinear(context, horizon, kernel=5, lr=1e-2, lr_decay=1.0, epochs=30, patience=30, seed=1)  # old name
    again.fit(values[:400], values[400 - context : 500])
    assert np.array_equal(again.predict(x, horizon), pred)  # seeded: the same model (lr= is learning_rate=)


def test_dlinear_checks_horizon_and_shapes():
    values = seasonal_series(120, channels=1)
    model = DLinear(24, 6, kernel=3, epochs=1).fit(values)
    x, _ = make_windows(values, 24, 6)
    with pytest.raises(ConfigError, match="trained for horizon 6; found horizon=7"):
        model.predict(x, 7)
    with pytest.raises(ShapeError, match=r"expected contexts \(N, 24, 1\)"):
        model.predict(x[:, :20], 6)
    with pytest.raises(ConfigError, match="kernel must be odd"):
        DLinear(24, 6, kernel=4)


def test_dlinear_learning_rate_with_lr_as_its_old_name():
    assert DLinear(24, 6).learning_rate == 5e-3 and DLinear(24, 6, learning_rate=1e-2).learning_rate == 1e-2
    old = DLinear(24, 6, lr=1e-2)  # the old spelling: the same setting, also as an attribute
    assert old.learning_rate == old.lr == 1e-2 and "lr" not in vars(old)
    old.lr = 2e-2
    assert old.learning_rate == 2e-2
    with pytest.raises(ConfigError, match=r"^DLinear: learning_rate given twice \(as learning_rate= and as its old "
                                          r"name lr=\); give learning_rate= only$") as e:
        DLinear(24, 6, learning_rate=1e-2, lr=1e-2)
    assert "\n" not in str(e.value)
    for kwargs in ({"lr": 0.0}, {"learning_rate": -1.0}):
        with pytest.raises(ConfigError, match="learning_rate must be a positive number"):
            DLinear(24, 6, **kwargs)


def test_ets_forecasts_a_seasonal_series_and_is_univariate_only():
    values = seasonal_series(72, channels=1, trend=0.1)
    x, y = values[None, :60], values[None, 60:]
    pred = ETS(12, trend="add", seasonal="add").fit(values[:60]).predict(x, 12)
    assert pred.shape == (1, 12, 1) and np.mean(np.abs(pred - y)) < 0.05
    with pytest.raises(ConfigError, match="ETS is univariate: the training series has 2 columns"):
        ETS(12).fit(seasonal_series(50))
    with pytest.raises(ConfigError, match="needs a context of at least 24 steps"):
        ETS(12).predict(x[:, :20], 3)


def test_baseline_table_rows():
    values = seasonal_series(300, channels=1)
    context, horizon, season = 36, 6, 12
    test_x, test_y = make_windows(values[240 - context :], context, horizon, stride=6)
    rows = baseline_table(values[:200], values[200 - context : 240], test_x, test_y, horizon, season, values[:200])
    assert [r["model"] for r in rows] == ["naive", "seasonal naive", "DLinear", "ETS"]
    for r in rows:
        assert set(r) == {"model", "mse", "mae", "smape", "mase", "seconds"} and np.isfinite(r["mse"])
    by = {r["model"]: r for r in rows}
    assert by["seasonal naive"]["mse"] < by["naive"]["mse"]
    multi = baseline_table(seasonal_series(300)[:200], None, np.repeat(test_x, 2, axis=2),
                           np.repeat(test_y, 2, axis=2), horizon, season, seasonal_series(300)[:200], dlinear=False)
    assert [r["model"] for r in multi] == ["naive", "seasonal naive"]  # no ETS for 2 columns


def test_baseline_table_scores_ets_on_evenly_spaced_windows_when_there_are_many():
    values = seasonal_series(80, channels=1)
    test_x, test_y = make_windows(values, 20, 4)  # 57 windows
    rows = baseline_table(values[:40], None, test_x, test_y, 4, 1, values[:40], dlinear=False, ets_max_windows=3)
    assert [r["model"] for r in rows] == ["naive", "ETS (3 of 57 windows)"]
    assert baseline_table(values[:40], None, test_x[:2], test_y[:2], 4, 1, values[:40], ets=False, dlinear=False)[-1]["model"] == "naive"


def test_dlinear_trains_through_the_engine_with_step_decay_and_early_stopping():
    from lstmkit.train import TrainResult

    values = seasonal_series(300, channels=1)
    model = DLinear(24, 6, kernel=3, learning_rate=1e-2, lr_decay=0.5, epochs=3, seed=0).fit(values[:200], values[176:])
    r = model.train_result_
    assert isinstance(r, TrainResult) and r.stop_reason == "epochs"
    assert [e["lr"] for e in r.history] == pytest.approx([1e-2, 5e-3, 2.5e-3], rel=1e-12)  # halved after each epoch
    assert [h["valid_mse"] for h in model.history_] == [e["valid_mse"] for e in r.history]
    assert [h["train_mse"] for h in model.history_] == [e["loss"] for e in r.history]
    best = min(range(3), key=lambda i: model.history_[i]["valid_mse"])
    assert r.best_epoch == best + 1
    no_valid = DLinear(24, 6, kernel=3, epochs=2, seed=0).fit(values[:200])
    assert no_valid.train_result_.best_epoch is None and [h["epoch"] for h in no_valid.history_] == [1, 2]
    assert "valid_mse" not in no_valid.history_[0]
