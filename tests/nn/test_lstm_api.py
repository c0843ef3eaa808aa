"""LSTM contract: shapes, lengths semantics, gate trace, init schemes, dispatch and error messages."""

from __future__ import annotations

import math

import pytest
import torch

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn import LSTM, GateTrace, reverse_padded
from lstmkit.nn.trace import GATE_NAMES

TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional,proj_size", [(False, 0), (True, 0), (True, 2)])
def test_shapes(batch_first, bidirectional, proj_size):
    D, H_out = (2 if bidirectional else 1), (proj_size or 5)
    m = LSTM(3, 5, 2, batch_first=batch_first, bidirectional=bidirectional, proj_size=proj_size)
    x = torch.randn((4, 6, 3) if batch_first else (6, 4, 3))
    for fn in (m, m.reference_forward):
        out, (h, c) = fn(x)
        assert out.shape == ((4, 6, D * H_out) if batch_first else (6, 4, D * H_out))
        assert h.shape == (2 * D, 4, H_out) and c.shape == (2 * D, 4, 5)


def test_keras_parameter_count_single_bias():
    m = LSTM(128, 64, recurrent_bias=False)
    assert sum(p.numel() for p in m.parameters() if p.requires_grad) == 49_408
    assert "bias_hh_l0" in dict(m.named_buffers()) and "bias_hh_l0" not in dict(m.named_parameters())
    assert torch.equal(m.bias_hh_l0, torch.zeros(256))
    assert sum(p.numel() for p in LSTM(128, 64).parameters()) == 49_664  # torch's count, two biases


@pytest.mark.parametrize("init", ["torch", "keras"])
def test_init_and_forget_bias(init):
    H = 6
    m = LSTM(4, H, init=init, forget_bias=2.5)
    assert torch.all(m.bias_ih_l0[H : 2 * H] == 2.5) and torch.all(m.bias_hh_l0[H : 2 * H] == 0)
    if init == "keras":
        assert torch.all(m.bias_ih_l0[:H] == 0) and torch.all(m.bias_ih_l0[2 * H :] == 0)
        w_hh = m.weight_hh_l0  # (4H, H): orthonormal columns
        torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(H), atol=1e-5, rtol=0)
        bound = math.sqrt(6 / (4 + H))
        assert m.weight_ih_l0.abs().max() <= bound
    else:
        bound = 1 / math.sqrt(H)
        assert m.weight_ih_l0.abs().max() <= bound and m.weight_ih_l0.abs().max() > bound / 2
    keep = LSTM(4, H, forget_bias=None)
    assert keep.bias_ih_l0[H : 2 * H].abs().max() <= 1 / math.sqrt(H)


@pytest.mark.parametrize("recurrent_bias", [True, False])
def test_chrono_init_spreads_the_forget_time_constants(recurrent_bias):
    H, T_max = 64, 200
    m = LSTM(3, H, num_layers=2, bidirectional=True, recurrent_bias=recurrent_bias)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    assert m.chrono_init_(T_max, torch.Generator().manual_seed(0)) is m
    for name in ("_l0", "_l1", "_l0_reverse", "_l1_reverse"):
        b_ih, b_hh = getattr(m, "bias_ih" + name), getattr(m, "bias_hh" + name)
        b_f = b_ih[H : 2 * H] + b_hh[H : 2 * H]
        # forget-gate time constants 1 / (1 - sigmoid(b_f)) = 1 + e^{b_f} lie in [2, T_max]
        timescales = 1 + torch.exp(b_f)
        assert timescales.min() >= 2 - 1e-4 and timescales.max() <= T_max + 1e-3
        assert timescales.max() > T_max / 4  # spread out, not all at one value
        torch.testing.assert_close(b_ih[:H] + b_hh[:H], -b_f)  # input bias = -forget bias
        torch.testing.assert_close(b_ih[2 * H :], before["bias_ih" + name][2 * H :])  # g, o untouched
        if recurrent_bias:
            assert torch.all(b_hh[: 2 * H] == 0)
    for n, p in m.named_parameters():
        if n.startswith("weight"):
            assert torch.equal(p, before[n])
    again = LSTM(3, H, num_layers=2, bidirectional=True, recurrent_bias=recurrent_bias)
    again.chrono_init_(T_max, torch.Generator().manual_seed(0))
    assert torch.equal(again.bias_ih_l1_reverse[: 2 * H], m.bias_ih_l1_reverse[: 2 * H])  # seeded


def test_chrono_init_rejects_bad_arguments():
    for bad in (2, 0, 2.5, True, "200"):
        with pytest.raises(ConfigError, match="max_timescale: expected an integer >= 3"):
            LSTM(2, 4).chrono_init_(bad)
    with pytest.raises(ConfigError, match="no biases"):
        LSTM(2, 4, bias=False).chrono_init_(10)


