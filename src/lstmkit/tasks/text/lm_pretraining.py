"""Language-model pre-training of a text classifier's embedding and recurrent layer (Dai & Le, 2015).

Before a classifier learns from a few labelled texts, its ``Embedding`` and recurrent layer can
learn the language of the same texts by predicting each next token. For each direction ``d`` of
the recurrent layer (forward, and backward for a bidirectional one, which reads the reversed
stream) the training texts' token ids are concatenated into one stream ``w_1 .. w_T`` and the
model minimises

    loss_d = - 1/T * sum_t log p(w_{t+1} | w_1 .. w_t),   p = softmax(W_d h_t + b_d)

where ``h_t = LSTM_d(E[w_t], (h_{t-1}, c_{t-1}))`` uses the classifier's own embedding matrix ``E``
``(V, D)`` and recurrent cell. ``W_d`` is a throw-away decoder: an adaptive softmax (Grave et al.
2017) whose frequent-word head is cheap, since the vectorizer numbers words by frequency. The
stream is cut into ``batch_size`` rows read in windows of ``bptt`` steps with the state carried
across windows and detached (truncated backpropagation through time). After pre-training the
decoders are dropped and the classifier is fine-tuned as usual, starting from the learned weights.

Only the training texts are read (never validation or test texts): no information leaks from the
held-out splits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from lstmkit.errors import ConfigError, DataError
from lstmkit.util.checks import check_int

PAD_ID = 0


def token_stream(documents: Sequence[Sequence[int]]) -> torch.Tensor:
    """All documents' ids, padding removed, concatenated in order: ``(T,)`` int64."""
    ids = [i for doc in documents for i in doc if i != PAD_ID]
    return torch.tensor(ids, dtype=torch.long)


def stream_rows(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a ``(T,)`` stream into ``batch_size`` contiguous rows: ``(batch_size, T // batch_size)``."""
    width = stream.numel() // batch_size
    return stream[: width * batch_size].view(batch_size, width)


def _detach(state: Any) -> Any:
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def _cutoffs(vocab_size: int) -> list[int]:
    cuts = [c for c in (2000, 10000) if c < vocab_size - 1]
    return cuts or [max(1, vocab_size // 2)]


def pretrain_encoder(
    embeddings: torch.Tensor,
    rnns: Sequence[tuple[nn.Module, bool]],
    documents: Sequence[Sequence[int]],
    *,
    epochs: int,
    batch_size: int = 32,
    bptt: int = 64,
    learning_rate: float = 2e-3,
    clip: float = 1.0,
    dropout: float = 0.2,
    seed: int = 0,
    echo: Callable[[str], None] | None = None,
) -> list[float]:
    """Train ``embeddings`` ``(V, D)`` and each batch-first recurrent module of ``rnns`` as a language model.

    ``rnns`` is a list of ``(module, reverse)``: the module maps ``(N, L, D)`` and a state to
    ``((N, L, H), state)`` (``lstmkit.nn.LSTM`` / ``GRU`` / ``SimpleRNN`` with ``batch_first=True``);
    ``reverse=True`` trains it on the reversed stream. ``documents`` are token-id lists (the
    vectorizer's ids; 0 is padding and skipped). Returns the mean training loss per epoch, in nats
    per token, summed over the directions' models divided by their number. Weights are updated in place.
    """
    check_int("pretrain epochs", epochs, 1)
    check_int("pretrain batch_size", batch_size, 1)
    check_int("pretrain bptt", bptt, 2)
    if not rnns:
        raise ConfigError("pretrain_encoder: no recurrent layer to pre-train")
    stream = token_stream(documents)
    if stream.numel() < batch_size * (bptt + 1):
        raise DataError(
            f"language-model pre-training: the training texts hold {stream.numel()} tokens; "
            f"at least batch_size*(bptt+1) = {batch_size * (bptt + 1)} are needed"
        )
    vocab_size = embeddings.shape[0]
    torch.manual_seed(seed)  # decoder initialisation and dropout masks
    decoders = nn.ModuleList(
        nn.AdaptiveLogSoftmaxWithLoss(rnn.hidden_size, vocab_size, cutoffs=_cutoffs(vocab_size), div_value=4.0)
        for rnn, _ in rnns
    )
    params = [embeddings, *[p for rnn, _ in rnns for p in rnn.parameters()], *decoders.parameters()]
    opt = torch.optim.Adam(params, lr=learning_rate)
    rows = [stream_rows(stream.flip(0) if reverse else stream, batch_size) for _, reverse in rnns]
    width = rows[0].shape[1]
    n_windows = math.ceil((width - 1) / bptt)
    total_steps = epochs * n_windows
    drop = nn.Dropout(dropout)
    modules = [rnn for rnn, _ in rnns]
    was_training = [m.training for m in modules]
    for m in modules:
        m.train()
    decoders.train()
    losses: list[float] = []
    step = 0
    t0 = time.perf_counter()
    try:
        for epoch in range(epochs):
            states: list[Any] = [None] * len(rnns)
            epoch_loss, epoch_tokens = 0.0, 0
            for start in range(0, width - 1, bptt):
                # Cosine decay of the learning rate over all pre-training steps.
                for group in opt.param_groups:
                    group["lr"] = learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
                opt.zero_grad(set_to_none=True)
                loss = 0.0
                for k, ((rnn, _), data, dec) in enumerate(zip(rnns, rows, decoders)):
                    end = min(start + bptt, width - 1)
                    x = data[:, start:end]
                    y = data[:, start + 1 : end + 1]
                    out, states[k] = rnn(drop(nn.functional.embedding(x, embeddings)), states[k])
                    states[k] = _detach(states[k])
                    loss = loss + dec(drop(out).reshape(-1, out.shape[-1]), y.reshape(-1)).loss
                loss = loss / len(rnns)
                loss.backward()
                if clip:
                    nn.utils.clip_grad_norm_(params, clip)
                opt.step()
                step += 1
                n = (min(start + bptt, width - 1) - start) * batch_size
                epoch_loss += loss.item() * n
                epoch_tokens += n
            losses.append(epoch_loss / epoch_tokens)
            if echo is not None:
                echo(f"pre-training epoch {epoch + 1}/{epochs}: {losses[-1]:.3f} nats/token "
                     f"(perplexity {math.exp(losses[-1]):.0f}), {time.perf_counter() - t0:.0f} s")
    finally:
        for m, flag in zip(modules, was_training):
            m.train(flag)
    return losses


__all__ = ["pretrain_encoder", "token_stream", "stream_rows"]
