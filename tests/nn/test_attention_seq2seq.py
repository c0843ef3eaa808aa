"""Attention (Bahdanau, Luong dot/general) and the Seq2SeqLSTM translator: reference equality, masks,
teacher forcing against step-by-step decoding, padding, gradients, the loss, and a tiny overfit."""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from lstmkit.errors import ConfigError, InputValueError, ShapeError
from lstmkit.nn.attention import Attention, masked_softmax
from lstmkit.nn.seq2seq import Seq2SeqLSTM, label_smoothed_nll, label_smoothed_nll_reference

KINDS = ["bahdanau", "dot", "general"]
ALL_KINDS = KINDS + ["none"]


def make_attention(kind: str, dtype=torch.float32) -> Attention:
    q, k = (6, 6) if kind == "dot" else (5, 7)
    return Attention(kind, q, k, attn_size=4 if kind == "bahdanau" else None).to(dtype)


def reference_attention(att: Attention, query, keys, mask):
    """The equations of lstmkit.nn.attention, one (n, j) pair at a time."""
    N, S, _ = keys.shape
    contexts, weights = [], []
    for n in range(N):
        scores = []
        for j in range(S):
            s, h = query[n], keys[n, j]
            if att.kind == "bahdanau":
                scores.append(att.v @ torch.tanh(att.W_s.weight @ s + att.W_h.weight @ h))
            elif att.kind == "dot":
                scores.append(s @ h)
            else:
                scores.append(s @ (att.W_a.weight @ h))
        real = [j for j in range(S) if mask[n, j]]
        exp = {j: torch.exp(scores[j]) for j in real}
        total = sum(exp.values())
        a = torch.stack([exp[j] / total if j in exp else torch.zeros(()) for j in range(S)])
        weights.append(a)
        contexts.append((a.unsqueeze(1) * keys[n]).sum(0))
    return torch.stack(contexts), torch.stack(weights)


def padded_mask(lengths, S):
    return torch.arange(S).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


# ---- attention --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_attention_equals_reference_equations(kind):
    att = make_attention(kind)
    query, keys = torch.randn(3, att.query_size), torch.randn(3, 5, att.key_size)
    mask = padded_mask([5, 2, 1], 5)
    context, weights = att(query, keys, mask)
    ref_context, ref_weights = reference_attention(att, query, keys, mask)
    torch.testing.assert_close(context, ref_context, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-5)
    assert torch.equal(weights[~mask], torch.zeros(int((~mask).sum())))  # padding: exactly 0
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))


