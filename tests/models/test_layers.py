"""Layers: Keras parameter counts and initialisers, masking semantics, recurrent options, config round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, Input, SimpleRNN
from lstmkit.layers.base import layer_from_config, layer_to_config
from lstmkit.models import Sequential


def test_keras_parameter_counts():
    assert Sequential([Input((10, 128)), LSTM(64)]).count_params() == 49_408
    assert Sequential([Input((10, 128)), GRU(64)]).count_params() == 37_248  # reset_after=True
    assert Sequential([Input((10, 128)), SimpleRNN(64)]).count_params() == 12_352
    assert Sequential([Input((10, 128)), Bidirectional(LSTM(64))]).count_params() == 2 * 49_408
    assert Sequential([Input((64,)), Dense(2)]).count_params() == 130


def test_keras_initialisers():
    emb = Embedding(1000, 32)
    assert emb.embeddings.abs().max() <= 0.05
    dense = Sequential([Input((64,)), Dense(2)]).layers[0]
    limit = (6 / (64 + 2)) ** 0.5
    assert dense.kernel.shape == (64, 2) and dense.kernel.abs().max() <= limit
    assert torch.count_nonzero(dense.bias) == 0
    lstm = Sequential([Input((5, 8)), LSTM(4)]).layers[0]
    bias = lstm.cell.bias_ih_l0.detach()
    assert torch.all(bias[4:8] == 1.0) and torch.count_nonzero(bias[:4]) == 0  # unit_forget_bias, gates i,f,g,o
    lstm0 = Sequential([Input((5, 8)), LSTM(4, unit_forget_bias=False)]).layers[0]
    assert torch.count_nonzero(lstm0.cell.bias_ih_l0) == 0


def test_output_shapes_and_summary_shapes():
    m = Sequential([
        Embedding(100, 8),
        LSTM(6, return_sequences=True),
        Bidirectional(GRU(5, return_sequences=True)),
        SimpleRNN(4),
        Dropout(0.5),
        Dense(3, activation="softmax"),
    ])
    assert m.output_shape == (None, 3)
    assert [r[1] for r in m.summary_rows()] == [
        "(None, None, 8)", "(None, None, 6)", "(None, None, 10)", "(None, 4)", "(None, 4)", "(None, 3)",
    ]
    assert m(torch.randint(0, 100, (2, 9))).shape == (2, 3)


def test_shapes_inferred_at_first_call():
    m = Sequential([LSTM(4), Dense(2)])
    assert m.output_shape is None
    assert "0 (unbuilt)" in str(m.summary(print_fn=lambda s: None))
    out = m(torch.randn(3, 7, 5))
    assert out.shape == (3, 2) and m.output_shape == (None, 2)
    assert m(torch.randn(3, 11, 5)).shape == (3, 2)  # the time axis stays free
    assert m.count_params() == 4 * 4 * (5 + 4) + 16 + 4 * 2 + 2


def _mask_model(layer):
    m = Sequential([Embedding(20, 6, mask_zero=True), layer])
    m.eval()
    return m


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_masked_steps_leave_state_unchanged(cls):
    m = _mask_model(cls(5))
    seq = torch.tensor([[3, 7, 1, 9]])
    pre = torch.tensor([[0, 0, 0, 3, 7, 1, 9]])
    post = torch.tensor([[3, 7, 1, 9, 0, 0, 0]])
    holes = torch.tensor([[3, 0, 7, 0, 1, 9, 0]])
    want = m(seq)
    for x in (pre, post, holes):
        torch.testing.assert_close(m(x), want)


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN])
def test_masked_batch_matches_packed_path_in_values_and_gradients(cls):
    # Without return_state the layer runs the kernel unpacked over the compacted steps; with it, the
    # packed nn path. Both must agree on a batch that mixes lengths, including an all-padding row.
    x = torch.randn(4, 7, 3)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 1], [1, 0, 0, 0, 0, 0, 0], [0] * 7]).bool()
    layer = cls(5)
    layer(x)
    stateful = cls.from_config({**layer.get_config(), "return_state": True})
    stateful(x)
    stateful.load_state_dict(layer.state_dict())
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    fast, packed = layer(xa, mask), stateful(xb, mask)[0]
    torch.testing.assert_close(fast, packed, atol=1e-6, rtol=1e-5)
    fast.square().sum().backward()
    packed.square().sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-6, rtol=1e-5)
    assert torch.all(fast[3] == 0)


def test_all_padding_row_gives_zeros():
    m = _mask_model(LSTM(5))
    out = m(torch.tensor([[0, 0, 0], [1, 2, 3]]))
    assert torch.all(out[0] == 0) and torch.any(out[1] != 0)


def test_return_sequences_with_mask_puts_outputs_back():
    m = _mask_model(LSTM(5, return_sequences=True))
    seq = m(torch.tensor([[3, 7, 1]]))
    pre = m(torch.tensor([[0, 0, 3, 7, 1]]))
    assert torch.all(pre[0, :2] == 0)
    torch.testing.assert_close(pre[:, 2:], seq)
    holes = m(torch.tensor([[3, 0, 7, 1]]))
    assert torch.all(holes[0, 1] == 0)
    torch.testing.assert_close(holes[:, [0, 2, 3]], seq)


def test_go_backwards_reads_reversed_sequence():
    torch.manual_seed(1)
    fwd = LSTM(4)
    bwd = LSTM.from_config({**fwd.get_config(), "go_backwards": True})
    x = torch.randn(2, 6, 3)
    fwd(x)
    bwd(x)
    bwd.load_state_dict(fwd.state_dict())
    torch.testing.assert_close(bwd(x), fwd(x.flip(1)))


def test_go_backwards_with_mask_reverses_real_steps_only():
    m = _mask_model(LSTM(5, go_backwards=True))
    torch.testing.assert_close(m(torch.tensor([[0, 0, 3, 7, 1]])), m(torch.tensor([[3, 7, 1]])))
    torch.testing.assert_close(m(torch.tensor([[3, 7, 1, 0, 0]])), m(torch.tensor([[3, 7, 1]])))


def test_bidirectional_matches_two_layers_and_ignores_padding():
    m = _mask_model(Bidirectional(LSTM(4)))
    bi = m.layers[1]
    x = torch.tensor([[3, 7, 1, 9]])
    emb = m.layers[0](x)
    want = torch.cat([bi.forward_layer(emb), bi.backward_layer(emb)], dim=-1)
    torch.testing.assert_close(m(x), want)
    torch.testing.assert_close(m(torch.tensor([[0, 0, 3, 7, 1, 9]])), want)
    assert bi.forward_layer.name == "forward_lstm" and bi.backward_layer.name == "backward_lstm"


def test_bidirectional_sequences_are_aligned():
    layer = Bidirectional(LSTM(3, return_sequences=True), merge_mode="concat")
    x = torch.randn(2, 5, 4)
    y = layer(x)
    back = layer.backward_layer(x)  # reversed time order
    torch.testing.assert_close(y[..., 3:], back.flip(1))


def test_return_state_and_initial_state():
    layer = LSTM(4, return_state=True)
    x = torch.randn(2, 5, 3)
    out, h, c = layer(x)
    torch.testing.assert_close(out, h)
    assert c.shape == (2, 4)
    out2, _, _ = layer(x, initial_state=[h, c])
    assert not torch.allclose(out2, out)
    g_out, g_h = GRU(4, return_state=True)(x)
    torch.testing.assert_close(g_out, g_h)


def test_dropout_only_in_training():
    layer = Dropout(0.5)
    x = torch.ones(100, 10)
    layer.train()
    y = layer(x)
    assert torch.any(y == 0) and torch.allclose(y[y != 0], torch.tensor(2.0))
    layer.eval()
    assert torch.equal(layer(x), x)


def test_lstm_input_dropout_and_recurrent_dropout_train():
    m = Sequential([Input((6, 3)), LSTM(4, dropout=0.3, recurrent_dropout=0.3), Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    h = m.fit(np.random.rand(16, 6, 3), np.random.rand(16), epochs=2, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    m.eval()
    x = torch.rand(2, 6, 3)
    torch.testing.assert_close(m(x), m(x))  # deterministic at inference


def test_dense_on_sequences():
    d = Dense(3, activation="relu")
    assert d(torch.randn(2, 5, 4)).shape == (2, 5, 3)


@pytest.mark.parametrize(
    "layer",
    [
        Embedding(10, 3, input_length=4, mask_zero=True),
        LSTM(3, return_sequences=True, go_backwards=True, dropout=0.1, unit_forget_bias=False),
        GRU(2, return_state=True),
        SimpleRNN(2, use_bias=False),
        Dense(4, activation="sigmoid", kernel_initializer="he_normal"),
        Dropout(0.25),
        Bidirectional(LSTM(2), merge_mode="ave"),
    ],
    ids=lambda l: type(l).__name__,
)
def test_get_config_round_trip(layer):
    again = layer_from_config(layer_to_config(layer))
    assert type(again) is type(layer)
    assert again.get_config() == layer.get_config()
