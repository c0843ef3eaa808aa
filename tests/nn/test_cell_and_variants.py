"""LSTMCell against torch.nn.LSTMCell, and the variants: shapes, gradients (gradcheck) and learning."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ShapeError
from lstmkit.nn import LSTM, LSTMCell

VARIANTS = {
    "peephole": dict(peephole=True),
    "layer_norm": dict(layer_norm=True),
    "recurrent_dropout": dict(recurrent_dropout=0.3),
    "all": dict(peephole=True, layer_norm=True, recurrent_dropout=0.3, recurrent_bias=False),
}


def test_cell_matches_torch_cell_and_has_gates():
    ours = LSTMCell(3, 4)
    theirs = torch.nn.LSTMCell(3, 4)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    h1, c1, gates = ours(x, (h, c), return_gates=True)
    th, tc = theirs(x, (h, c))
    torch.testing.assert_close(h1, th, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(c1, tc, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(gates.cell_state, gates.forget_gate * c + gates.input_gate * gates.candidate)
    torch.testing.assert_close(gates.hidden_state, gates.output_gate * torch.tanh(gates.cell_state))
    assert ((gates.forget_gate > 0) & (gates.forget_gate < 1)).all()
    # unbatched and default state
    h1u, c1u = ours(x[0])
    assert h1u.shape == (4,)
    torch.testing.assert_close(h1u, theirs(x[0])[0], atol=1e-6, rtol=1e-6)
    with pytest.raises(ShapeError, match=r"LSTMCell input: expected \(N, H_in=3\)"):
        ours(torch.randn(2, 5))
    with pytest.raises(ShapeError, match=r"hx\[1\] \(c\): expected shape \(2, 4\)"):
        ours(x, (h, torch.randn(2, 5)))


def test_cell_equals_one_lstm_step():
    lstm = LSTM(3, 4, peephole=True, layer_norm=True)
    cell = LSTMCell(3, 4, peephole=True, layer_norm=True)
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in lstm.state_dict().items()})
    x = torch.randn(3, 2, 3)
    out, (h, c) = lstm(x)
    state = None
    for t in range(3):
        state = cell(x[t], state)
    torch.testing.assert_close(state[0], h[0], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(state[1], c[0], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gradcheck_cell_float64(variant):
    cell = LSTMCell(2, 3, dtype=torch.float64, **VARIANTS[variant])
    x, h, c = (torch.randn(2, n, dtype=torch.float64, requires_grad=True) for n in (2, 3, 3))
    mask = cell.sample_recurrent_mask(2) if cell.recurrent_dropout else None
    names = [n for n, _ in cell.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in cell.parameters()]

    def f(x, h, c, *ps):
        return torch.func.functional_call(cell, dict(zip(names, ps)), (x, (h, c)), {"recurrent_mask": mask})

    assert torch.autograd.gradcheck(f, (x, h, c, *params))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_lstm_shapes_and_params(variant):
    model = LSTM(2, 3, 2, bidirectional=True, **VARIANTS[variant])
    assert not model.uses_fast_path
    names = [n for n, _ in model.named_parameters()]
    if model.peephole:
        assert {"weight_ci_l0", "weight_cf_l1_reverse", "weight_co_l1"} <= set(names)
        assert model.weight_ci_l0.shape == (3,)
    if model.layer_norm:
        assert model.ln_gates_weight_l0.shape == (12,) and model.ln_cell_bias_l1_reverse.shape == (3,)
    x = torch.randn(4, 2, 2, requires_grad=True)
    out, (h, c), gates = model(x, lengths=[4, 2], return_gates=True)
    assert out.shape == (4, 2, 6) and h.shape == (4, 2, 3) and c.shape == (4, 2, 3)
    assert gates.layer(1, reverse=True).cell_state.shape == (4, 2, 3)
    (out.sum() + h.sum() + c.sum()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_lstm_gradcheck_float64(variant):
    model = LSTM(2, 2, bidirectional=True, dtype=torch.float64, **VARIANTS[variant])
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)

    def f(x, *ps):
        torch.manual_seed(0)  # the same recurrent-dropout mask on every evaluation
        out, (h, c) = torch.func.functional_call(model, dict(zip(names, ps)), (x,), {"lengths": [3, 2]})
        return out, h, c

    assert torch.autograd.gradcheck(f, (x, *params))


def test_recurrent_dropout_is_one_mask_per_sequence_and_off_in_eval():
    model = LSTM(2, 8, recurrent_dropout=0.5)
    x = torch.randn(6, 3, 2)
    model.eval()
    torch.testing.assert_close(model(x)[0], model.fast_forward(x)[0], atol=1e-5, rtol=1e-5)
    model.train()
    seen = []
    import lstmkit.nn.reference as reference

    original = reference.lstm_step

    def spy(x, h, c, w, recurrent_mask=None):
        seen.append(recurrent_mask)
        return original(x, h, c, w, recurrent_mask)

    try:
        reference.lstm_step = spy
        model(x)
    finally:
        reference.lstm_step = original
    assert len(seen) == 6 and all(m is seen[0] for m in seen)
    assert set(seen[0].unique().tolist()) <= {0.0, 2.0}


def test_peephole_and_layer_norm_change_the_function():
    base = LSTM(2, 4, init="keras")
    for kw in (dict(peephole=True), dict(layer_norm=True)):
        v = LSTM(2, 4, init="keras", **kw)
        v.load_state_dict(base.state_dict(), strict=False)
        x = torch.randn(5, 2, 2)
        if "peephole" in kw:
            # zero peepholes reduce to the plain LSTM; non-zero ones do not
            torch.testing.assert_close(v(x)[0], base(x)[0], atol=1e-6, rtol=1e-6)
            with torch.no_grad():
                v.weight_co_l0.fill_(0.5)
        assert not torch.allclose(v(x)[0], base(x)[0])


def _remember_first_bit(model_kwargs: dict, steps: int = 80) -> tuple[float, float, float]:
    """Target: the sign of step 0's input, read after 6 noisy steps. Returns (first loss, last loss, accuracy)."""
    torch.manual_seed(0)
    lstm = LSTM(1, 8, init="keras", **model_kwargs)
    head = torch.nn.Linear(8, 1)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.05)
    losses = []
    for _ in range(steps):
        bit = torch.randint(0, 2, (32,)).float()
        x = 0.3 * torch.randn(6, 32, 1)
        x[0, :, 0] = 2 * bit - 1
        _, (h, _) = lstm(x)
        logit = head(h[-1]).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, bit)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    lstm.eval()
    with torch.no_grad():
        bit = torch.randint(0, 2, (256,)).float()
        x = 0.3 * torch.randn(6, 256, 1)
        x[0, :, 0] = 2 * bit - 1
        acc = ((head(lstm(x)[1][0][-1]).squeeze(-1) > 0).float() == bit).float().mean().item()
    return sum(losses[:5]) / 5, sum(losses[-5:]) / 5, acc


@pytest.mark.parametrize(
    "variant",
    ["plain", "forget_bias", "peephole", "layer_norm", "recurrent_dropout"],
)
def test_variant_learns_to_remember_a_bit(variant):
    kwargs = {
        "plain": dict(forget_bias=0.0),
        "forget_bias": dict(forget_bias=1.0),
        "peephole": dict(peephole=True),
        "layer_norm": dict(layer_norm=True),
        "recurrent_dropout": dict(recurrent_dropout=0.1),
    }[variant]
    first, last, acc = _remember_first_bit(kwargs)
    assert last < 0.5 * first, (first, last)
    assert acc > 0.9, acc
