"""The one-step kernels (lstmkit.nn.step) equal the reference step and torch's layers to 1e-5 (float32),
on the NumPy path (small batches) and the torch element-wise path (large batches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit import nn as lnn
from lstmkit.nn.reference import lstm_step
from lstmkit.nn.step import TORCH_ELEMENTWISE_FROM, DenseStep, GRUStep, LSTMStep, RNNStep

BATCHES = [1, 2, 3, 5, TORCH_ELEMENTWISE_FROM, TORCH_ELEMENTWISE_FROM + 5]


@pytest.fixture(params=["native", "numpy-torch"])
def path(request, monkeypatch):
    """Each LSTM test runs with the compiled cell (lstmkit.nn.native) and without it."""
    import lstmkit.nn.step as step

    if request.param == "native":
        from lstmkit.nn.native import load

        if load() is None:
            pytest.skip("no C compiler here (or LSTMKIT_NATIVE=0): the compiled cell is not built")
    else:
        monkeypatch.setattr(step, "_native", lambda: None)
    return request.param


def _data(batch: int, i: int, h: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, i, generator=g), torch.randn(batch, h, generator=g) * 0.5,
            torch.randn(batch, h, generator=g))


@pytest.mark.parametrize("batch", BATCHES)
def test_lstm_step_equals_the_reference_step(batch: int, path: str) -> None:
    torch.manual_seed(1)
    layer = lnn.LSTM(5, 7)
    with torch.no_grad():
        layer.bias_hh_l0.normal_()
    x, h, c = _data(batch, 5, 7)
    w = layer.direction_weights(0)
    ref = lstm_step(x, h, c, w)
    k = LSTMStep(w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
    h_new, c_new, gates = k(x.numpy(), h.numpy(), c.numpy(), trace=True)
    np.testing.assert_allclose(h_new, ref.hidden_state.detach().numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(c_new, ref.cell_state.detach().numpy(), atol=1e-5, rtol=0)
    for name in ("input_gate", "forget_gate", "candidate", "output_gate"):
        np.testing.assert_allclose(gates[name], getattr(ref, name).detach().numpy(), atol=1e-5, rtol=0)
    # the same call without the trace, and a second step from the new state (buffers reused)
    h2, c2 = k(x.numpy(), h_new, c_new)
    ref2 = lstm_step(x, ref.hidden_state, ref.cell_state, w)
    np.testing.assert_allclose(h2, ref2.hidden_state.detach().numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(c2, ref2.cell_state.detach().numpy(), atol=1e-5, rtol=0)
    # written into strided slices of a larger state matrix, as the stream engine does
    state = np.zeros((batch, 20), np.float32)
    k(x.numpy(), h.numpy(), c.numpy(), out=(state[:, 2:9], state[:, 11:18]))
    np.testing.assert_allclose(state[:, 2:9], ref.hidden_state.detach().numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(state[:, 11:18], ref.cell_state.detach().numpy(), atol=1e-5, rtol=0)


def test_the_compiled_cell_saturates_without_overflow(path: str) -> None:
    """Pre-activations far outside the usual range: sigmoid/tanh reach 0 and 1, never NaN."""
    weights = np.zeros((16, 2), np.float32), np.zeros((16, 4), np.float32)
    bias = np.array([200, -200, 90, -90] * 4, np.float32)
    k = LSTMStep(*weights, bias, None)
    x = np.zeros((8, 2), np.float32)
    h_new, c_new = k(x, np.zeros((8, 4), np.float32), np.full((8, 4), 50.0, np.float32))
    ref = lstm_step(torch.from_numpy(x), torch.zeros(8, 4), torch.full((8, 4), 50.0),
                    type(lnn.LSTM(2, 4).direction_weights(0))(torch.from_numpy(weights[0]),
                                                              torch.from_numpy(weights[1]), torch.from_numpy(bias),
                                                              torch.zeros(16)))
    assert np.isfinite(h_new).all() and np.isfinite(c_new).all()
    np.testing.assert_allclose(c_new, ref.cell_state.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(h_new, ref.hidden_state.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("batch", BATCHES)
def test_gru_step_equals_torch_gru(batch: int) -> None:
    torch.manual_seed(2)
    gru = torch.nn.GRU(4, 6, batch_first=True)
    x, h, _ = _data(batch, 4, 6)
    with torch.no_grad():
        out, hn = gru(x.unsqueeze(1), h.unsqueeze(0))
    k = GRUStep(gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    got, gates = k(x.numpy(), h.numpy(), trace=True)
    np.testing.assert_allclose(got, hn[0].numpy(), atol=1e-5, rtol=0)
    assert set(gates) == {"reset_gate", "update_gate", "candidate"}


@pytest.mark.parametrize("batch", BATCHES)
def test_rnn_step_equals_torch_rnn(batch: int) -> None:
    torch.manual_seed(3)
    rnn = torch.nn.RNN(4, 6, batch_first=True)
    x, h, _ = _data(batch, 4, 6)
    with torch.no_grad():
        _, hn = rnn(x.unsqueeze(1), h.unsqueeze(0))
    k = RNNStep(rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    np.testing.assert_allclose(k(x.numpy(), h.numpy()), hn[0].numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "softmax", "gelu", "softplus"])
def test_dense_step_equals_the_layer(activation: str) -> None:
    from lstmkit.layers import Dense

    torch.manual_seed(4)
    layer = Dense(5, activation=activation)
    x = torch.randn(9, 3)
    with torch.no_grad():
        want = layer(x).numpy()
    k = DenseStep(layer.kernel, layer.bias, activation, layer._activation_fn)
    np.testing.assert_allclose(k(x.numpy()), want, atol=1e-5, rtol=0)


def test_lstm_step_rejects_mismatched_weights() -> None:
    from lstmkit.errors import ConfigError

    with pytest.raises(ConfigError, match="weight_hh must be"):
        LSTMStep(np.zeros((8, 3), np.float32), np.zeros((8, 3), np.float32))


def test_loading_the_compiled_cell_leaves_the_process_float_mode_alone(path: str) -> None:
    """No flush-to-zero: subnormal numbers still exist after the native library is loaded and run."""
    k = LSTMStep(np.ones((8, 2), np.float32), np.ones((8, 2), np.float32))
    k(np.ones((5, 2), np.float32), np.zeros((5, 2), np.float32), np.zeros((5, 2), np.float32))
    tiny = np.float32(1e-40)   # a float32 subnormal
    assert tiny != 0 and tiny * np.float32(1.0) != 0 and float(torch.tensor(1e-40) * 1.0) != 0
