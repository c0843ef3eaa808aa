"""Forecast metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmkit.errors import ShapeError
from lstmkit.tasks.timeseries.metrics import coverage, mae, mape, mase, mase_scale, metrics_row, mse, smape

Y = np.array([1.0, 2.0, 4.0, 0.0])
P = np.array([2.0, 2.0, 1.0, 0.0])


def test_mse_mae_by_hand():
    assert mse(Y, P) == pytest.approx((1 + 0 + 9 + 0) / 4)
    assert mae(Y, P) == pytest.approx((1 + 0 + 3 + 0) / 4)


def test_smape_is_the_m4_definition_with_zero_over_zero_as_zero():
    # 200|y-p|/(|y|+|p|): 200/3, 0, 600/5, 0/0 -> 0
    assert smape(Y, P) == pytest.approx((200 / 3 + 0 + 120 + 0) / 4)
    assert smape([1.0], [-1.0]) == pytest.approx(200.0)  # the top of the scale


def test_mape_by_hand_and_nan_with_zero_truth():
    assert mape([2.0, 4.0], [1.0, 5.0]) == pytest.approx((50 + 25) / 2)
    assert math.isnan(mape(Y, P))


def test_mase_divides_by_the_training_series_seasonal_error():
    train = np.array([[1.0, 10.0], [3.0, 10.0], [2.0, 14.0], [6.0, 10.0]])
    # season 1: mean |diff| = (2+1+4)/3 and (0+4+4)/3; season 2: (1+3)/2 and (4+0)/2
    assert np.allclose(mase_scale(train, 1), [7 / 3, 8 / 3])
    assert np.allclose(mase_scale(train, 2), [2.0, 2.0])
    y = np.zeros((2, 3, 2))
    p = np.ones((2, 3, 2))
    p[..., 1] = 2.0  # MAE 1 in column 0, 2 in column 1
    assert mase(y, p, train, season=1) == pytest.approx((1 / (7 / 3) + 2 / (8 / 3)) / 2)
    assert mase(y, p, train, season=2) == pytest.approx((1 / 2 + 2 / 2) / 2)
    # the scale comes from the training series, not from the targets
    assert mase(y, p, train * 2, season=2) == pytest.approx(mase(y, p, train, season=2) / 2)


def test_mase_univariate_training_series():
    assert mase([3.0, 5.0], [4.0, 4.0], np.array([0.0, 2.0, 4.0])) == pytest.approx(1 / 2)


def test_coverage_counts_truth_inside_the_interval():
    assert coverage([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 0.0], [2.0, 2.5, 4.0, 3.0]) == pytest.approx(0.5)


def test_metrics_row_and_shape_errors():
    row = metrics_row(Y[None, :, None], P[None, :, None], np.array([0.0, 1.0, 3.0]), season=1)
    assert set(row) == {"mse", "mae", "smape", "mase"} and row["mase"] == pytest.approx(1.0 / 1.5)
    with pytest.raises(ShapeError, match=r"y_true has shape \(4,\) but the forecast has shape \(3,\)"):
        mse(Y, P[:3])
    with pytest.raises(ShapeError, match="forecast has 2 columns"):
        mase(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((5, 3)))


def test_rmse_and_the_holdout_row():
    from lstmkit.tasks.timeseries.metrics import accuracy_row, rmse

    y, p = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert rmse(y, p) == pytest.approx(np.sqrt(5 / 3))
    insample = np.array([1.0, 3.0, 2.0, 4.0, 3.0, 5.0])
    row = accuracy_row(y, p, insample, season=2)
    assert set(row) == {"mae", "rmse", "mape", "smape", "mase"}
    assert row["mae"] == pytest.approx(1.0) and row["mape"] == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert row["mase"] == pytest.approx(1.0 / 1.0)  # |x[t] - x[t-2]| = 1 throughout
    short = accuracy_row(y, p, insample[:2], season=12)  # not longer than a season: MASE falls back to m = 1
    assert short["mase"] == pytest.approx(1.0 / 2.0)