@pytest.mark.parametrize("kind", KINDS)
def test_attention_precomputed_and_all_steps_equal_single_steps(kind):
    att = make_attention(kind)
    queries, keys = torch.randn(2, 4, att.query_size), torch.randn(2, 6, att.key_size)
    mask = padded_mask([6, 3], 6)
    pre = att.precompute(keys)
    expected_size = {"bahdanau": 4, "dot": att.key_size, "general": att.query_size}[kind]
    assert pre.shape == (2, 6, expected_size)
    contexts, weights = att.forward_all(queries, keys, mask)
    for t in range(4):
        c1, w1 = att(queries[:, t], keys, mask)
        c2, w2 = att(queries[:, t], keys, mask, precomputed=pre)
        torch.testing.assert_close(c1, contexts[:, t], atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(w1, weights[:, t], atol=1e-6, rtol=1e-6)
        assert torch.equal(c1, c2) and torch.equal(w1, w2)


@pytest.mark.parametrize("kind", KINDS)
def test_attention_padding_values_do_not_matter_and_empty_rows_are_zero(kind):
    att = make_attention(kind)
    query, keys = torch.randn(2, att.query_size), torch.randn(2, 4, att.key_size)
    mask = padded_mask([2, 0], 4)
    c, w = att(query, keys, mask)
    assert torch.equal(w[1], torch.zeros(4)) and torch.equal(c[1], torch.zeros(att.key_size))
    noisy = keys.clone()
    noisy[0, 2:] = 1e3 * torch.randn(2, att.key_size)
    c2, w2 = att(query, noisy, mask)
    torch.testing.assert_close(c2[0], c[0]) and torch.testing.assert_close(w2[0], w[0])
    # the gradient of an all-masked row is 0, not NaN
    q = query.clone().requires_grad_(True)
    att(q, keys, mask)[0].sum().backward()
    assert torch.isfinite(q.grad).all() and torch.equal(q.grad[1], torch.zeros(att.query_size))


def test_masked_softmax_without_mask_is_softmax():
    x = torch.randn(3, 5)
    torch.testing.assert_close(masked_softmax(x, None), torch.softmax(x, -1))


@pytest.mark.parametrize("kind", KINDS)
def test_attention_gradcheck_float64(kind):
    att = make_attention(kind, torch.float64)
    query = torch.randn(3, att.query_size, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(3, 4, att.key_size, dtype=torch.float64, requires_grad=True)
    mask = padded_mask([4, 2, 1], 4)
    names = [n for n, _ in att.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in att.named_parameters()]

    def f(q, k, *ps):
        return functional_call(att, dict(zip(names, ps)), (q, k, mask))

    assert torch.autograd.gradcheck(f, (query, keys, *params))


def test_attention_errors():
    with pytest.raises(ConfigError, match="Attention kind: expected one of"):
        Attention("concat", 4, 4)
    with pytest.raises(ConfigError, match="dot score needs query_size == key_size"):
        Attention("dot", 4, 8)
    with pytest.raises(ConfigError, match="attn_size: only the bahdanau"):
        Attention("general", 4, 8, attn_size=3)
    with pytest.raises(ConfigError, match="query_size: expected a positive int"):
        Attention("general", 0, 8)
    att = Attention("general", 4, 8)
    with pytest.raises(ShapeError, match=r"Attention keys: expected \(N, S, K=8\)"):
        att(torch.randn(2, 4), torch.randn(2, 3, 7))
    with pytest.raises(ShapeError, match=r"Attention query: expected \(N, Q=4\)"):
        att(torch.randn(2, 5), torch.randn(2, 3, 8))
    with pytest.raises(ShapeError, match=r"Attention mask: expected shape \(2, 3\)"):
        att(torch.randn(2, 4), torch.randn(2, 3, 8), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(InputValueError, match="Attention mask: expected a bool tensor"):
        att(torch.randn(2, 4), torch.randn(2, 3, 8), torch.ones(2, 3))
    with pytest.raises(ShapeError, match="Attention precomputed"):
        att(torch.randn(2, 4), torch.randn(2, 3, 8), precomputed=torch.randn(2, 3, 8))


# ---- Seq2SeqLSTM ------------------------------------------------------------------------------


def batch(n=3, src_len=(6, 4, 1), tgt_len=(5, 3, 2), src_vocab=12, tgt_vocab=13):
    """A padded batch: src (N, S), lengths, tgt_in (N, T) starting with bos=2, pad=0."""
    S, T = max(src_len), max(tgt_len)
    src = torch.zeros(n, S, dtype=torch.long)
    tgt = torch.zeros(n, T, dtype=torch.long)
    for i in range(n):
        src[i, : src_len[i]] = torch.randint(4, src_vocab, (src_len[i],))
        tgt[i, : tgt_len[i]] = torch.randint(4, tgt_vocab, (tgt_len[i],))
        tgt[i, 0] = 2
    return src, torch.tensor(src_len), tgt


def stepwise(model, src, lengths, tgt_in):
    state = model.init_decoder(model.encode(src, lengths))
    log_probs, weights = [], []
    for t in range(tgt_in.size(1)):
        lp, state, w = model.step(state, tgt_in[:, t])
        log_probs.append(lp)
        weights.append(w)
    return torch.stack(log_probs, 1), torch.stack(weights, 1)


CONFIGS = [
    dict(attention=kind, input_feeding=feed, enc_layers=layers[0], dec_layers=layers[1])
    for kind in ALL_KINDS
    for feed in (True, False)
    for layers in ((1, 1), (2, 3))
]


def config_id(c):
    return f"{c['attention']}-feed{int(c['input_feeding'])}-enc{c['enc_layers']}dec{c['dec_layers']}"


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_teacher_forcing_equals_step_by_step(config):
    model = Seq2SeqLSTM(12, 13, emb=6, hidden=8, dropout=0.3, **config).eval()
    src, lengths, tgt_in = batch()
    logits, weights = model(src, lengths, tgt_in, return_attention=True)
    assert logits.shape == (3, 5, 13) and weights.shape == (3, 5, 6)
    log_probs, step_weights = stepwise(model, src, lengths, tgt_in)
    torch.testing.assert_close(torch.log_softmax(logits, -1), log_probs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, step_weights, atol=1e-5, rtol=1e-5)
    if config["attention"] != "none":
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 5))
        assert torch.equal(weights[1, :, 4:], torch.zeros(5, 2)) and torch.equal(weights[2, :, 1:], torch.zeros(5, 5))


@pytest.mark.parametrize("config", [c for c in CONFIGS if c["enc_layers"] == 1], ids=config_id)
def test_padded_rows_equal_rows_alone(config):
    model = Seq2SeqLSTM(12, 13, emb=6, hidden=8, **config).eval()
    src, lengths, tgt_in = batch()
    logits, weights = model(src, lengths, tgt_in, return_attention=True)
    for i, (s, t) in enumerate([(6, 5), (4, 3), (1, 2)]):
        alone, alone_w = model(src[i : i + 1, :s], lengths[i : i + 1], tgt_in[i : i + 1, :t], return_attention=True)
        torch.testing.assert_close(logits[i : i + 1, :t], alone, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(weights[i : i + 1, :t, :s], alone_w, atol=1e-5, rtol=1e-5)
        assert not weights[i, :, s:].any()


def test_gradcheck_tiny_model_float64():
    torch.manual_seed(1)
    model = Seq2SeqLSTM(6, 7, emb=3, hidden=4, attention="bahdanau", input_feeding=True, attn_size=3).double().eval()
    src = torch.tensor([[4, 5, 1], [5, 0, 0]])
    lengths = torch.tensor([3, 1])
    # no pad in tgt_in: nn.Embedding(padding_idx) gives the pad row no gradient by design
    tgt_in = torch.tensor([[2, 4, 6], [2, 5, 5]])
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in model.named_parameters()]

    def f(*ps):
        return functional_call(model, dict(zip(names, ps)), (src, lengths, tgt_in))

    assert torch.autograd.gradcheck(f, tuple(params))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_training_mode_uses_dropout_and_backpropagates(kind):
    model = Seq2SeqLSTM(12, 13, emb=6, hidden=8, enc_layers=2, dec_layers=2, attention=kind, dropout=0.5)
    src, lengths, tgt_in = batch()
    a, b = model(src, lengths, tgt_in), model(src, lengths, tgt_in)
    assert not torch.equal(a, b)
    a.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_bridge_uses_final_states_of_the_matching_encoder_layer():
    model = Seq2SeqLSTM(12, 13, emb=6, hidden=8, enc_layers=3, dec_layers=2, attention="general").eval()
    src, lengths, _ = batch()
    enc = model.encode(src, lengths)
    state = model.init_decoder(enc)
    x = model.src_embed(src)
    _, (h_n, c_n) = model.encoder(x, lengths=lengths)  # (2 * 3, N, H_e)
    for layer, k in ((0, 1), (1, 2)):  # decoder layers line up with the top encoder layers
        h_fin = torch.cat([h_n[2 * k], h_n[2 * k + 1]], -1)
        c_fin = torch.cat([c_n[2 * k], c_n[2 * k + 1]], -1)
        torch.testing.assert_close(state["h"][:, layer], torch.tanh(model.bridge_h[layer](h_fin)))
        torch.testing.assert_close(state["c"][:, layer], torch.tanh(model.bridge_c[layer](c_fin)))
    assert enc.memory.shape == (3, 6, 16) and torch.equal(enc.memory[1, 4:], torch.zeros(2, 16))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_reorder_selects_and_repeats_rows(kind):
    model = Seq2SeqLSTM(12, 13, emb=6, hidden=8, attention=kind).eval()
    src, lengths, tgt_in = batch()
    state = model.init_decoder(model.encode(src, lengths))
    lp, state, w = model.step(state, tgt_in[:, 0])
    index = torch.tensor([2, 0, 0, 1])
    lp2, _, w2 = model.step(model.reorder(state, index), tgt_in[index, 1])
    lp_all, _, w_all = model.step(state, tgt_in[:, 1])
    torch.testing.assert_close(lp2, lp_all[index]) and torch.testing.assert_close(w2, w_all[index])


@pytest.mark.parametrize("emb,hidden", [(8, 8), (6, 8)])
def test_tied_embeddings(emb, hidden):
    model = Seq2SeqLSTM(12, 13, emb=emb, hidden=hidden, attention="general", tie_embeddings=True).eval()
    untied = Seq2SeqLSTM(12, 13, emb=emb, hidden=hidden, attention="general")
    assert (model.tie_proj is None) == (emb == hidden) and model.out is None
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(untied) - n(model) == 13 * hidden - (0 if emb == hidden else emb * hidden)
    src, lengths, tgt_in = batch()
    logits = model(src, lengths, tgt_in)
    torch.testing.assert_close(torch.log_softmax(logits, -1), stepwise(model, src, lengths, tgt_in)[0], atol=1e-5, rtol=1e-5)
    logits.sum().backward()
    assert model.tgt_embed.weight.grad is not None and model.out_bias.grad is not None


def test_dot_attention_sizes():
    model = Seq2SeqLSTM(12, 13, emb=6, hidden=8, attention="dot")
    assert model.enc_hidden == 4 and model.memory_size == 8
    assert Seq2SeqLSTM(12, 13, hidden=8, attention="general").enc_hidden == 8
    with pytest.raises(ConfigError, match="even hidden"):
        Seq2SeqLSTM(12, 13, hidden=7, attention="dot")
    with pytest.raises(ConfigError, match="2 \\* enc_hidden == hidden"):
        Seq2SeqLSTM(12, 13, hidden=8, attention="dot", enc_hidden=8)


def test_seq2seq_errors():
    with pytest.raises(ConfigError, match="Seq2SeqLSTM attention: expected one of"):
        Seq2SeqLSTM(12, 13, attention="luong")
    with pytest.raises(ConfigError, match="three different ids"):
        Seq2SeqLSTM(12, 13, bos_id=3, eos_id=3)
    with pytest.raises(ConfigError, match=r"eos_id: expected an int in \[0, 13\)"):
        Seq2SeqLSTM(12, 13, eos_id=13)
    with pytest.raises(ConfigError, match="dropout"):
        Seq2SeqLSTM(12, 13, dropout=1.5)
    model = Seq2SeqLSTM(12, 13, emb=4, hidden=4)
    src, lengths, tgt_in = batch()
    with pytest.raises(InputValueError, match=r"src: expected ids in \[0, 12\), found 12"):
        model(torch.full_like(src, 12), lengths, tgt_in)
    with pytest.raises(InputValueError, match="src: expected integer token ids"):
        model(src.float(), lengths, tgt_in)
    with pytest.raises(ShapeError, match="tgt_in: expected 3 rows"):
        model(src, lengths, tgt_in[:2])
    with pytest.raises(ShapeError, match=r"lengths: expected shape \(3,\)"):
        model(src, lengths[:2], tgt_in)
    state = model.init_decoder(model.encode(src, lengths))
    with pytest.raises(ShapeError, match=r"prev_tokens: expected shape \(3,\)"):
        model.step(state, tgt_in[:2, 0])
    with pytest.raises(ShapeError, match="reorder index"):
        model.reorder(state, torch.tensor([[0]]))


# ---- loss -------------------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothed_nll_matches_definition_and_torch(smoothing):
    logits = torch.randn(3, 5, 11, requires_grad=True)
    target = torch.randint(1, 11, (3, 5))
    target[1, 3:] = 0
    target[2, 1:] = 0
    loss, n = label_smoothed_nll(logits, target, pad_id=0, smoothing=smoothing)
    ref, n_ref = label_smoothed_nll_reference(logits, target, pad_id=0, smoothing=smoothing)
    torch_mean = F.cross_entropy(logits.reshape(-1, 11), target.reshape(-1), ignore_index=0, label_smoothing=smoothing)
    assert n == n_ref == 5 + 3 + 1
    torch.testing.assert_close(loss, ref) and torch.testing.assert_close(loss, torch_mean)
    g1 = torch.autograd.grad(loss, logits)[0]
    g2 = torch.autograd.grad(ref, logits)[0]
    torch.testing.assert_close(g1, g2)
    assert torch.equal(g1[2, 1:], torch.zeros(4, 11))  # padding gets no gradient


def test_label_smoothed_nll_edge_cases():
    loss, n = label_smoothed_nll(torch.randn(2, 3, 5), torch.zeros(2, 3, dtype=torch.long), pad_id=0)
    assert n == 0 and loss.item() == 0.0
    with pytest.raises(ShapeError, match="target: expected shape"):
        label_smoothed_nll(torch.randn(2, 3, 5), torch.zeros(2, 4, dtype=torch.long), pad_id=0)
    with pytest.raises(ConfigError, match="smoothing"):
        label_smoothed_nll(torch.randn(2, 3, 5), torch.zeros(2, 3, dtype=torch.long), pad_id=0, smoothing=1.0)


# ---- learning ---------------------------------------------------------------------------------


def reverse_task(n=50, vocab=12, seed=0):
    """Reverse ~50 short sequences of tokens 4..vocab-1: src -> reversed(src) eos."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 7, (n,), generator=g)
    S = int(lengths.max())
    src = torch.zeros(n, S, dtype=torch.long)
    tgt_in = torch.zeros(n, S + 1, dtype=torch.long)
    tgt_out = torch.zeros(n, S + 1, dtype=torch.long)
    for i, L in enumerate(lengths.tolist()):
        seq = torch.randint(4, vocab, (L,), generator=g)
        src[i, :L] = seq
        rev = seq.flip(0)
        tgt_in[i, 0] = 2
        tgt_in[i, 1 : L + 1] = rev
        tgt_out[i, :L] = rev
        tgt_out[i, L] = 3
    return src, lengths, tgt_in, tgt_out


@pytest.mark.parametrize("kind", ["bahdanau", "general"])
def test_overfits_reverse_task(kind):
    start = time.perf_counter()
    torch.manual_seed(0)
    src, lengths, tgt_in, tgt_out = reverse_task()
    model = Seq2SeqLSTM(12, 12, emb=16, hidden=32, attention=kind)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss, _ = label_smoothed_nll(model(src, lengths, tgt_in), tgt_out, pad_id=0, smoothing=0.0)
        loss.backward()
        opt.step()
    model.eval()
    loss, n = label_smoothed_nll(model(src, lengths, tgt_in), tgt_out, pad_id=0, smoothing=0.0)
    elapsed = time.perf_counter() - start
    predicted = model(src, lengths, tgt_in).argmax(-1)
    real = tgt_out != 0
    assert loss.item() < 0.05, loss.item()
    assert torch.equal(predicted[real], tgt_out[real])
    assert elapsed < 30, elapsed
