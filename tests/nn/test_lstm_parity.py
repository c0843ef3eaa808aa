"""Reference loop vs fused kernel vs torch.nn.LSTM: outputs, states and every gradient agree."""

from __future__ import annotations

import itertools

import pytest
import torch

from lstmkit.nn import LSTM

TOL = dict(atol=1e-5, rtol=1e-5)
L, N, H_IN, H, P = 5, 4, 3, 4, 2
MIXED_LENGTHS = [5, 0, 3, 1]  # a full row, an empty row, and two in between

GRID = list(
    itertools.product(
        [1, 2],  # num_layers
        [False, True],  # bidirectional
        [0, P],  # proj_size
        [False, True],  # batch_first
        [None, MIXED_LENGTHS],  # lengths
        [True, False],  # recurrent_bias
    )
)


def _grads(model: LSTM, path: str, x: torch.Tensor, h0, c0, lengths, weights):
    model.zero_grad()
    x = x.clone().requires_grad_(True)
    h0 = h0.clone().requires_grad_(True)
    c0 = c0.clone().requires_grad_(True)
    forward = model.fast_forward if path == "fast" else model.reference_forward
    out, (h_n, c_n) = forward(x, (h0, c0), lengths=lengths)
    loss = (out * weights[0]).sum() + (h_n * weights[1]).sum() + (c_n * weights[2]).sum()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    grads.update(input=x.grad, h0=h0.grad, c0=c0.grad)
    return out.detach(), h_n.detach(), c_n.detach(), grads


@pytest.mark.parametrize("num_layers,bidirectional,proj_size,batch_first,lengths,recurrent_bias", GRID)
def test_reference_matches_fused(num_layers, bidirectional, proj_size, batch_first, lengths, recurrent_bias):
    model = LSTM(
        H_IN, H, num_layers, batch_first=batch_first, bidirectional=bidirectional,
        proj_size=proj_size, recurrent_bias=recurrent_bias,
    )  # fmt: skip
    D = 2 if bidirectional else 1
    H_out = proj_size or H
    x = torch.randn((N, L, H_IN) if batch_first else (L, N, H_IN))
    h0 = torch.randn(num_layers * D, N, H_out)
    c0 = torch.randn(num_layers * D, N, H)
    weights = (
        torch.randn((N, L, D * H_out) if batch_first else (L, N, D * H_out)),
        torch.randn(num_layers * D, N, H_out),
        torch.randn(num_layers * D, N, H),
    )
    fast = _grads(model, "fast", x, h0, c0, lengths, weights)
    ref = _grads(model, "reference", x, h0, c0, lengths, weights)
    for a, b, name in zip(fast[:3], ref[:3], ("output", "h_n", "c_n")):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m: f"{name}: {m}")
    assert fast[3].keys() == ref[3].keys()
    for name in fast[3]:
        torch.testing.assert_close(fast[3][name], ref[3][name], **TOL, msg=lambda m: f"grad {name}: {m}")
    if lengths is not None:
        time_dim = 1 if batch_first else 0
        for row, n in enumerate(lengths):
            pad = ref[0].select(1 - time_dim, row).narrow(0, n, L - n)
            assert torch.equal(pad, torch.zeros_like(pad)), "padded outputs must be exactly zero"
            assert torch.equal(fast[0].select(1 - time_dim, row).narrow(0, n, L - n), torch.zeros_like(pad))
        # a length-0 row returns its initial state
        assert torch.equal(ref[1][:, 1], h0[:, 1]) and torch.equal(ref[2][:, 1], c0[:, 1])
        assert torch.equal(fast[1][:, 1], h0[:, 1]) and torch.equal(fast[2][:, 1], c0[:, 1])


@pytest.mark.parametrize("bidirectional,proj_size", [(False, 0), (True, P)])
def test_state_dict_round_trip_with_torch(bidirectional, proj_size):
    ours = LSTM(H_IN, H, 2, bidirectional=bidirectional, proj_size=proj_size)
    theirs = torch.nn.LSTM(H_IN, H, 2, bidirectional=bidirectional, proj_size=proj_size)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(L, N, H_IN)
    for a, b in zip(ours(x)[1], theirs(x)[1]):
        assert torch.equal(a, b)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=0, rtol=0)
    # and the other way round, onto different weights
    fresh = LSTM(H_IN, H, 2, bidirectional=bidirectional, proj_size=proj_size, init="keras")
    fresh.load_state_dict(theirs.state_dict(), strict=True)
    torch.testing.assert_close(fresh(x)[0], theirs(x)[0], atol=0, rtol=0)
    torch.testing.assert_close(fresh.reference_forward(x)[0], theirs(x)[0], **TOL)


def test_torch_state_dict_into_single_bias_model():
    theirs = torch.nn.LSTM(H_IN, H)
    ours = LSTM(H_IN, H, recurrent_bias=False)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # bias_hh lands in the (non-trainable) buffer
    x = torch.randn(L, N, H_IN)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=0, rtol=0)
    torch.testing.assert_close(ours.reference_forward(x)[0], theirs(x)[0], **TOL)
    torch.nn.LSTM(H_IN, H).load_state_dict(LSTM(H_IN, H, recurrent_bias=False).state_dict(), strict=True)


def test_parameter_and_gradient_order_matches_torch():
    ours = LSTM(H_IN, H, 2, bidirectional=True, proj_size=P)
    theirs = torch.nn.LSTM(H_IN, H, 2, bidirectional=True, proj_size=P)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]


def test_unbatched_input_matches_torch():
    ours = LSTM(H_IN, H, 2, bidirectional=True)
    theirs = torch.nn.LSTM(H_IN, H, 2, bidirectional=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(L, H_IN)
    h0, c0 = torch.randn(4, H), torch.randn(4, H)
    a, (ha, ca) = ours(x, (h0, c0))
    b, (hb, cb) = theirs(x, (h0, c0))
    assert a.shape == b.shape == (L, 2 * H) and ha.shape == (4, H)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    r, (hr, cr) = ours.reference_forward(x, (h0, c0))
    torch.testing.assert_close(r, b, **TOL)
    torch.testing.assert_close(cr, cb, **TOL)


def test_eval_dropout_and_float64_parity():
    model = LSTM(H_IN, H, 2, dropout=0.5, dtype=torch.float64).eval()
    x = torch.randn(L, N, H_IN, dtype=torch.float64)
    torch.testing.assert_close(model(x)[0], model.reference_forward(x)[0], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradcheck_reference_lstm_float64(bidirectional):
    model = LSTM(2, 3, 2, bidirectional=bidirectional, proj_size=2, dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    params = tuple(model.parameters())

    def f(x, *ps):
        named = dict(zip([n for n, _ in model.named_parameters()], ps))
        # return_gates=True forces the reference path
        out, (h, c), _ = torch.func.functional_call(model, named, (x,), {"lengths": [4, 2], "return_gates": True})
        return out, h, c

    assert torch.autograd.gradcheck(f, (x, *[p.detach().clone().requires_grad_(True) for p in params]))
