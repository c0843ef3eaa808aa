"""Greedy decoding and batched beam search on both translator classes and on a scripted model."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

from lstmkit.errors import ConfigError
from lstmkit.nn.seq2seq import EncoderState, Seq2SeqLSTM, reorder_state
from lstmkit.nn.transformer import TransformerSeq2Seq
from lstmkit.tasks.translate.decode import beam_search, gnmt_length_penalty, greedy_decode

PAD, BOS, EOS = 0, 2, 3


def lstm_model(tgt_vocab=9, sharpen=3.0, attention="bahdanau"):
    model = Seq2SeqLSTM(10, tgt_vocab, emb=8, hidden=12, attention=attention).eval()
    with torch.no_grad():
        model.out.weight.mul_(sharpen)  # peakier, more varied distributions than an untrained model's
    return model


def transformer_model(tgt_vocab=9, sharpen=3.0):
    model = TransformerSeq2Seq(10, tgt_vocab, d_model=16, heads=2, enc_layers=1, dec_layers=2, ff=32).eval()
    with torch.no_grad():
        model.out.weight.mul_(sharpen)
    return model


MODELS = {
    "lstm-bahdanau": lambda **kw: lstm_model(attention="bahdanau", **kw),
    "lstm-general": lambda **kw: lstm_model(attention="general", **kw),
    "transformer": transformer_model,
}


def source(lengths=(5, 2, 4, 1)):
    S = max(lengths)
    src = torch.zeros(len(lengths), S, dtype=torch.long)
    for i, L in enumerate(lengths):
        src[i, :L] = torch.randint(4, 10, (L,))
    return src, torch.tensor(lengths)


def sequence_log_prob(model, src, lengths, tokens: list[int]) -> float:
    """Sum of the step log-probabilities of ``tokens`` (one sentence), stepping the model directly."""
    with torch.no_grad():
        state = model.init_decoder(model.encode(src, lengths))
        prev, total = BOS, 0.0
        for y in tokens:
            log_probs, state, _ = model.step(state, torch.tensor([prev]))
            total += float(log_probs[0, y].double())
            prev = y
    return total


@pytest.mark.parametrize("name", MODELS)
def test_beam_of_one_equals_greedy(name):
    model = MODELS[name]()
    src, lengths = source()
    greedy = greedy_decode(model, src, lengths, max_len=12, return_attention=True)
    for alpha in (0.0, 0.6):
        beam = beam_search(model, src, lengths, beam=1, max_len=12, length_penalty=alpha, return_attention=True)
        assert beam.tokens == greedy.tokens
        for a, b in zip(beam.attention, greedy.attention):
            torch.testing.assert_close(a, b)
    beam = beam_search(model, src, lengths, beam=1, max_len=12, length_penalty=0.0)
    assert beam.scores == pytest.approx(greedy.scores, abs=1e-6)
    # greedy scores are the log-probabilities of what it returns
    for i, tokens in enumerate(greedy.tokens):
        ended = len(tokens) < 12
        lp = sequence_log_prob(model, src[i : i + 1], lengths[i : i + 1], tokens + ([EOS] if ended else []))
        assert greedy.scores[i] == pytest.approx(lp, abs=1e-5)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_large_beam_finds_the_brute_force_best(name, alpha):
    # target vocab 6: pad 0, bos 2, eos 3 and the tokens 1, 4, 5; with max_len 3 there are
    # 1 + 3 + 9 hypotheses ending in eos and 27 cut at max_len
    model = MODELS[name](tgt_vocab=6, sharpen=4.0)
    src, lengths = source((4, 2, 3))
    words = [1, 4, 5]
    result = beam_search(model, src, lengths, beam=64, max_len=3, length_penalty=alpha)
    for i in range(3):
        row = (src[i : i + 1, : int(lengths[i])], lengths[i : i + 1])
        scored = []
        for k in range(3):
            for prefix in itertools.product(words, repeat=k):
                seq = list(prefix) + [EOS]
                scored.append((sequence_log_prob(model, *row, seq) / gnmt_length_penalty(len(seq), alpha), list(prefix)))
        for full in itertools.product(words, repeat=3):
            scored.append((sequence_log_prob(model, *row, list(full)) / gnmt_length_penalty(3, alpha), list(full)))
        best_score, best_tokens = max(scored, key=lambda s: s[0])
        assert result.tokens[i] == best_tokens
        assert result.scores[i] == pytest.approx(best_score, abs=1e-5)
        # nothing was pruned: the n-best list is every hypothesis, in order
        assert len(result.nbest[i]) == 40
        assert [s for _, s in result.nbest[i]] == pytest.approx(sorted((s for s, _ in scored), reverse=True), abs=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_batched_equals_per_sentence(name):
    model = MODELS[name]()
    src, lengths = source()
    batched = beam_search(model, src, lengths, beam=4, max_len=10, return_attention=True)
    greedy = greedy_decode(model, src, lengths, max_len=10)
    for i in range(len(lengths)):
        L = int(lengths[i])
        alone = beam_search(model, src[i : i + 1, :L], lengths[i : i + 1], beam=4, max_len=10, return_attention=True)
        assert alone.tokens[0] == batched.tokens[i]
        assert alone.scores[0] == pytest.approx(batched.scores[i], abs=1e-5)
        torch.testing.assert_close(alone.attention[0], batched.attention[i], atol=1e-5, rtol=1e-5)
        assert greedy_decode(model, src[i : i + 1, :L], lengths[i : i + 1], max_len=10).tokens[0] == greedy.tokens[i]


@pytest.mark.parametrize("name", MODELS)
def test_max_len_is_respected(name):
    model = MODELS[name]()
    with torch.no_grad():
        model.out.bias[EOS] = -1e4  # never ends on its own
    src, lengths = source()
    for result in (
        greedy_decode(model, src, lengths, max_len=5, return_attention=True),
        beam_search(model, src, lengths, beam=3, max_len=5, return_attention=True),
    ):
        assert [len(t) for t in result.tokens] == [5] * 4
        assert all(EOS not in t and PAD not in t and BOS not in t for t in result.tokens)
        assert [tuple(a.shape) for a in result.attention] == [(5, int(L)) for L in lengths]
        for a in result.attention:
            torch.testing.assert_close(a.sum(-1), torch.ones(5))


def test_attention_rows_include_the_eos_step_and_model_mode_is_restored():
    model = lstm_model().train()
    src, lengths = source()
    result = beam_search(model, src, lengths, beam=3, max_len=20, return_attention=True)
    assert model.training
    for tokens, a, L in zip(result.tokens, result.attention, lengths.tolist()):
        steps = len(tokens) + (1 if len(tokens) < 20 else 0)
        assert a.shape == (steps, L)


def test_trained_model_decodes_its_training_targets():
    """A tiny Seq2SeqLSTM overfit on reversing sequences (about 2 s): every decoder gives the targets back."""
    torch.manual_seed(0)
    n, vocab = 40, 12
    lengths = torch.randint(2, 7, (n,))
    S = int(lengths.max())
    src = torch.zeros(n, S, dtype=torch.long)
    tgt_in = torch.zeros(n, S + 1, dtype=torch.long)
    tgt_out = torch.zeros(n, S + 1, dtype=torch.long)
    targets = []
    for i, L in enumerate(lengths.tolist()):
        seq = torch.randint(4, vocab, (L,))
        src[i, :L] = seq
        tgt_in[i, 0], tgt_in[i, 1 : L + 1] = BOS, seq.flip(0)
        tgt_out[i, :L], tgt_out[i, L] = seq.flip(0), EOS
        targets.append(seq.flip(0).tolist())
    model = Seq2SeqLSTM(vocab, vocab, emb=16, hidden=32, attention="general")
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(src, lengths, tgt_in).transpose(1, 2), tgt_out, ignore_index=PAD)
        loss.backward()
        opt.step()
    greedy = greedy_decode(model, src, lengths, max_len=10, return_attention=True)
    beam = beam_search(model, src, lengths, beam=5, max_len=10, return_attention=True)
    assert greedy.tokens == targets and beam.tokens == targets
    assert beam_search(model, src, lengths, beam=1, max_len=10).tokens == greedy.tokens
    for i in range(0, n, 7):
        L = int(lengths[i])
        alone = beam_search(model, src[i : i + 1, :L], lengths[i : i + 1], beam=5, max_len=10, return_attention=True)
        assert alone.tokens[0] == beam.tokens[i] and alone.scores[0] == pytest.approx(beam.scores[i], abs=1e-5)
        torch.testing.assert_close(alone.attention[0], beam.attention[i], atol=1e-5, rtol=1e-5)
    # reversing: output step t mostly attends most to source step L - 1 - t (the anti-diagonal)
    hits = 0
    for i in range(n):
        L = int(lengths[i])
        assert beam.attention[i].shape == (L + 1, L)
        hits += sum(p == L - 1 - t for t, p in enumerate(beam.attention[i][:L].argmax(-1).tolist()))
    assert hits >= 0.8 * int(lengths.sum())


# ---- a scripted model: exact control over the probabilities -----------------------------------


class Scripted(torch.nn.Module):
    """Encoder-decoder interface whose next-token distribution is ``table(sentence, prefix)``."""

    pad_id, bos_id, eos_id = PAD, BOS, EOS

    def __init__(self, vocab, table):
        super().__init__()
        self.vocab, self.table = vocab, table

    def encode(self, src, src_lengths):
        mask = torch.arange(src.size(1)).unsqueeze(0) < torch.as_tensor(src_lengths).unsqueeze(1)
        return EncoderState(src.double().unsqueeze(-1), mask)

    def init_decoder(self, enc):
        N = enc.memory.size(0)
        return {"sentence": torch.arange(N), "prefix": torch.zeros(N, 0, dtype=torch.long), "mask": enc.mask,
                "memory": enc.memory}  # fmt: skip

    def step(self, state, prev):
        prefix = torch.cat([state["prefix"], prev.unsqueeze(1)], dim=1)
        rows = []
        for s, p in zip(state["sentence"].tolist(), prefix.tolist()):
            probs = torch.full((self.vocab,), 1e-9, dtype=torch.float64)
            for token, prob in self.table(s, tuple(p[1:])).items():
                probs[token] = prob
            rows.append((probs / probs.sum()).log())
        new = dict(state, prefix=prefix)
        weights = state["mask"].double() / state["mask"].sum(1, keepdim=True)
        return torch.stack(rows), new, weights

    def reorder(self, state, index):
        return reorder_state(state, index)


def random_table(sentence, prefix):
    """Fixed pseudo-random distributions over tokens 4, 5, 6 and eos (eos likelier as the prefix grows)."""
    rng = random.Random(hash((sentence, prefix)))
    weights = {4: rng.random(), 5: rng.random(), 6: rng.random(), EOS: rng.random() * 0.3 * (1 + len(prefix))}
    return weights


def test_scripted_beam_of_one_equals_greedy_and_batched_equals_alone():
    model = Scripted(7, random_table)
    src, lengths = torch.tensor([[4, 4, 4]] * 6), [3, 1, 2, 3, 2, 1]
    greedy = greedy_decode(model, src, lengths, max_len=9, return_attention=True)
    assert len({len(t) for t in greedy.tokens}) > 2  # the rows end at different steps
    for alpha in (0.0, 1.0):
        one = beam_search(model, src, lengths, beam=1, max_len=9, length_penalty=alpha, return_attention=True)
        assert one.tokens == greedy.tokens
        assert [a.shape for a in one.attention] == [a.shape for a in greedy.attention]
    batched = beam_search(model, src, lengths, beam=3, max_len=9)
    assert batched.tokens != greedy.tokens  # the beam finds something else somewhere
    for i in range(6):
        alone = Scripted(7, lambda s, p, i=i: random_table(i, p))
        single = beam_search(alone, src[i : i + 1], lengths[i : i + 1], beam=3, max_len=9)
        assert single.tokens[0] == batched.tokens[i] and single.scores[0] == pytest.approx(batched.scores[i])


def test_sentences_that_finish_early_stay_finished():
    def table(sentence, prefix):
        if EOS in prefix or PAD in prefix:
            return {5: 0.99, EOS: 0.01}  # what a finished row would continue with, if it were not finished
        if sentence == 0:
            return {EOS: 0.9, 4: 0.1}
        return {4: 0.9, EOS: 0.1}

    model = Scripted(7, table)
    src = torch.tensor([[4, 4], [4, 0]])
    for result in (greedy_decode(model, src, [2, 1], max_len=6), beam_search(model, src, [2, 1], beam=2, max_len=6)):
        assert result.tokens[0] == [] and result.tokens[1] == [4] * 6


def test_gnmt_length_normalisation():
    def table(sentence, prefix):
        if prefix == ():
            return {EOS: 0.4, 4: 0.6}
        if prefix == (4,):
            return {EOS: 0.6, 5: 0.4}
        return {EOS: 1.0}

    model = Scripted(7, table)
    src, lengths = torch.tensor([[4]]), [1]
    short, long = math.log(0.4), math.log(0.6) + math.log(0.6)
    raw = beam_search(model, src, lengths, beam=2, max_len=5, length_penalty=0.0)
    assert raw.tokens == [[]] and raw.scores[0] == pytest.approx(short)  # -0.916 > -1.022
    normalised = beam_search(model, src, lengths, beam=2, max_len=5, length_penalty=1.0)
    assert normalised.tokens == [[4]]
    assert normalised.scores[0] == pytest.approx(long / ((5 + 2) / 6))  # |Y| = 2 with the eos
    assert normalised.nbest[0][1] == ([], pytest.approx(short / 1.0))
    assert gnmt_length_penalty(7, 0.6) == pytest.approx(((5 + 7) ** 0.6) / (6**0.6))
    assert gnmt_length_penalty(7, 0.0) == 1.0


def test_decode_errors():
    model = lstm_model()
    src, lengths = source()
    with pytest.raises(ConfigError, match="decode beam: expected a positive int"):
        beam_search(model, src, lengths, beam=0)
    with pytest.raises(ConfigError, match="decode max_len"):
        greedy_decode(model, src, lengths, max_len=0)
    with pytest.raises(ConfigError, match="length_penalty: expected a number >= 0"):
        beam_search(model, src, lengths, length_penalty=-1.0)
    with pytest.raises(ConfigError, match="without encode, init_decoder"):
        greedy_decode(torch.nn.Linear(2, 2), src, lengths)