def test_fast_path_conditions():
    assert LSTM(2, 3).uses_fast_path
    assert not LSTM(2, 3, peephole=True).uses_fast_path
    assert not LSTM(2, 3, layer_norm=True).uses_fast_path
    m = LSTM(2, 3, recurrent_dropout=0.3)
    assert not m.uses_fast_path and m.eval().uses_fast_path
    with pytest.raises(ConfigError, match="fast_forward"):
        LSTM(2, 3, peephole=True).fast_forward(torch.randn(2, 1, 2))


def test_fast_path_is_taken(monkeypatch):
    m = LSTM(2, 3)
    calls = []
    monkeypatch.setattr(m, "reference_forward", lambda *a, **k: calls.append(1))
    m(torch.randn(3, 1, 2))
    assert calls == []
    m(torch.randn(3, 1, 2), return_gates=True)
    assert calls == [1]


def test_lengths_semantics_against_per_row_runs():
    m = LSTM(3, 4, bidirectional=True)
    x = torch.randn(5, 3, 3)
    lengths = torch.tensor([2, 5, 0])
    h0, c0 = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    for fn in (m, m.reference_forward):
        out, (h, c) = fn(x, (h0, c0), lengths=lengths)
        for n, k in enumerate(lengths.tolist()):
            if k == 0:
                assert torch.equal(h[:, n], h0[:, n]) and torch.equal(out[:, n], torch.zeros(5, 8))
                continue
            alone, (ha, ca) = m(x[:k, n : n + 1], (h0[:, n : n + 1], c0[:, n : n + 1]))
            torch.testing.assert_close(out[:k, n], alone[:, 0], **TOL)
            torch.testing.assert_close(h[:, n], ha[:, 0], **TOL)
            torch.testing.assert_close(c[:, n], ca[:, 0], **TOL)
            assert torch.equal(out[k:, n], torch.zeros(5 - k, 8))


def test_lengths_accepts_lists_and_validates():
    m = LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    m(x, lengths=[1, 5])
    with pytest.raises(ShapeError, match=r"LSTM lengths: expected shape \(2,\)"):
        m(x, lengths=[1, 2, 3])
    with pytest.raises(InputValueError, match=r"expected values in \[0, 5\].*found 6"):
        m(x, lengths=[6, 1])
    with pytest.raises(InputValueError, match=r"found -1"):
        m(x, lengths=[-1, 1])
    with pytest.raises(InputValueError, match="integer dtype"):
        m(x, lengths=torch.tensor([1.0, 2.0]))


def test_input_and_state_errors_are_one_line():
    m = LSTM(8, 4)
    cases = [
        (lambda: m(torch.randn(5, 2, 7)), ShapeError, r"LSTM input: expected 3-D \(L, N, H_in=8\).*found shape \(5, 2, 7\)"),
        (lambda: m(torch.randn(5)), ShapeError, r"found shape \(5,\)"),
        (lambda: m(torch.randn(5, 2, 8, dtype=torch.float64)), InputValueError, "dtype"),
        (lambda: m(torch.randn(5, 2, 8), (torch.zeros(1, 3, 4), torch.zeros(1, 2, 4))), ShapeError, r"hx\[0\] \(h_0\): expected shape \(1, 2, 4\)"),
        (lambda: m(torch.randn(5, 2, 8), torch.zeros(1, 2, 4)), ShapeError, "pair"),
        (lambda: LSTM(0, 4), ConfigError, "input_size: expected a positive int, found 0"),
        (lambda: LSTM(2, 4, proj_size=4), ConfigError, "proj_size"),
        (lambda: LSTM(2, 4, dropout=1.5), ConfigError, "dropout"),
        (lambda: LSTM(2, 4, init="xavier"), ConfigError, "init"),
        (lambda: LSTM(2, 4, recurrent_dropout=-0.1), ConfigError, "recurrent_dropout"),
    ]
    for fn, err, pattern in cases:
        with pytest.raises(err, match=pattern) as info:
            fn()
        assert "\n" not in str(info.value)
        assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("batch_first", [False, True])
