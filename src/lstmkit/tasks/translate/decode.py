r"""Greedy decoding and batched beam search for encoder-decoder models.

Works with any model that has the incremental interface of :class:`lstmkit.nn.seq2seq.Seq2SeqLSTM`
and :class:`lstmkit.nn.transformer.TransformerSeq2Seq`: attributes ``bos_id``, ``eos_id``,
``pad_id`` and the methods ``encode(src, src_lengths)``, ``init_decoder(enc)``,
``step(state, prev_tokens) -> (log_probs, state, attention_weights)``, ``reorder(state, index)``.

**Hypotheses.** Decoding starts from ``bos``; a hypothesis ends when it emits ``eos`` or after
``max_len`` decoder steps (then it is cut there). ``pad`` and ``bos`` are never proposed (their
log-probabilities are set to ``-inf``). A hypothesis's raw score is the sum of the log-probabilities
of its steps (``eos`` included); its length ``|Y|`` is its number of steps (``eos`` included).
Returned token lists hold neither ``bos`` nor ``eos``, so they have at most ``max_len`` tokens (and
at most ``max_len - 1`` when they end in ``eos``).

**Length normalisation** (Wu et al. 2016, GNMT, section 7): finished hypotheses are ranked by::

    score(Y) = log P(Y | X) / lp(Y),      lp(Y) = (5 + |Y|)^alpha / (5 + 1)^alpha

with ``alpha = length_penalty`` (default 0.6; ``alpha = 0`` ranks by the raw log-probability).
GNMT's coverage penalty is not used.

**Beam search**, batched over sentences: the ``beam`` hypotheses of all unfinished sentences live
in one decoder state of ``A * beam`` rows (``A`` sentences still searching), reordered with
``model.reorder`` after every step. Per sentence and step, the ``2 * beam`` best one-token
extensions of its hypotheses (by raw score) are taken in order; an ``eos`` extension among the
first ``beam`` of them finishes a hypothesis (as in fairseq); the first ``beam`` others continue.
At step ``max_len`` the first ``beam`` extensions all finish. A sentence stops (and its rows leave
the batch) once it holds at least ``beam`` finished hypotheses and its best live hypothesis, scored
as if it ended now (``raw / lp(t)`` at step ``t``), does not beat the ``beam``-th best finished
one (Hugging Face's default stopping rule). Raw scores only fall as hypotheses grow, so with
``alpha = 0`` stopping there loses nothing that the beam still holds; with ``alpha > 0`` a longer
hypothesis could still overtake by normalisation, which the rule (like its models) ignores. The
result is the finished hypothesis of best ``score(Y)``. With ``beam=1`` this is exactly greedy
decoding, for any ``alpha``; with a beam at least as large as the number of possible hypotheses
nothing is ever pruned and the search is exhaustive.

Decoding runs under ``torch.no_grad`` with the model in eval mode (its mode is restored after).
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import Tensor

from lstmkit.errors import ConfigError
from lstmkit.nn.lengths import as_lengths
from lstmkit.nn.threads import loop_threads


@dataclass
class Decoded:
    """What the decoders return, one entry per source sentence.

    ``tokens[i]``: the best hypothesis's token ids (no bos, no eos). ``scores[i]``: its score
    (raw log-probability for greedy decoding, ``log P / lp`` for beam search). ``attention[i]``
    (with ``return_attention=True``): its attention weights ``(steps, src_lengths[i])``, one row per
    decoder step (the ``eos`` step included when it ended in ``eos``). ``nbest[i]`` (beam search):
    every finished hypothesis of the sentence as ``(tokens, score)``, best first.
    """

    tokens: list[list[int]]
    scores: list[float]
    attention: list[Tensor] | None = None
    nbest: list[list[tuple[list[int], float]]] = field(default_factory=list)


def gnmt_length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``lp(Y) = ((5 + |Y|) / 6) ** alpha``."""
    return ((5.0 + length) / 6.0) ** alpha


