"""The forecasting network: shapes, outputs, losses, and stepping that equals the full-window output."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.tasks.timeseries.network import LSTMForecastNetwork


def _net(**kw):
    args = dict(n_targets=2, horizon=7, segment=4, hidden_size=8)
    args.update(kw)
    return LSTMForecastNetwork(**args).eval()


@pytest.mark.parametrize("head", ["direct", "autoregressive"])
@pytest.mark.parametrize("output,params", [("point", 1), ("quantile", 3), ("gaussian", 2)])
def test_output_shapes(head, output, params):
    net = _net(head=head, output=output)
    x = torch.randn(5, 12, 2)
    out = net(x)
    assert out.shape == (5, 7, 2, params)
    assert net.point(out).shape == (5, 7, 2)
    # Any multiple of the segment length is accepted; the head does not depend on T.
    assert net(torch.randn(3, 20, 2)).shape == (3, 7, 2, params)


def test_covariates_shape_and_checks():
    net = _net(n_covariates=3)
    assert net(torch.randn(4, 8, 2), torch.randn(4, 8, 3)).shape == (4, 7, 2, 1)
    with pytest.raises(ShapeError, match="covariates"):
        net(torch.randn(4, 8, 2))
    with pytest.raises(ShapeError, match="multiple of segment=4"):
        net(torch.randn(4, 10, 2), torch.randn(4, 10, 3))
    with pytest.raises(ConfigError, match="autoregressive"):
        _net(n_covariates=1, head="autoregressive")


def test_intervals_are_ordered_and_losses_finite():
    torch.manual_seed(1)
    x, y = torch.randn(6, 12, 2), torch.randn(6, 7, 2)
    q = _net(output="quantile", quantiles=(0.1, 0.5, 0.9))
    out = q(x)
    assert (out[..., 1:] >= out[..., :-1]).all()
    lo, hi = q.interval(out, 0.8)
    assert (lo <= q.point(out)).all() and (q.point(out) <= hi).all()
    g = _net(output="gaussian")
    out = g(x)
    assert (out[..., 1] > 0).all()
    lo, hi = g.interval(out, 0.8)
    assert (lo < hi).all()
    for net in (q, g, _net(point_loss="mae")):
        assert torch.isfinite(net.loss(net(x), y))


def test_pinball_loss_by_hand():
    net = _net(n_targets=1, horizon=1, segment=1, output="quantile", quantiles=(0.25, 0.75))
    out = torch.tensor([[[[1.0, 3.0]]]])  # (N=1, H=1, C=1, P=2)
    y = torch.tensor([[[2.0]]])
    # e = y - q: 1 for q=0.25 -> 0.25 * 1; -1 for q=0.75 -> (0.75 - 1) * -1 = 0.25
    assert net.loss(out, y).item() == pytest.approx(0.25)


def test_instance_norm_makes_forecast_shift_equivariant():
    net = _net(instance_norm="mean")
    x = torch.randn(3, 12, 2)
    torch.testing.assert_close(net(x + 5.0), net(x) + 5.0, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize(
    "kw",
    [
        dict(segment=1),
        dict(segment=4),
        dict(segment=4, n_covariates=2, instance_norm="last"),
        dict(segment=3, head="autoregressive", output="quantile", num_layers=2),
    ],
    ids=["segment1", "segment4", "covariates", "autoregressive"],
)
def test_stepping_equals_full_window(kw):
    torch.manual_seed(0)
    net = _net(**kw)
    S, K = net.segment, net.n_covariates
    total, prime = 12 + 11, 12
    x = torch.randn(total, 2).cumsum(0)
    cov = torch.randn(total, K) if K else None
    with torch.no_grad():
        state = net.prime(x[:prime], cov[:prime] if K else None)
        stats = net.instance_stats(x[None, :prime], cov[None, :prime] if K else None)
        for t in range(prime, total + 1):
            if t > prime:
                net.step(state, x[t - 1], cov[t - 1] if K else None)
            a = t % S
            full = net(x[None, a:t], cov[None, a:t] if K else None, stats=stats)
            torch.testing.assert_close(net.forecast_state(state), full, atol=1e-5, rtol=1e-5)
        assert state.seen == total
