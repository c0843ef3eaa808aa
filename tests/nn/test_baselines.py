"""SimpleRNN, GRU and TransformerEncoder: torch compatibility, lengths, causality."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.nn import GRU, SimpleRNN, TransformerEncoder


@pytest.mark.parametrize("cls,torch_cls,kw", [
    (SimpleRNN, torch.nn.RNN, {}),
    (SimpleRNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    (GRU, torch.nn.GRU, {}),
])  # fmt: skip
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_baseline_matches_torch(cls, torch_cls, kw, batch_first):
    ours = cls(3, 4, 2, batch_first=batch_first, bidirectional=True, **kw)
    theirs = torch_cls(3, 4, 2, batch_first=batch_first, bidirectional=True, **kw)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn((2, 5, 3) if batch_first else (5, 2, 3))
    h0 = torch.randn(4, 2, 4)
    (a, ha), (b, hb) = ours(x, h0), theirs(x, h0)
    assert torch.equal(a, b) and torch.equal(ha, hb)
    assert ours(x[0] if batch_first else x[:, 0])[0].shape == (5, 8)  # unbatched


@pytest.mark.parametrize("cls", [SimpleRNN, GRU])
def test_recurrent_baseline_lengths(cls):
    m = cls(3, 4, bidirectional=True, recurrent_bias=False)
    assert "bias_hh_l0" in dict(m.named_buffers())
    x = torch.randn(5, 3, 3)
    h0 = torch.randn(2, 3, 4)
    out, h = m(x, h0, lengths=[3, 0, 5])
    assert out.shape == (5, 3, 8)
    assert torch.equal(out[3:, 0], torch.zeros(2, 8)) and torch.equal(out[:, 1], torch.zeros(5, 8))
    assert torch.equal(h[:, 1], h0[:, 1])
    alone, h_alone = m(x[:3, :1], h0[:, :1])
    torch.testing.assert_close(out[:3, :1], alone, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(h[:, :1], h_alone, atol=1e-6, rtol=1e-6)


def test_baseline_errors():
    with pytest.raises(ConfigError, match="nonlinearity"):
        SimpleRNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ShapeError, match=r"GRU hx \(h_0\): expected shape \(1, 2, 3\)"):
        GRU(2, 3)(torch.randn(4, 2, 2), torch.zeros(1, 3, 3))


def test_simple_rnn_gradient_vanishes_faster_than_lstm():
    from lstmkit.nn import LSTM

    L = 60
    for cls, kw in ((SimpleRNN, {}), (LSTM, {"init": "keras"})):
        torch.manual_seed(0)
        m = cls(4, 16, **kw)
        x = torch.randn(L, 1, 4, requires_grad=True)
        out = m(x)[0]
        out[-1].sum().backward()
        g = x.grad.norm(dim=-1).squeeze(1)
        if cls is SimpleRNN:
            rnn_ratio = (g[0] / g[-1]).item()
        else:
            lstm_ratio = (g[0] / g[-1]).item()
    assert rnn_ratio < 1e-6 and lstm_ratio > 100 * rnn_ratio


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_shapes_and_causality(batch_first):
    m = TransformerEncoder(3, d_model=8, nhead=2, num_layers=2, batch_first=batch_first).eval()
    x = torch.randn((2, 6, 3) if batch_first else (6, 2, 3), requires_grad=True)
    out, state = m(x)
    assert state is None and out.shape == ((2, 6, 8) if batch_first else (6, 2, 8))
    t = 2
    step = out[:, t] if batch_first else out[t]
    (step * torch.randn_like(step)).sum().backward()  # not .sum(): a LayerNorm output sums to a constant
    grad = x.grad if not batch_first else x.grad.transpose(0, 1)
    assert grad[t + 1 :].abs().max() == 0 and grad[: t + 1].abs().sum(dim=(1, 2)).gt(0).all()
    # changing the future does not change the past
    y = x.detach().clone()
    (y[:, 4:] if batch_first else y[4:]).add_(1.0)
    past = slice(0, 4)
    a = out[:, past] if batch_first else out[past]
    b = m(y)[0][:, past] if batch_first else m(y)[0][past]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert m(x[0] if batch_first else x[:, 0])[0].shape == (6, 8)


def test_transformer_non_causal_sees_the_future():
    m = TransformerEncoder(3, d_model=8, nhead=2, causal=False).eval()
    x = torch.randn(6, 1, 3, requires_grad=True)
    first = m(x)[0][0]
    (first * torch.randn_like(first)).sum().backward()
    assert x.grad[5].abs().max() > 0


def test_transformer_lengths():
    m = TransformerEncoder(3, d_model=8, nhead=2, causal=False).eval()
    x = torch.randn(6, 3, 3)
    out, _ = m(x, lengths=[4, 0, 6])
    assert torch.equal(out[4:, 0], torch.zeros(2, 8)) and torch.equal(out[:, 1], torch.zeros(6, 8))
    assert torch.isfinite(out).all()
    # padded steps are masked out as keys: whatever sits there does not matter
    y = x.clone()
    y[4:, 0] = 100.0
    torch.testing.assert_close(m(y, lengths=[4, 0, 6])[0], out, atol=1e-5, rtol=1e-5)
    alone, _ = m(x[:4, :1])
    torch.testing.assert_close(out[:4, :1], alone, atol=1e-5, rtol=1e-5)


def test_transformer_errors():
    with pytest.raises(ConfigError, match="nhead: expected a divisor of d_model=8, found 3"):
        TransformerEncoder(3, d_model=8, nhead=3)
    m = TransformerEncoder(3, d_model=8, nhead=2, max_len=4)
    with pytest.raises(ShapeError, match="max_len=4"):
        m(torch.randn(5, 1, 3))
    with pytest.raises(ConfigError, match="hx"):
        m(torch.randn(2, 1, 3), torch.zeros(1))


@pytest.mark.parametrize("cls,gates", [(SimpleRNN, 1), (GRU, 3)])
def test_keras_init_on_baselines(cls, gates):
    m = cls(5, 4, init="keras")
    assert torch.count_nonzero(m.bias_ih_l0) == 0 and torch.count_nonzero(m.bias_hh_l0) == 0
    bound = (6.0 / (5 + gates * 4)) ** 0.5  # glorot over the whole (gates*H, H_in) kernel, as Keras
    assert m.weight_ih_l0.abs().max() <= bound
    w = m.weight_hh_l0  # (gates*H, H): orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(4), atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="init"):
        cls(5, 4, init="xavier")