def _check_model(model: object) -> None:
    missing = [n for n in ("encode", "init_decoder", "step", "reorder", "bos_id", "eos_id", "pad_id") if not hasattr(model, n)]
    if missing:
        raise ConfigError(
            f"decode model: expected the encoder-decoder interface (encode, init_decoder, step, reorder, "
            f"bos_id, eos_id, pad_id), found {type(model).__name__} without {', '.join(missing)}"
        )


def _check_positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"decode {name}: expected a positive int, found {value!r}")
    return int(value)


@contextmanager
def _inference(model) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), loop_threads():
            yield
    finally:
        model.train(was_training)


def _forbid_specials(log_probs: Tensor, model) -> Tensor:
    log_probs = log_probs.clone()
    log_probs[:, model.pad_id] = float("-inf")
    log_probs[:, model.bos_id] = float("-inf")
    return log_probs


def greedy_decode(model, src: Tensor, src_lengths, max_len: int = 200, *, return_attention: bool = False) -> Decoded:
    """The most probable next token at every step, for ``src (N, S)`` with ``src_lengths (N,)``.

    See the module docstring for the hypothesis rules; ``scores`` are raw log-probabilities.
    Rows that have emitted ``eos`` stay finished (they keep being fed ``pad``; what follows is ignored).
    """
    _check_model(model)
    max_len = _check_positive("max_len", max_len)
    with _inference(model):
        enc = model.encode(src, src_lengths)
        N = src.size(0)
        lengths = as_lengths(src_lengths, src.size(0), src.size(1), owner="greedy_decode").tolist()
        state = model.init_decoder(enc)
        device = enc.memory.device
        prev = torch.full((N,), model.bos_id, dtype=torch.long, device=device)
        done = torch.zeros(N, dtype=torch.bool, device=device)
        total = torch.zeros(N, dtype=torch.float64, device=device)
        steps, weights, ended = [], [], torch.zeros(N, dtype=torch.long, device=device)
        for t in range(max_len):
            log_probs, state, attn = model.step(state, prev)
            best, token = _forbid_specials(log_probs, model).max(dim=-1)
            token = torch.where(done, model.pad_id, token)
            total += torch.where(done, 0.0, best.double())
            ended = torch.where(done, ended, t + 1)  # steps taken by each row so far
            steps.append(token)
            weights.append(attn)
            done = done | (token == model.eos_id)
            prev = token
            if bool(done.all()):
                break
        tokens = torch.stack(steps, dim=1).tolist()  # (N, steps)
        ended = ended.tolist()
        out_tokens = [[y for y in row[: ended[i]] if y != model.eos_id] for i, row in enumerate(tokens)]
        attention = None
        if return_attention:
            stacked = torch.stack(weights, dim=1)  # (N, steps, S)
            attention = [stacked[i, : ended[i], : lengths[i]].cpu() for i in range(N)]
    return Decoded(out_tokens, total.tolist(), attention)


def _done(finished: list[tuple[float, list[int], Tensor | None]], best_live: float, beam: int) -> bool:
    """A sentence is done when ``beam`` finished hypotheses are at least as good as its best live one."""
    if len(finished) < beam:
        return False
    kth_best = sorted((h[0] for h in finished), reverse=True)[beam - 1]
    return best_live <= kth_best