def test_gate_trace(batch_first):
    m = LSTM(3, 4, 2, batch_first=batch_first, bidirectional=True, proj_size=2)
    x = torch.randn((3, 5, 3) if batch_first else (5, 3, 3))
    lengths = [5, 2, 0]
    out, (h, c), gates = m(x, lengths=lengths, return_gates=True)
    ref_out, _ = m.fast_forward(x, lengths=lengths)
    torch.testing.assert_close(out, ref_out, **TOL)
    assert isinstance(gates, GateTrace) and gates.num_layers == 2 and gates.num_directions == 2
    layout = (3, 5, 4) if batch_first else (5, 3, 4)
    for layer in range(2):
        for d, seq in enumerate(gates[layer]):
            assert seq is gates.layer(layer, reverse=bool(d))
            for name in GATE_NAMES:
                g = getattr(seq, name)
                assert g.shape == (layout[:2] + (2,) if name == "hidden_state" else layout)
            # gates are zero at padded steps
            pad = seq.forget_gate[1, 2:] if batch_first else seq.forget_gate[2:, 1]
            assert torch.equal(pad, torch.zeros_like(pad))
    # the last layer's traced hidden states are the output halves
    fwd, bwd = gates.layer(1).hidden_state, gates.layer(1, reverse=True).hidden_state
    torch.testing.assert_close(torch.cat([fwd, bwd], -1), out, atol=0, rtol=0)
    # forward direction: c_n of the last layer is the traced cell at each row's last real step
    last = gates.layer(1).cell_state
    torch.testing.assert_close(c[2, 0], last[0, 4] if batch_first else last[4, 0])
    torch.testing.assert_close(c[2, 1], last[1, 1] if batch_first else last[1, 1])
    # and the gate values follow the equations: c_t = f c_{t-1} + i g
    s = gates.layer(0)
    cs = s.cell_state if not batch_first else s.cell_state.transpose(0, 1)
    f, i, g = (t if not batch_first else t.transpose(0, 1) for t in (s.forget_gate, s.input_gate, s.candidate))
    torch.testing.assert_close(cs[1, 0], f[1, 0] * cs[0, 0] + i[1, 0] * g[1, 0], **TOL)
    with pytest.raises(IndexError):
        LSTM(3, 4)(torch.randn(2, 1, 3), return_gates=True)[2].layer(0, reverse=True)


def test_gate_trace_unbatched():
    out, _, gates = LSTM(3, 4)(torch.randn(5, 3), return_gates=True)
    assert out.shape == (5, 4) and gates[0][0].output_gate.shape == (5, 4)


def test_reverse_padded():
    x = torch.arange(1.0, 6.0).view(5, 1).repeat(1, 3)  # (L=5, N=3)
    y = reverse_padded(x, [3, 5, 0])
    assert y[:, 0].tolist() == [3, 2, 1, 4, 5]
    assert y[:, 1].tolist() == [5, 4, 3, 2, 1]
    assert y[:, 2].tolist() == [1, 2, 3, 4, 5]
    z = torch.randn(3, 5, 2)  # batch-first with features
    assert torch.equal(reverse_padded(reverse_padded(z, [2, 5, 1], True), [2, 5, 1], True), z)
    assert torch.equal(reverse_padded(z, None, True), z.flip(1))
    assert torch.equal(reverse_padded(z, [2, 5, 1], batch_first=True)[0, :2], z[0, :2].flip(0))


def test_inter_layer_dropout_only_in_training():
    m = LSTM(3, 4, 2, dropout=0.5)
    x = torch.randn(4, 2, 3)
    m.eval()
    assert torch.equal(m(x)[0], m(x)[0])
    m.train()
    torch.manual_seed(1)
    a = m.reference_forward(x)[0]
    torch.manual_seed(2)
    b = m.reference_forward(x)[0]
    assert not torch.allclose(a, b)


def test_module_moves_and_keeps_fast_path_weights():
    m = LSTM(3, 4, recurrent_bias=False).double()
    assert m.bias_hh_l0.dtype == torch.float64
    out, _ = m(torch.randn(2, 1, 3, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_reference_loop_restores_thread_count_after_forward_and_backward():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        m = LSTM(3, 4)
        seen = []
        import lstmkit.nn.reference as reference

        original = reference.lstm_step

        def spy(*args):
            seen.append(torch.get_num_threads())
            return original(*args)

        reference.lstm_step = spy
        try:
            out, (h, c) = m.reference_forward(torch.randn(3, 2, 3))
        finally:
            reference.lstm_step = original
        assert seen == [1, 1, 1] and torch.get_num_threads() == 2
        out.sum().backward()
        assert torch.get_num_threads() == 2
        assert m.weight_hh_l0.grad is not None
    finally:
        torch.set_num_threads(before)


def test_torch_threads_sets_and_restores():
    from lstmkit.nn.threads import torch_threads

    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_time_or_batch_same_on_both_paths(batch_first):
    """Zero steps (fused kernels reject them) and an empty batch with ``lengths=[]``."""
    m = LSTM(3, 5, 2, batch_first=batch_first, bidirectional=True, proj_size=2)
    h0, c0 = torch.randn(4, 2, 2), torch.randn(4, 2, 5)
    x = torch.randn((2, 0, 3) if batch_first else (0, 2, 3))
    for fn in (m, m.reference_forward):
        out, (h, c) = fn(x, (h0, c0))
        assert out.shape == ((2, 0, 4) if batch_first else (0, 2, 4))
        torch.testing.assert_close(h, h0)
        torch.testing.assert_close(c, c0)
    empty = torch.randn((0, 4, 3) if batch_first else (4, 0, 3))
    for fn in (m, m.reference_forward):
        out, (h, c) = fn(empty, lengths=[])
        assert out.shape == ((0, 4, 4) if batch_first else (4, 0, 4))
        assert h.shape == (4, 0, 2) and c.shape == (4, 0, 5)
