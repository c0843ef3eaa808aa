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


def _cutoffs(vocab_size: int) -> list[int]:
    cuts = [c for c in (2000, 10000) if c < vocab_size - 1]
    return cuts or [max(1, vocab_size // 2)]


class _PretrainNet(nn.Module):
    """What the engine trains: the classifier's embedding matrix and recurrent modules (shared, not
    copied: their weights are updated in place) and the throw-away adaptive-softmax decoders."""

    def __init__(self, embeddings: torch.Tensor, rnns: Sequence[nn.Module], decoders: nn.ModuleList,
                 dropout: float) -> None:
        super().__init__()
        self.embeddings = embeddings
        self.rnns = nn.ModuleList(rnns)
        self.decoders = decoders
        self.drop = nn.Dropout(dropout)


def _resolve_clip(clip_norm: Any, clip: Any) -> float | None:
    if clip is not _UNSET:
        if clip_norm is not _UNSET:
            raise ConfigError("pretrain_encoder: clip_norm given twice (as clip_norm and its old name clip)")
        clip_norm = clip
    if clip_norm is _UNSET:
        clip_norm = 1.0
    if clip_norm is None or (not isinstance(clip_norm, bool) and isinstance(clip_norm, (int, float)) and clip_norm == 0):
        return None  # 0 or None: no clipping (as ``clip=0`` always meant)
    if isinstance(clip_norm, bool) or not isinstance(clip_norm, (int, float)) or not (clip_norm > 0 and math.isfinite(clip_norm)):
        raise ConfigError(f"pretrain clip_norm: expected a positive number, 0 or None, found {clip_norm!r}")
    return float(clip_norm)


_UNSET: Any = object()


def pretrain_encoder(
    embeddings: torch.Tensor,
    rnns: Sequence[tuple[nn.Module, bool]],
    documents: Sequence[Sequence[int]],
    *,
    epochs: int,
    batch_size: int = 32,
    bptt: int = 64,
    learning_rate: float = 2e-3,
    clip_norm: float | None = _UNSET,
    dropout: float = 0.2,
    seed: int = 0,
    precision: str = "fp32",
    echo: Callable[[str], None] | None = None,
    clip: float | None = _UNSET,
) -> list[float]:
    """Train ``embeddings`` ``(V, D)`` and each batch-first recurrent module of ``rnns`` as a language model.

    ``rnns`` is a list of ``(module, reverse)``: the module maps ``(N, L, D)`` and a state to
    ``((N, L, H), state)`` (``lstmkit.nn.LSTM`` / ``GRU`` / ``SimpleRNN`` with ``batch_first=True``);
    ``reverse=True`` trains it on the reversed stream. ``documents`` are token-id lists (the
    vectorizer's ids; 0 is padding and skipped). Returns the mean training loss per epoch, in nats
    per token, summed over the directions' models divided by their number. Weights are updated in place.

    The loop is the training engine's (:class:`lstmkit.train.Trainer`): Adam at ``learning_rate``
    with a cosine decay to 0 over all steps, gradients clipped to global norm ``clip_norm`` (default
    1.0; 0 or None: off; ``clip`` is its old name), each window of ``bptt`` steps one optimizer step
    with the states carried (detached) to the next window and reset at each epoch's start.
    ``precision``: ``fp32``, ``bf16`` or ``auto``. Under ``torchrun`` each process takes its share
    of the stream's rows and the gradients are all-reduced; ``echo`` is called in rank 0 only.
    """
    from lstmkit.train import Cosine, FunctionBatches, StepOutput, Trainer, shard

    check_int("pretrain epochs", epochs, 1)
    check_int("pretrain batch_size", batch_size, 1)
    check_int("pretrain bptt", bptt, 2)
    clip_norm = _resolve_clip(clip_norm, clip)
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
    modules = [rnn for rnn, _ in rnns]
    net = _PretrainNet(embeddings, modules, decoders.to(embeddings.device), dropout)
    params = [embeddings, *[p for rnn in modules for p in rnn.parameters()], *decoders.parameters()]
    opt = torch.optim.Adam(params, lr=learning_rate)
    rows = [stream_rows(stream.flip(0) if reverse else stream, batch_size).to(embeddings.device) for _, reverse in rnns]
    width = rows[0].shape[1]
    starts = list(range(0, width - 1, bptt))

    def batch(epoch: int, index: int, rank: int, world: int) -> Any:
        start = starts[index]
        end = min(start + bptt, width - 1)
        return shard(tuple((data[:, start:end], data[:, start + 1: end + 1]) for data in rows), rank, world)

    def step(model: _PretrainNet, windows: Any, carry: Any) -> StepOutput:
        states = list(carry) if carry is not None else [None] * len(windows)
        loss = 0.0
        for k, ((x, y), rnn, dec) in enumerate(zip(windows, model.rnns, model.decoders)):
            out, states[k] = rnn(model.drop(nn.functional.embedding(x, model.embeddings)), states[k])
            # the state carried to the next window is float32 whatever autocast computed it in
            states[k] = tuple(t.float() for t in states[k]) if isinstance(states[k], tuple) else states[k].float()
            out = model.drop(out)
            if out.dtype != torch.float32:
                out = out.float()
            # the adaptive softmax stays in float32 even under bf16 autocast (its index_copy_ needs one dtype)
            with torch.autocast(device_type=out.device.type, enabled=False):
                loss = loss + dec(out.reshape(-1, out.shape[-1]), y.reshape(-1)).loss
        return StepOutput(loss / len(windows), windows[0][0].numel(), states)

    t0 = time.perf_counter()

    def on_epoch_end(state: Any, logs: dict[str, float]) -> None:
        if echo is not None and state.rank == 0:
            loss = logs["loss"]
            echo(f"pre-training epoch {state.epoch + 1}/{epochs}: {loss:.3f} nats/token "
                 f"(perplexity {math.exp(loss):.0f}), {time.perf_counter() - t0:.0f} s")

    was_training = [m.training for m in modules]
    try:
        result = Trainer(net, opt, step, FunctionBatches(batch, len(starts)), epochs=epochs,
                         schedule=Cosine(warmup_steps=0, floor=0.0, over="steps"), clip_norm=clip_norm,
                         precision=precision, on_epoch_end=on_epoch_end, handle_sigint=False).fit()
    finally:
        for m, flag in zip(modules, was_training):
            m.train(flag)
    return [float(h["loss"]) for h in result.history]


__all__ = ["pretrain_encoder", "token_stream", "stream_rows"]