def beam_search(
    model,
    src: Tensor,
    src_lengths,
    beam: int = 5,
    max_len: int = 200,
    length_penalty: float = 0.6,
    *,
    return_attention: bool = False,
) -> Decoded:
    """Batched beam search (module docstring) for ``src (N, S)`` with ``src_lengths (N,)``.

    ``length_penalty`` is GNMT's ``alpha`` (0 = raw log-probability). Returns :class:`Decoded`
    with the best hypothesis per sentence, its normalised score and the n-best lists.
    """
    _check_model(model)
    B = _check_positive("beam", beam)
    max_len = _check_positive("max_len", max_len)
    alpha = length_penalty
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or alpha < 0:
        raise ConfigError(f"beam_search length_penalty: expected a number >= 0 (GNMT's alpha), found {alpha!r}")
    alpha = float(alpha)
    with _inference(model):
        enc = model.encode(src, src_lengths)
        N, S = src.shape
        lengths = as_lengths(src_lengths, N, S, owner="beam_search").tolist()
        state = model.init_decoder(enc)
        device = enc.memory.device
        state = model.reorder(state, torch.arange(N, device=device).repeat_interleave(B))
        active = list(range(N))  # sentence of each block of B rows
        scores = torch.full((N, B), float("-inf"), dtype=torch.float64, device=device)
        scores[:, 0] = 0.0  # one live hypothesis (the empty one) per sentence to start
        history = torch.zeros(N * B, 0, dtype=torch.long, device=device)
        attn_history = enc.memory.new_zeros(N * B, 0, S) if return_attention else None
        prev = torch.full((N * B,), model.bos_id, dtype=torch.long, device=device)
        # per sentence: (normalised score, tokens, attention or None)
        finished: list[list[tuple[float, list[int], Tensor | None]]] = [[] for _ in range(N)]

        for t in range(1, max_len + 1):
            A = len(active)
            log_probs, state, attn = model.step(state, prev)
            log_probs = _forbid_specials(log_probs, model).double()
            V = log_probs.size(-1)
            candidates = (scores.view(A * B, 1) + log_probs).view(A, B * V)
            k = min(2 * B, B * V)
            top_scores, top_index = candidates.topk(k, dim=1)  # sorted, best first
            top_beam, top_token = top_index // V, top_index % V
            rank = torch.arange(k, device=device).unsqueeze(0)
            last = t == max_len
            ends = torch.ones_like(top_token, dtype=torch.bool) if last else top_token == model.eos_id

            # finish: ends, among the first B extensions, with a finite score
            to_finish = ends & (rank < B) & torch.isfinite(top_scores)
            if bool(to_finish.any()):
                for a, r in to_finish.nonzero().tolist():
                    sentence = active[a]
                    row = a * B + int(top_beam[a, r])
                    token = int(top_token[a, r])
                    tokens = history[row].tolist() + ([] if token == model.eos_id else [token])
                    weights = None
                    if return_attention:
                        weights = torch.cat([attn_history[row], attn[row].unsqueeze(0)])[:, : lengths[sentence]].cpu()
                    finished[sentence].append((float(top_scores[a, r]) / gnmt_length_penalty(t, alpha), tokens, weights))
            if last:
                break

            # continue: the first B extensions that do not end (there are at least B: at most B end in eos)
            order = (ends.long() * k + rank).argsort(dim=1)[:, :B]
            next_beam = top_beam.gather(1, order)
            next_token = top_token.gather(1, order)
            next_scores = top_scores.gather(1, order)
            best_live = (next_scores[:, 0] / gnmt_length_penalty(t, alpha)).tolist()
            keep = [a for a in range(A) if not _done(finished[active[a]], best_live[a], B)]
            if not keep:
                break
            keep_t = torch.tensor(keep, dtype=torch.long, device=device)
            rows = (keep_t.unsqueeze(1) * B + next_beam.index_select(0, keep_t)).reshape(-1)
            state = model.reorder(state, rows)
            next_token = next_token.index_select(0, keep_t).reshape(-1)
            history = torch.cat([history.index_select(0, rows), next_token.unsqueeze(1)], dim=1)
            if return_attention:
                attn_history = torch.cat([attn_history.index_select(0, rows), attn.index_select(0, rows).unsqueeze(1)], dim=1)
            scores = next_scores.index_select(0, keep_t)
            prev = next_token
            active = [active[a] for a in keep]

    best_tokens, best_scores, best_attention, nbest = [], [], [], []
    for hyps in finished:
        ranked = sorted(hyps, key=lambda h: -h[0])  # stable: equal scores keep their finishing order
        best_tokens.append(ranked[0][1])
        best_scores.append(ranked[0][0])
        best_attention.append(ranked[0][2])
        nbest.append([(h[1], h[0]) for h in ranked])
    return Decoded(best_tokens, best_scores, best_attention if return_attention else None, nbest)


__all__ = ["greedy_decode", "beam_search", "Decoded", "gnmt_length_penalty"]
