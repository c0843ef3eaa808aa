"""TransformerSeq2Seq: teacher forcing against cached step-by-step decoding, padding, sizes, errors."""

from __future__ import annotations

import pytest
import torch

from lstmkit.errors import ConfigError, ShapeError
from lstmkit.nn.transformer import TransformerSeq2Seq


def batch(src_len=(6, 4, 1), tgt_len=(5, 3, 2), src_vocab=12, tgt_vocab=13):
    n, S, T = len(src_len), max(src_len), max(tgt_len)
    src = torch.zeros(n, S, dtype=torch.long)
    tgt = torch.zeros(n, T, dtype=torch.long)
    for i in range(n):
        src[i, : src_len[i]] = torch.randint(4, src_vocab, (src_len[i],))
        tgt[i, : tgt_len[i]] = torch.randint(4, tgt_vocab, (tgt_len[i],))
        tgt[i, 0] = 2
    return src, torch.tensor(src_len), tgt


def small(**kw):
    return TransformerSeq2Seq(12, 13, d_model=16, heads=2, enc_layers=2, dec_layers=2, ff=24, **kw)


def stepwise(model, src, lengths, tgt_in):
    state = model.init_decoder(model.encode(src, lengths))
    log_probs, weights = [], []
    for t in range(tgt_in.size(1)):
        lp, state, w = model.step(state, tgt_in[:, t])
        log_probs.append(lp)
        weights.append(w)
    return torch.stack(log_probs, 1), torch.stack(weights, 1), state


def test_forward_equals_stepwise_decoding():
    model = small(dropout=0.2).eval()
    src, lengths, tgt_in = batch()
    logits = model(src, lengths, tgt_in)
    assert logits.shape == (3, 5, 13)
    log_probs, weights, state = stepwise(model, src, lengths, tgt_in)
    torch.testing.assert_close(torch.log_softmax(logits, -1), log_probs, atol=1e-5, rtol=1e-5)
    assert weights.shape == (3, 5, 6) and state["cache_1"].shape == (3, 5, 16)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 5))
    assert not weights[1, :, 4:].any() and not weights[2, :, 1:].any()


def test_forward_equals_stepwise_with_grad_and_in_no_grad():
    model = small().eval()
    src, lengths, tgt_in = batch()
    logits = model(src, lengths, tgt_in)  # autograd path
    with torch.no_grad():
        log_probs = stepwise(model, src, lengths, tgt_in)[0]  # inference path of the encoder layers
    torch.testing.assert_close(torch.log_softmax(logits, -1), log_probs, atol=1e-5, rtol=1e-5)


def test_padded_rows_equal_rows_alone():
    model = small().eval()
    src, lengths, tgt_in = batch()
    logits = model(src, lengths, tgt_in)
    enc = model.encode(src, lengths)
    assert not enc.memory[1, 4:].any()
    for i, (s, t) in enumerate([(6, 5), (4, 3), (1, 2)]):
        alone = model(src[i : i + 1, :s], lengths[i : i + 1], tgt_in[i : i + 1, :t])
        torch.testing.assert_close(logits[i : i + 1, :t], alone, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(enc.memory[i, :s], model.encode(src[i : i + 1, :s], lengths[i : i + 1]).memory[0],
                                   atol=1e-5, rtol=1e-5)  # fmt: skip


def test_length_zero_source_gives_finite_outputs():
    model = small().eval()
    src, _, tgt_in = batch()
    logits = model(src, torch.tensor([6, 0, 1]), tgt_in)
    assert torch.isfinite(logits).all()


def test_reorder_selects_and_repeats_rows_with_caches():
    model = small().eval()
    src, lengths, tgt_in = batch()
    state = model.init_decoder(model.encode(src, lengths))
    _, state, _ = model.step(state, tgt_in[:, 0])
    index = torch.tensor([2, 0, 0, 1])
    lp2, moved, w2 = model.step(model.reorder(state, index), tgt_in[index, 1])
    lp_all, _, w_all = model.step(state, tgt_in[:, 1])
    torch.testing.assert_close(lp2, lp_all[index])
    torch.testing.assert_close(w2, w_all[index])
    assert moved["cache_0"].shape == (4, 2, 16)


def test_training_mode_backpropagates():
    model = small(dropout=0.3)
    src, lengths, tgt_in = batch()
    model(src, lengths, tgt_in).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("config", [
    dict(src_vocab=12, tgt_vocab=13, d_model=16, enc_layers=2, dec_layers=2, ff=24),
    dict(src_vocab=100, tgt_vocab=50, d_model=32, enc_layers=1, dec_layers=3, ff=10),
])  # fmt: skip
def test_parameter_count_formula(config):
    model = TransformerSeq2Seq(heads=4, **config)
    assert TransformerSeq2Seq.parameter_count(**config) == sum(p.numel() for p in model.parameters())


def test_fit_size_picks_the_closest_count():
    target = 2_000_000
    d, ff = TransformerSeq2Seq.fit_size(target, 8000, 8000, heads=4, enc_layers=2, dec_layers=2)
    assert d % 4 == 0 and ff == 4 * d
    count = lambda d: TransformerSeq2Seq.parameter_count(8000, 8000, d, 2, 2, 4 * d)  # noqa: E731
    assert count(d - 4) < target <= count(d) or count(d) < target <= count(d + 4)
    assert abs(count(d) - target) <= min(abs(count(d - 4) - target), abs(count(d + 4) - target))
    model = TransformerSeq2Seq.with_parameter_count(200_000, 500, 600, heads=2, enc_layers=1, dec_layers=1, dropout=0.1)
    assert model.d_model % 2 == 0 and model.dropout == 0.1
    n = sum(p.numel() for p in model.parameters())
    step = TransformerSeq2Seq.parameter_count(500, 600, model.d_model + 2, 1, 1, 4 * (model.d_model + 2)) - n
    assert abs(n - 200_000) <= step


def test_errors():
    with pytest.raises(ConfigError, match="heads: expected a divisor of d_model=16"):
        TransformerSeq2Seq(12, 13, d_model=16, heads=3)
    with pytest.raises(ConfigError, match="three different ids"):
        TransformerSeq2Seq(12, 13, d_model=16, heads=2, pad_id=2)
    with pytest.raises(ConfigError, match="fit_size target"):
        TransformerSeq2Seq.fit_size(0, 10, 10)
    model = TransformerSeq2Seq(12, 13, d_model=16, heads=2, enc_layers=1, dec_layers=1, max_len=4)
    src, lengths, tgt_in = batch()
    with pytest.raises(ShapeError, match="at most max_len=4 positions, found 6"):
        model(src, lengths, tgt_in)
    state = model.init_decoder(model.encode(src[:, :4], torch.tensor([4, 4, 1])))
    with pytest.raises(ShapeError, match=r"prev_tokens: expected shape \(3,\)"):
        model.step(state, tgt_in[:1, 0])
